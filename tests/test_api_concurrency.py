"""The dashboard prefetches: concurrent identical requests cut once, the rest reuse it."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.api_fixtures import CBR_GUID, VBR_GUID

# One seeded catalogue for every sidecar test module (imported fixtures would be one per module).
pytest_plugins = ["tests.api_fixtures"]


def _fire(api, bodies: list[dict]) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=len(bodies), max_keepalive_connections=len(bodies))
    with api.client(limits=limits) as client, ThreadPoolExecutor(len(bodies)) as pool:
        return list(pool.map(lambda b: client.post("/api/generate-audio-clip", json=b), bodies))


@pytest.mark.slow
def test_100_identical_requests_cut_once(api):
    responses = _fire(api, [{"episode_id": CBR_GUID, "chunk_index": 3}] * 100)
    assert Counter(r.status_code for r in responses) == {200: 100}
    assert sum(not r.json()["cached"] for r in responses) == 1
    assert len({r.json()["s3_url"] for r in responses}) == 1
    assert api.db["clip_leases"].count_documents({}) == 0


@pytest.mark.slow
def test_100_requests_over_20_clips_cut_each_once(api, api_catalogue):
    clips = [{"episode_id": guid, "chunk_index": chunk["chunk_index"], "duration": duration}
             for guid in (CBR_GUID, VBR_GUID) for chunk in api_catalogue.chunks[guid]
             for duration in (15, 30, 60)][:20]
    assert len(clips) == 20
    responses = _fire(api, [clips[i % 20] for i in range(100)])
    assert Counter(r.status_code for r in responses) == {200: 100}
    cuts = Counter(r.json()["partition_key"] for r in responses if not r.json()["cached"])
    assert len(cuts) == 20 and set(cuts.values()) == {1}
    assert api.db["audio_clips"].count_documents({}) == 20
