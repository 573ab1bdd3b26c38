"""The Lambda entry point with the events API Gateway really sends (REST v1, HTTP v2)."""

from __future__ import annotations

import json

from tests.api_fixtures import CBR_GUID
from tests.lambda_fixtures import LambdaContext, http_v2_event, rest_v1_event

# One seeded catalogue for every sidecar test module (imported fixtures would be one per module).
pytest_plugins = ["tests.api_fixtures", "tests.lambda_fixtures"]


def test_a_lookup_hands_its_precuts_to_an_async_invocation_that_cuts_them(lambda_world, caplog):
    handler, key, db = lambda_world
    items = [{"episode_id": CBR_GUID, "chunk_index": 2}, {"episode_id": CBR_GUID, "chunk_index": 3}]
    answer = handler(http_v2_event("POST", "/api/audio-clips/lookup", "198.51.100.30",
                                   {"X-API-Key": key, "Content-Type": "application/json"},
                                   {"items": items}), LambdaContext())
    assert answer["statusCode"] == 200
    # The answer did not wait for the cuts: they are claimed, for the invocation to make.
    claimed = list(db["clip_requests"].find({"source": "precut"}))
    assert sorted(r["chunk_index"] for r in claimed) == [2, 3]
    assert {r["status"] for r in claimed} == {"queued"}
    assert all(r["run_key"].startswith("sidecar-precut:") for r in claimed)
    assert db["audio_clips"].count_documents({}) == 0
    assert "could not hand" not in caplog.text  # moto's Lambda API took the invocation

    # What that invocation runs: the same handler, given the request ids.
    counts = handler({"podclips_precut": [str(r["_id"]) for r in claimed]}, LambdaContext())
    assert counts == {"cut": 2, "failed": 0}
    assert {r["status"] for r in db["clip_requests"].find({"source": "precut"})} == {"done"}
    assert db["audio_clips"].count_documents({"requested_by": "precut"}) == 2


def test_rest_v1_event_generates_a_clip_and_limits_by_source_ip(lambda_world):
    handler, key, _ = lambda_world
    body = {"episode_id": CBR_GUID, "chunk_index": 0}
    answers = [handler(rest_v1_event("POST", "/api/generate-audio-clip", "203.0.113.7",
                                     {"X-API-Key": key, "Content-Type": "application/json"},
                                     body), LambdaContext()) for _ in range(3)]
    assert [a["statusCode"] for a in answers] == [200, 200, 429]
    first = json.loads(answers[0]["body"])
    assert first["cached"] is False and json.loads(answers[1]["body"])["cached"] is True
    headers = {k.lower(): v for k, v in answers[2]["headers"].items()}
    assert int(headers["retry-after"]) >= 1 and headers["x-ratelimit-remaining"] == "0"
    # Another client (by API Gateway's sourceIp, not X-Forwarded-For) has its own budget.
    other = handler(rest_v1_event("POST", "/api/generate-audio-clip", "203.0.113.99",
                                  {"X-API-Key": key, "Content-Type": "application/json"}, body),
                    LambdaContext())
    assert other["statusCode"] == 200


def test_http_v2_event_serves_the_dashboard_route(lambda_world):
    handler, key, _ = lambda_world
    event = http_v2_event("GET", f"/api/v1/audio_clips/{CBR_GUID}", "198.51.100.4",
                          {"X-API-Key": key}, query="start_time_ms=0&duration_ms=15000")
    answer = handler(event, LambdaContext())
    assert answer["statusCode"] == 200, answer["body"]
    body = json.loads(answer["body"])
    assert body["cache_hit"] is False and body["chunk_index"] == 0
    assert abs(body["duration_ms"] - 15000) <= 50
    missing = handler(http_v2_event("GET", "/api/v1/audio_clips/nope", "198.51.100.5",
                                    {"X-API-Key": key}, query="start_time_ms=0"), LambdaContext())
    assert missing["statusCode"] == 404
    assert json.loads(missing["body"])["error"]["code"] == "episode_not_found"
    unauthorized = handler(http_v2_event("POST", "/api/audio-clips/lookup", "198.51.100.6", {},
                                         {"items": []}), LambdaContext())
    assert unauthorized["statusCode"] == 401


def test_little_time_left_in_the_invocation_answers_202(lambda_world):
    handler, key, db = lambda_world
    event = rest_v1_event("POST", "/api/generate-audio-clip", "203.0.113.50",
                          {"X-API-Key": key, "Content-Type": "application/json"},
                          {"episode_id": CBR_GUID, "chunk_index": 1, "duration": 60})
    answer = handler(event, LambdaContext(remaining_ms=2500))
    assert answer["statusCode"] == 202, answer["body"]
    request_id = json.loads(answer["body"])["request_id"]
    assert db["clip_requests"].find_one({"source": "sidecar"})["status"] in ("pending", "done")
    assert request_id


def test_health_through_both_event_shapes(lambda_world):
    handler, _, _ = lambda_world
    v1 = handler(rest_v1_event("GET", "/health", "203.0.113.8", {}), LambdaContext())
    v2 = handler(http_v2_event("GET", "/health", "203.0.113.8", {}), LambdaContext())
    assert v1["statusCode"] == 200 and v2["statusCode"] == 200
    assert json.loads(v2["body"])["status"] == "ok"
