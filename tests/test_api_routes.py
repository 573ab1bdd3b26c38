"""Every sidecar route over real HTTP, against SecantusDB, moto's S3 and FFmpeg."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.api_fixtures import CBR_GUID, VBR_GUID

# One seeded catalogue for every sidecar test module (imported fixtures would be one per module).
pytest_plugins = ["tests.api_fixtures"]


def _generate(client, episode_id=CBR_GUID, chunk_index=1, **extra):
    return client.post("/api/generate-audio-clip",
                       json={"episode_id": episode_id, "chunk_index": chunk_index, **extra})


def test_generate_cuts_then_hits(api, api_catalogue):
    with api.client() as client:
        first = _generate(client)
        assert first.status_code == 200, first.text
        body = first.json()
        assert body["cached"] is False and body["episode_id"] == CBR_GUID
        assert body["chunk_index"] == 1 and body["duration_seconds"] == 30
        assert abs(body["duration"] - 30) < 0.05
        chunk = api_catalogue.chunks[CBR_GUID][1]
        assert abs(body["start_time"] - chunk["start_time"]) < 0.03
        assert 0 < body["bytes_read"] < 700_000
        assert body["partition_key"] == f"{CBR_GUID}/1"
        second = _generate(client)
        assert second.status_code == 200 and second.json()["cached"] is True
        assert second.json()["bytes_read"] == 0
    audio = httpx.get(body["audio_url"])
    assert audio.status_code == 200 and len(audio.content) == body["file_size_bytes"]
    assert audio.content[:3] == b"ID3" or audio.content[0] == 0xFF


def test_generate_special_id_and_duration(api):
    with api.client() as client:
        response = _generate(client, VBR_GUID, 0, duration=15)
    assert response.status_code == 200, response.text
    assert response.json()["duration_seconds"] == 15
    assert abs(response.json()["duration"] - 15) < 0.05
    assert response.json()["partition_key"] == f"{VBR_GUID}/0/15s"


def test_dashboard_route_cuts_the_chunk_at_its_start(api, api_catalogue):
    chunk = api_catalogue.chunks[CBR_GUID][2]
    start_ms = round(chunk["start_time"] * 1000)
    with api.client() as client:
        first = client.get(f"/api/v1/audio_clips/{CBR_GUID}", params={"start_time_ms": start_ms})
        again = client.get(f"/api/v1/audio_clips/{CBR_GUID}",
                           params={"start_time_ms": start_ms, "duration_ms": 30000})
    assert first.status_code == 200, first.text
    body = first.json()
    assert set(body) >= {"clip_url", "expires_at", "cache_hit", "episode_id", "start_time_ms",
                         "duration_ms", "generation_time_ms"}
    assert body["cache_hit"] is False and again.json()["cache_hit"] is True
    assert body["chunk_index"] == 2 and abs(body["start_time_ms"] - start_ms) <= 1
    assert abs(body["duration_ms"] - 30000) <= 50
    assert body["expires_at"].endswith("Z")
    assert httpx.get(body["clip_url"]).status_code == 200


def test_dashboard_time_inside_a_chunk_gets_that_chunks_clip(api, api_catalogue):
    chunk = api_catalogue.chunks[CBR_GUID][1]
    inside_ms = round((chunk["start_time"] + 7.25) * 1000)
    with api.client() as client:
        response = client.get(f"/api/v1/audio_clips/{CBR_GUID}",
                              params={"start_time_ms": inside_ms, "duration_ms": 15000})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["chunk_index"] == 1
    assert body["start_time_ms"] == round(chunk["start_time"] * 1000)
    assert body["episode_id"] == CBR_GUID and abs(body["duration_ms"] - 15000) <= 50


def test_dashboard_accepts_the_object_id(api, api_catalogue):
    object_id = api_catalogue.object_ids[VBR_GUID]
    with api.client() as client:
        response = client.get(f"/api/v1/audio_clips/{object_id}", params={"start_time_ms": 0})
    assert response.status_code == 200, response.text
    assert response.json()["episode_id"] == object_id
    assert response.json()["partition_key"] == f"{VBR_GUID}/0"


@pytest.mark.parametrize("params, status, code", [
    ({"start_time_ms": 0, "duration_ms": 20000}, 422, "invalid_duration"),
    ({"start_time_ms": -5}, 422, "invalid_request"),
    ({"start_time_ms": "soon"}, 422, "invalid_request"),
    ({}, 422, "invalid_request"),
    ({"start_time_ms": 10_000_000}, 404, "chunk_out_of_range"),
])
def test_dashboard_rejects_bad_parameters(api, params, status, code):
    with api.client() as client:
        response = client.get(f"/api/v1/audio_clips/{CBR_GUID}", params=params)
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code


def test_unknown_episode_and_chunk_are_404(api):
    with api.client() as client:
        unknown = _generate(client, "no-such-episode", 0)
        beyond = _generate(client, CBR_GUID, 999)
        dashboard = client.get("/api/v1/audio_clips/nope", params={"start_time_ms": 0})
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "episode_not_found"
    assert beyond.status_code == 404 and beyond.json()["error"]["code"] == "chunk_out_of_range"
    assert "999" in beyond.json()["error"]["message"]
    assert dashboard.status_code == 404


@pytest.mark.parametrize("body, status", [
    ('{"episode_id": "x", "chunk_index": ', 400),
    ('{"chunk_index": 1}', 422),
    ('{"episode_id": "x", "chunk_index": -1}', 422),
    ('{"episode_id": "x", "chunk_index": "one"}', 422),
    ('{"episode_id": "x", "chunk_index": 1, "duration": 45}', 422),
    ('{"episode_id": "", "chunk_index": 1}', 422),
    ('{"episode_id": "bad\\u0000id", "chunk_index": 1}', 422),
    ('[]', 422),
])
def test_malformed_bodies(api, body, status):
    with api.client() as client:
        response = client.post("/api/generate-audio-clip", content=body,
                               headers={"Content-Type": "application/json"})
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] and error["message"] and "Traceback" not in response.text


def test_unknown_route_and_wrong_method_are_json(api):
    with api.client() as client:
        missing = client.get("/api/nothing-here")
        wrong = client.get("/api/generate-audio-clip")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    assert wrong.status_code == 405 and wrong.json()["error"]["code"] == "method_not_allowed"


def test_lookup_reports_existing_clips_and_records_impressions(api):
    with api.client() as client:
        assert _generate(client, CBR_GUID, 0).status_code == 200
        clips_before = api.db["audio_clips"].count_documents({})
        items = [{"episode_id": CBR_GUID, "chunk_index": 0},
                 {"episode_id": CBR_GUID, "chunk_index": 3},
                 {"episode_id": VBR_GUID, "chunk_index": 1, "duration": 60}]
        response = client.post("/api/audio-clips/lookup", json={"items": items})
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [r["chunk_index"] for r in results] == [0, 3, 1]
    assert results[0]["audio_clip"]["available"] is True
    assert results[0]["audio_clip"]["url"] and abs(results[0]["audio_clip"]["duration"] - 30) < 0.05
    assert results[1]["audio_clip"] == {"available": False, "url": None, "duration": None}
    assert api.db["audio_clips"].count_documents({}) == clips_before  # never generates
    impressions = _events(api, "impression", 3)
    assert [(e["rank"], e["source"], e["chunk_index"]) for e in impressions] == [
        (1, "lookup", 0), (2, "lookup", 3), (3, "lookup", 1)]
    assert impressions[2]["duration_seconds"] == 60
    plays = _events(api, "play", 1)  # the generate request above
    assert (plays[0]["source"], plays[0]["episode_id"], plays[0]["chunk_index"]) == (
        "sidecar", CBR_GUID, 0)


def test_lookup_precuts_its_top_results_within_a_second_or_two(make_api):
    """PRECUT_MODE=direct (a server): the sidecar cuts what it showed right after answering."""
    api = make_api(PRECUT_MODE="direct")
    items = [{"episode_id": CBR_GUID, "chunk_index": 3}, {"episode_id": CBR_GUID, "chunk_index": 4}]
    with api.client() as client:
        shown = time.monotonic()
        response = client.post("/api/audio-clips/lookup", json={"items": items})
        assert response.status_code == 200
        assert not any(r["audio_clip"]["available"] for r in response.json()["results"])
        deadline = shown + 20
        while api.db["audio_clips"].count_documents({}) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        ready_after = time.monotonic() - shown
        again = client.post("/api/audio-clips/lookup", json={"items": items}).json()["results"]
    assert all(r["audio_clip"]["available"] for r in again), f"not cut {ready_after:.1f} s on"
    records = list(api.db["audio_clips"].find({}, {"chunk_index": 1, "requested_by": 1}))
    assert sorted((r["chunk_index"], r["requested_by"]) for r in records) == [
        (3, "precut"), (4, "precut")]
    requests = list(api.db["clip_requests"].find({}, {"status": 1, "source": 1, "run_key": 1}))
    assert [(r["status"], r["source"]) for r in requests] == [("done", "precut")] * 2
    assert all(r["run_key"].startswith("sidecar-precut:") for r in requests)


def _events(api, kind: str, count: int) -> list[dict]:
    """Demand events are written just after the answer: wait for them."""
    deadline = time.monotonic() + 10
    while True:
        events = list(api.db["clip_demand_events"].find({"type": kind}, {"_id": 0}).sort("rank", 1))
        if len(events) >= count or time.monotonic() > deadline:
            assert len(events) == count
            return events
        time.sleep(0.02)


def test_lookup_limits_batch_size(api):
    items = [{"episode_id": CBR_GUID, "chunk_index": i} for i in range(101)]
    with api.client() as client:
        too_many = client.post("/api/audio-clips/lookup", json={"items": items})
        hundred = client.post("/api/audio-clips/lookup", json={"items": items[:100]})
    assert too_many.status_code == 422
    assert hundred.status_code == 200 and len(hundred.json()["results"]) == 100


def test_health_and_openapi(api):
    with httpx.Client(base_url=api.url) as client:
        health = client.get("/health")
        schema = client.get("/openapi.json").json()
    assert health.status_code == 200, health.text
    assert health.json()["status"] == "ok"
    assert set(health.json()["checks"]) == {"mongodb", "storage", "ffmpeg"}
    assert {"/api/generate-audio-clip", "/api/v1/audio_clips/{episode_id}",
            "/api/audio-clips/lookup", "/health"} <= set(schema["paths"])
    assert schema["components"]["securitySchemes"]["APIKeyHeader"]["name"] == "X-API-Key"


def test_missing_object_is_a_miss_that_heals(api):
    with api.client() as client:
        first = _generate(client, CBR_GUID, 2).json()
        key = f"audio_clips/{CBR_GUID}/2.mp3"
        api.service.clips_bucket.delete(key)
        healed = _generate(client, CBR_GUID, 2)
        assert healed.status_code == 200 and healed.json()["cached"] is False
        assert api.service.clips_bucket.head(key) is not None
        # The healed record vouches for the object: the next request is a hit again.
        assert _generate(client, CBR_GUID, 2).json()["cached"] is True
    assert api.db["audio_clips"].count_documents({"chunk_index": 2}) == 1
    assert healed.json()["generated_at"] >= first["generated_at"]


@pytest.mark.slow
def test_a_cut_past_the_budget_becomes_a_request(make_api):
    api = make_api(budget_seconds=0.05)
    with api.client() as client:
        response = _generate(client, VBR_GUID, 2)
        assert response.status_code == 202, response.text
        assert int(response.headers["Retry-After"]) > 0
        body = response.json()
        request = api.db["clip_requests"].find_one()
        assert str(request["_id"]) == body["request_id"]
        assert request["source"] == "sidecar" and request["partition_key"] == f"{VBR_GUID}/2"
        # The abandoned cut still finishes in the background; then the clip is a hit.
        deadline = time.monotonic() + 30
        while api.db["audio_clips"].count_documents({"chunk_index": 2}) == 0:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        while api.db["clip_leases"].count_documents({}):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        hit = _generate(client, VBR_GUID, 2)
    assert hit.status_code == 200 and hit.json()["cached"] is True


def test_browsers_may_call_the_clip_routes(api):
    """The dashboard runs in browsers: preflights pass without a key, answers carry CORS."""
    with httpx.Client(base_url=api.url) as client:
        preflight = client.options("/api/generate-audio-clip", headers={
            "Origin": "https://dashboard.example", "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,x-api-key"})
    assert preflight.status_code == 200
    assert "x-api-key" in preflight.headers["access-control-allow-headers"].lower()
    with api.client() as client:
        answer = _generate(client, CBR_GUID, 0)
        dashboard = client.get(f"/api/v1/audio_clips/{CBR_GUID}", params={"start_time_ms": 0},
                               headers={"Origin": "https://dashboard.example"})
    assert answer.status_code == 200 and dashboard.status_code == 200
    assert dashboard.headers["access-control-allow-origin"] == "*"
    assert "x-ratelimit-remaining" in dashboard.headers["access-control-expose-headers"].lower()
