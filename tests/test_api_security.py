"""API keys and rate limits, over HTTP, with the counters in MongoDB."""

from __future__ import annotations

import json
import time

import httpx

from podclips_dagster.cli import main
from podclips_dagster.core.api_keys import ApiKeys, hash_key
from tests.api_fixtures import CBR_GUID

# One seeded catalogue for every sidecar test module (imported fixtures would be one per module).
pytest_plugins = ["tests.api_fixtures"]

GENERATE = {"episode_id": CBR_GUID, "chunk_index": 0}


def _cli_output(capsys) -> dict:
    # The servers run in this process, so their EMF metric lines share stdout with the CLI.
    lines = [line for line in capsys.readouterr().out.splitlines() if '"_aws"' not in line]
    return json.loads(lines[-1])


def _post(client, **kwargs):
    return client.post("/api/generate-audio-clip", json=GENERATE, **kwargs)


def test_requests_without_a_valid_key_are_401(api):
    keys = ApiKeys(api.db["api_keys"])
    revoked = keys.create("leaver")
    keys.revoke("leaver")
    with api.client(key=None) as client:
        missing = _post(client)
        wrong = _post(client, headers={"X-API-Key": "pk_not-a-key"})
        revoked_answer = _post(client, headers={"X-API-Key": revoked})
        lookup = client.post("/api/audio-clips/lookup", json={"items": []})
        dashboard = client.get(f"/api/v1/audio_clips/{CBR_GUID}", params={"start_time_ms": 0})
    assert missing.status_code == 401 and missing.json()["error"]["code"] == "missing_api_key"
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "invalid_api_key"
    assert revoked_answer.status_code == 401
    assert lookup.status_code == 401 and dashboard.status_code == 401
    with httpx.Client(base_url=api.url) as client:
        assert client.get("/health").status_code == 200  # health needs no key


def test_keys_are_stored_hashed_and_never_logged(api, caplog, capfd):
    with api.client() as client:
        assert _post(client).status_code == 200
        _post(client, headers={"X-API-Key": "pk_wrong-key-value"})
    stored = list(api.db["api_keys"].find())
    assert len(stored) == 1 and stored[0]["_id"] == hash_key(api.key)
    assert api.key not in json.dumps(stored, default=str)
    deadline = time.monotonic() + 10  # each line is written just after its answer is sent
    while len(lines := [r for r in caplog.records if r.getMessage() == "request"]) < 2:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert {r.status for r in lines} == {200, 401}  # one structured line per request
    (served,) = [r for r in lines if r.status == 200]  # lines may land in either order
    assert served.cache == "miss" and served.key_name.startswith("tests-")
    logged = json.dumps([r.__dict__ for r in caplog.records], default=str)
    out, err = capfd.readouterr()
    for secret in (api.key, "pk_wrong-key-value"):
        assert secret not in logged and secret not in out + err


def test_the_eleventh_request_in_a_minute_from_one_ip_is_429(make_api):
    api = make_api(RATE_LIMIT_PER_IP_PER_MINUTE="10")
    with api.client() as client:
        answers = [_post(client) for _ in range(10)]
        refused = _post(client)
    assert [a.status_code for a in answers] == [200] * 10
    assert answers[0].headers["X-RateLimit-Limit"] == "10"
    assert [int(a.headers["X-RateLimit-Remaining"]) for a in answers] == list(range(9, -1, -1))
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert refused.headers["X-RateLimit-Remaining"] == "0"
    assert 1 <= int(refused.headers["X-RateLimit-Reset"]) <= 60


def test_limits_are_shared_by_every_instance(make_api):
    api = make_api(RATE_LIMIT_PER_IP_PER_MINUTE="10")
    second = api.another_server()
    with api.client() as one, httpx.Client(base_url=second, timeout=60,
                                           headers={"X-API-Key": api.key}) as two:
        statuses = [_post(one if i % 2 else two).status_code for i in range(10)]
        assert statuses == [200] * 10
        assert _post(one).status_code == 429
        assert _post(two).status_code == 429


def test_x_forwarded_for_does_not_escape_the_ip_limit(make_api):
    api = make_api(RATE_LIMIT_PER_IP_PER_MINUTE="3")
    with api.client() as client:
        codes = [_post(client, headers={"X-Forwarded-For": f"198.51.100.{i}"}).status_code
                 for i in range(5)]
    assert codes == [200, 200, 200, 429, 429]


def test_the_per_key_hourly_limit(make_api):
    api = make_api(RATE_LIMIT_PER_KEY_PER_HOUR="3")
    other_key = ApiKeys(api.db["api_keys"]).create("other")
    with api.client() as client:
        codes = [_post(client).status_code for _ in range(4)]
        other = _post(client, headers={"X-API-Key": other_key})
    assert codes == [200, 200, 200, 429]
    assert other.status_code == 200  # each key has its own hour


def test_unauthenticated_requests_count_against_the_ip(make_api):
    api = make_api(RATE_LIMIT_PER_IP_PER_MINUTE="2")
    with api.client(key=None) as anonymous, api.client() as client:
        assert [_post(anonymous).status_code for _ in range(2)] == [401, 401]
        assert _post(client).status_code == 429  # guessing keys spends the IP's budget


def test_api_key_cli(api, monkeypatch, capsys):
    monkeypatch.setenv("MONGODB_URI", api.settings.mongodb_uri)
    monkeypatch.setenv("MONGODB_DB", api.settings.mongodb_db)
    assert main(["api-key", "create", "dashboard"]) == 0
    created = _cli_output(capsys)
    assert created["name"] == "dashboard" and created["api_key"].startswith("pk_")
    assert main(["api-key", "create", "dashboard"]) == 2  # an active key has the name
    with api.client(key=created["api_key"]) as client:
        assert _post(client).status_code == 200
    assert main(["api-key", "list"]) == 0
    listed = _cli_output(capsys)["keys"]
    assert "dashboard" in [k["name"] for k in listed]
    assert created["api_key"] not in json.dumps(listed)
    assert main(["api-key", "revoke", "dashboard"]) == 0
    assert main(["api-key", "revoke", "dashboard"]) == 2
    assert main(["api-key", "create", "bad name!"]) == 2
    with api.client(key=created["api_key"]) as client:
        assert _post(client).status_code == 401


def test_stats_cli_reports_hit_ratio_and_latency(api, monkeypatch, capsys):
    with api.client() as client:
        for _ in range(3):
            assert _post(client).status_code == 200
    deadline = time.monotonic() + 10  # the request log is written just after each answer
    while api.db["api_requests"].count_documents({}) < 3:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    monkeypatch.setenv("MONGODB_URI", api.settings.mongodb_uri)
    monkeypatch.setenv("MONGODB_DB", api.settings.mongodb_db)
    assert main(["stats", "--hours", "1"]) == 0
    stats = _cli_output(capsys)
    assert stats["requests"] == 3 and stats["cache_hit_ratio"] == round(2 / 3, 4)
    assert stats["latency_ms"]["hit"]["n"] == 2 and stats["latency_ms"]["miss"]["n"] == 1
    assert stats["latency_ms"]["miss"]["p50"] >= stats["latency_ms"]["hit"]["p50"]
    assert stats["clips_cut"]["count"] == 1
    assert stats["clips_cut"]["by_requested_by"] == {"sidecar": 1}
