"""Body size and malformed-JSON limits through the Lambda handler (API Gateway v1 and v2)."""

from __future__ import annotations

import base64
import json

from podclips_dagster.sidecar.body_limit import MAX_BODY_BYTES
from tests.api_fixtures import CBR_GUID
from tests.lambda_fixtures import LambdaContext, http_v2_event, rest_v1_event

# One seeded catalogue for every sidecar test module (imported fixtures would be one per module).
pytest_plugins = ["tests.api_fixtures", "tests.lambda_fixtures"]

GENERATE = {"episode_id": CBR_GUID, "chunk_index": 0}


def test_lambda_events_over_a_megabyte_are_413_before_parsing(lambda_world):
    handler, key, db = lambda_world
    big = {"items": [{"episode_id": "x" * 1000, "chunk_index": 0}] * 1100}  # about 1.1 MB
    v1 = rest_v1_event("POST", "/api/audio-clips/lookup", "203.0.113.7", {"X-API-Key": key}, big)
    v2 = http_v2_event("POST", "/api/audio-clips/lookup", "203.0.113.8", {}, big)  # no key
    v2["body"] = base64.b64encode(v2["body"].encode()).decode()
    v2["isBase64Encoded"] = True
    declared = rest_v1_event("POST", "/api/generate-audio-clip", "203.0.113.9",
                             {"X-API-Key": key, "Content-Length": str(5 * MAX_BODY_BYTES)}, {})
    for event in (v1, v2, declared):
        answer = handler(event, LambdaContext())
        assert answer["statusCode"] == 413, answer
        assert json.loads(answer["body"])["error"]["code"] == "payload_too_large"
    assert db["api_requests"].count_documents({}) == 0  # the app never saw them


def test_lambda_malformed_json_counts_against_the_source_ip(lambda_world):
    handler, key, _ = lambda_world  # 2 requests per minute per IP here
    headers = {"X-API-Key": key, "Content-Type": "application/json"}
    bad = rest_v1_event("POST", "/api/generate-audio-clip", "203.0.113.10", headers)
    bad["body"] = '{"episode_id": '
    good = rest_v1_event("POST", "/api/generate-audio-clip", "203.0.113.10", headers, GENERATE)
    codes = [handler(e, LambdaContext())["statusCode"] for e in (bad, bad, good)]
    assert codes == [400, 400, 429]
