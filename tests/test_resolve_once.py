"""A sidecar miss asks the catalogue once: the door resolves, the service and the request
store take the resolved clip (counted with pymongo's command monitoring)."""

from __future__ import annotations

import time

import pymongo
import pytest

from podclips_dagster.core.spec import ClipSpec
from podclips_dagster.core.stores.catalogue import Catalogue
from tests.api_fixtures import CBR_GUID
from tests.mongo_commands import CommandLog

# One seeded catalogue for every sidecar test module (imported fixtures would be one per module).
pytest_plugins = ["tests.api_fixtures"]


@pytest.fixture
def counted(api_catalogue):
    """(listener, swap) where swap(api) points the app's catalogue at a monitored client."""
    listener = CommandLog()
    client = pymongo.MongoClient(api_catalogue.mongo_uri, event_listeners=[listener],
                                 tz_aware=True)

    def swap(api) -> None:
        service = api.app.state.sidecar.service
        service.catalogue = Catalogue(client[api_catalogue.db_name],
                                      api.settings.episodes_collection,
                                      api.settings.chunks_collection)

    yield listener, swap
    client.close()


def _finds(listener: CommandLog, collection: str) -> list[dict]:
    return [e.command.get("filter", {}) for e in listener.commands
            if e.command_name == "find" and e.command.get("find") == collection]


def _wait_for_record(api, spec: ClipSpec, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while api.service.records.find(spec) is None:
        assert time.monotonic() < deadline, f"{spec.describe()} was never cut"
        time.sleep(0.1)


def test_a_miss_handed_to_dagster_reads_the_episode_and_chunk_once(make_api, counted):
    listener, swap = counted
    api = make_api(budget_seconds=0.05)  # the cut goes on in the background: a 202
    swap(api)
    with api.client() as client:
        response = client.post("/api/generate-audio-clip",
                               json={"episode_id": CBR_GUID, "chunk_index": 3})
    assert response.status_code == 202, response.text
    _wait_for_record(api, ClipSpec(CBR_GUID, 3))
    episodes = _finds(listener, api.settings.episodes_collection)
    chunks = [f for f in _finds(listener, api.settings.chunks_collection)
              if f.get("chunk_index") == 3]
    # Resolved at the door; the background cut and the clip request reuse it.
    assert episodes == [{"guid": CBR_GUID}]
    assert chunks == [{"episode_id": CBR_GUID, "chunk_index": 3}]


def test_the_dashboard_route_resolves_a_time_once(api, api_catalogue, counted):
    listener, swap = counted
    swap(api)
    start_ms = round(api_catalogue.chunks[CBR_GUID][4]["start_time"] * 1000)
    with api.client() as client:
        response = client.get(f"/api/v1/audio_clips/{CBR_GUID}",
                              params={"start_time_ms": start_ms})
    assert response.status_code == 200, response.text
    assert response.json()["chunk_index"] == 4 and response.json()["cache_hit"] is False
    assert len(_finds(listener, api.settings.episodes_collection)) == 1
    by_time = [f for f in _finds(listener, api.settings.chunks_collection) if "start_time" in f]
    by_index = [f for f in _finds(listener, api.settings.chunks_collection)
                if f.get("chunk_index") == 4]
    assert len(by_time) == 1 and by_index == []
