"""Dependencies down or broken: JSON 502/503 answers, never a traceback or a host name."""

from __future__ import annotations

import httpx
import pymongo
import pytest

from podclips_dagster.core.api_keys import ApiKeys
from podclips_dagster.devstack.mongo_server import free_port
from podclips_dagster.sidecar.app import create_app
from tests.api_fixtures import CBR_GUID, ServerThread, api_settings, clear_owned_collections

# One seeded catalogue for every sidecar test module (imported fixtures would be one per module).
pytest_plugins = ["tests.api_fixtures"]

GENERATE = {"episode_id": CBR_GUID, "chunk_index": 1}


def _assert_clean_error(response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    for leak in ("Traceback", "127.0.0.1", "Errno", "s3://"):
        assert leak not in response.text


@pytest.fixture
def serve(api_catalogue, tmp_path):
    with pymongo.MongoClient(api_catalogue.mongo_uri) as client:
        clear_owned_collections(client[api_catalogue.db_name])
    servers = []

    def start(**env) -> str:
        settings = api_settings(api_catalogue, "clips-unused", tmp_path / "home", **env)
        server = ServerThread(create_app(settings)).start()
        servers.append(server)
        return server.url

    yield start
    for server in servers:
        server.stop()


@pytest.mark.slow
def test_mongodb_down_is_503(serve):
    url = serve(MONGODB_URI=f"mongodb://127.0.0.1:{free_port()}/?directConnection=true")
    with httpx.Client(base_url=url, timeout=30, headers={"X-API-Key": "pk_any"}) as client:
        health = client.get("/health")
        generate = client.post("/api/generate-audio-clip", json=GENERATE)
    assert health.status_code == 503
    checks = health.json()["checks"]
    assert checks["mongodb"]["ok"] is False and checks["ffmpeg"]["ok"] is True
    _assert_clean_error(generate, 503, "dependency_unavailable")


@pytest.mark.slow
def test_object_storage_down_is_503(serve, api_catalogue):
    url = serve(S3_ENDPOINT_URL=f"http://127.0.0.1:{free_port()}")
    with pymongo.MongoClient(api_catalogue.mongo_uri) as client:
        key = ApiKeys(client[api_catalogue.db_name]["api_keys"]).create("s3-down-test")
    with httpx.Client(base_url=url, timeout=30, headers={"X-API-Key": key}) as client:
        health = client.get("/health")
        generate = client.post("/api/generate-audio-clip", json=GENERATE)
    assert health.status_code == 503 and health.json()["checks"]["storage"]["ok"] is False
    assert health.json()["checks"]["mongodb"]["ok"] is True
    _assert_clean_error(generate, 503, "dependency_unavailable")


def test_missing_source_audio_is_502(api):
    guid = "episode-without-audio"
    api.db["episode_metadata"].update_one(
        {"guid": guid}, {"$set": {"s3_audio_path": "s3://nowhere-bucket/feed/x.mp3",
                                  "feed_slug": "feed"}}, upsert=True)
    api.db["transcript_chunks_768d"].update_one(
        {"episode_id": guid, "chunk_index": 0},
        {"$set": {"start_time": 0.0, "end_time": 30.0, "text": "hello"}}, upsert=True)
    with api.client() as client:
        response = client.post("/api/generate-audio-clip",
                               json={"episode_id": guid, "chunk_index": 0})
    _assert_clean_error(response, 502, "source_missing")
    assert api.db["audio_clips"].count_documents({"episode_id": guid}) == 0
