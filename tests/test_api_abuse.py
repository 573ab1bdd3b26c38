"""The sidecar against an attacker or a careless client, over real HTTP: the local object
store, oversized and malformed bodies, made-up lookups, rate limits and their messages."""

from __future__ import annotations

import json
import select
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import anyio
import httpx
import pymongo
import pytest
from pymongo.errors import DuplicateKeyError

from podclips_dagster.core.api_keys import ApiKeys, KeyNameTaken, hash_key
from podclips_dagster.core.spec import ClipSpec
from podclips_dagster.core.stores.catalogue import Catalogue
from podclips_dagster.core.stores.clip_records import ClipRecords
from podclips_dagster.sidecar.body_limit import MAX_BODY_BYTES
from tests.api_fixtures import CBR_GUID
from tests.mongo_commands import CommandLog

# One seeded catalogue for every sidecar test module (imported fixtures would be one per module).
pytest_plugins = ["tests.api_fixtures"]

GENERATE = {"episode_id": CBR_GUID, "chunk_index": 0}


def test_files_serves_only_the_configured_buckets_inside_the_store(make_api):
    api = make_api(PODCLIPS_STORAGE="local")
    home, settings = api.settings.home, api.settings
    objects = settings.local_objects_dir
    (home / "mongodb").mkdir(parents=True)
    (home / "mongodb" / "secret.db").write_bytes(b"embedded database files")
    clip = objects / settings.clips_bucket / "audio_clips" / "a.mp3"
    clip.parent.mkdir(parents=True)
    clip.write_bytes(b"ID3 a clip")
    (objects / "another-bucket").mkdir()
    (objects / "another-bucket" / "x.mp3").write_bytes(b"not ours to serve")
    (objects / settings.clips_bucket / "escape.mp3").symlink_to(home / "mongodb" / "secret.db")
    (objects / settings.source_bucket).symlink_to(home / "mongodb", target_is_directory=True)
    origin = {"Origin": "https://evil.example"}
    with httpx.Client(base_url=api.url) as client:
        served = client.get(f"/files/{settings.clips_bucket}/audio_clips/a.mp3", headers=origin)
        refused = {path: client.get(path, headers=origin) for path in (
            "/files/%2E%2E/mongodb/secret.db",  # the traversal of the report
            "/files/%2e%2e/mongodb/secret.db",
            f"/files/{settings.clips_bucket}/%2E%2E/%2E%2E/mongodb/secret.db",
            "/files/another-bucket/x.mp3",  # a directory of the store, but not a bucket of ours
            f"/files/{settings.clips_bucket}/escape.mp3",  # a symlink out of the store
            f"/files/{settings.source_bucket}/secret.db",  # a bucket that is a symlink out
        )}
        preflight = client.options(f"/files/{settings.clips_bucket}/audio_clips/a.mp3", headers={
            **origin, "Access-Control-Request-Method": "GET"})
    assert served.status_code == 200 and served.content == b"ID3 a clip"
    assert "access-control-allow-origin" not in served.headers
    assert "access-control-allow-origin" not in preflight.headers
    for path, response in refused.items():
        assert response.status_code == 404, path
        assert b"embedded database" not in response.content and b"not ours" not in response.content
        assert response.json()["error"]["code"] == "not_found"


def _raw_request(url: str, head: str, body_chunks, limit_bytes: int) -> tuple[int, bytes, int]:
    """Send `head` then body chunks until the server answers (or `limit_bytes` are sent):
    (status, response body, body bytes sent)."""
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=30)
    sent, answer = 0, b""
    try:
        sock.sendall(head.encode())
        for chunk in body_chunks:
            readable, _, _ = select.select([sock], [], [], 0)
            if readable or sent >= limit_bytes:
                break
            try:
                sock.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(chunk)
        sock.settimeout(30)
        while b"\r\n\r\n" not in answer or len(answer.split(b"\r\n\r\n", 1)[1]) < 2:
            data = sock.recv(65536)
            if not data:
                break
            answer += data
    finally:
        sock.close()
    status_line, _, rest = answer.partition(b"\r\n")
    return int(status_line.split()[1]), rest.split(b"\r\n\r\n", 1)[1], sent


def _head(path: str, extra: str, key: str | None = None) -> str:
    auth = f"X-API-Key: {key}\r\n" if key else ""
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"{auth}{extra}\r\n")


def _chunked(total: int, size: int = 64 * 1024):
    block = f"{size:x}\r\n".encode() + b"x" * size + b"\r\n"
    for _ in range(total // size):
        yield block


@pytest.mark.parametrize("with_key", [True, False])
def test_bodies_over_a_megabyte_are_413_before_they_are_read(api, with_key):
    key = api.key if with_key else None
    huge = 200 * 1024 * 1024
    # A declared length over the limit: answered at once, no body byte needed.
    status, body, sent = _raw_request(
        api.url, _head("/api/generate-audio-clip", f"Content-Length: {huge}\r\n", key),
        iter([b"x" * 65536] * 3200), limit_bytes=huge)
    assert status == 413 and json.loads(body)["error"]["code"] == "payload_too_large"
    assert sent < 8 * MAX_BODY_BYTES, f"the server read {sent} bytes before answering"
    # No length (chunked): refused once the limit is passed, long before the 200 MB end.
    status, body, sent = _raw_request(
        api.url, _head("/api/audio-clips/lookup", "Transfer-Encoding: chunked\r\n", key),
        _chunked(huge), limit_bytes=huge)
    assert status == 413 and "1 MB" in json.loads(body)["error"]["message"]
    assert sent < 16 * MAX_BODY_BYTES, f"the server read {sent} bytes before answering"
    with api.client(key=key) as client:  # the server is fine afterwards
        assert client.get("/health").status_code == 200


def test_a_body_larger_than_its_content_length_is_counted_as_it_comes(api):
    """An ASGI server that passed on more than the declared length (the app sees the body
    as the server hands it over) still gets a 413 once the limit is passed."""
    consumed = 0

    def body():
        nonlocal consumed
        for _ in range(64):  # 4 MB in 64 KB parts
            consumed += 65536
            yield b"x" * 65536

    async def send():
        async def stream():
            for part in body():
                yield part

        transport = httpx.ASGITransport(app=api.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://podclips.test") as c:
            return await c.post("/api/generate-audio-clip", content=stream(),
                                headers={"X-API-Key": api.key, "Content-Length": "100",
                                         "Content-Type": "application/json"})

    response = anyio.run(send)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"
    assert consumed <= MAX_BODY_BYTES + 2 * 65536


def test_an_ordinary_client_reads_the_413_of_a_slightly_oversized_body(api):
    """1.5 MB with its length: the client gets the answer, not a reset connection."""
    with api.client() as client:
        answers = [client.post("/api/generate-audio-clip", content=b"x" * (3 << 19),
                               headers={"Content-Type": "application/json"}) for _ in range(5)]
        after = client.post("/api/generate-audio-clip", json=GENERATE)
    assert [a.status_code for a in answers] == [413] * 5 and after.status_code == 200


def test_a_body_within_the_limit_still_works(api):
    items = [{"episode_id": CBR_GUID + "x" * 150, "chunk_index": i} for i in range(100)]
    with api.client() as client:
        response = client.post("/api/audio-clips/lookup", json={"items": items})
    assert response.status_code == 200 and len(response.json()["results"]) == 100


def test_malformed_json_counts_against_the_ip_limit(make_api):
    api = make_api(RATE_LIMIT_PER_IP_PER_MINUTE="2")
    with api.client() as client:
        bad = [client.post("/api/generate-audio-clip", content=b'{"episode_id": ',
                           headers={"Content-Type": "application/json"}) for _ in range(3)]
        good = client.post("/api/generate-audio-clip", json=GENERATE)
    assert [r.status_code for r in bad] == [400, 400, 429]
    assert bad[0].json()["error"]["code"] == "malformed_json"
    assert good.status_code == 429 and "Retry-After" in good.headers


def test_lookup_of_made_up_clips_records_and_spends_nothing(make_api):
    api = make_api()
    made_up = [{"episode_id": f"made-up-{n}", "chunk_index": n % 7} for n in range(100)]
    with api.client() as client:
        response = client.post("/api/audio-clips/lookup", json={"items": made_up})
        # Same connection: the first answer's background work is done before this one starts.
        assert client.get("/health").status_code == 200
    assert response.status_code == 200
    assert not any(r["audio_clip"]["available"] for r in response.json()["results"])
    assert api.db["clip_demand_events"].count_documents({}) == 0
    assert api.db["clip_requests"].count_documents({}) == 0
    assert api.db["precut_budget"].count_documents({"used": {"$gt": 0}}) == 0


def test_lookup_keeps_real_results_and_their_rank_among_made_up_ones(make_api):
    api = make_api()
    real = [{"episode_id": CBR_GUID, "chunk_index": 2}]
    beyond = [{"episode_id": CBR_GUID, "chunk_index": 999}]  # a real episode, no such chunk
    made_up = [{"episode_id": f"made-up-{n}", "chunk_index": 0} for n in range(98)]
    with api.client() as client:
        response = client.post("/api/audio-clips/lookup", json={"items": beyond + real + made_up})
        assert client.get("/health").status_code == 200
    assert response.status_code == 200
    # Pre-cuts are queued by a background task after the answer: wait for it, not longer.
    deadline = time.monotonic() + 10
    while not (requests := list(api.db["clip_requests"].find({}, {"episode_id": 1,
                                                                  "chunk_index": 1}))):
        assert time.monotonic() < deadline, "no pre-cut was queued"
        time.sleep(0.05)
    assert [(r["episode_id"], r["chunk_index"]) for r in requests] == [(CBR_GUID, 2)]
    impressions = list(api.db["clip_demand_events"].find({}, {"_id": 0}))
    assert [(e["episode_id"], e["chunk_index"], e["rank"]) for e in impressions] == [
        (CBR_GUID, 2, 2)]  # the one real result, at the rank it was shown
    assert sum(d.get("used", 0) for d in api.db["precut_budget"].find({"used": {"$gt": 0}})) == 1


def test_lookup_counts_against_both_limits(make_api):
    lookup = {"items": [{"episode_id": CBR_GUID, "chunk_index": 0}]}
    per_ip = make_api(RATE_LIMIT_PER_IP_PER_MINUTE="2")
    with per_ip.client() as client:
        ip_codes = [client.post("/api/audio-clips/lookup", json=lookup).status_code
                    for _ in range(3)]
    per_key = make_api(RATE_LIMIT_PER_KEY_PER_HOUR="2")
    with per_key.client() as client:
        answers = [client.post("/api/audio-clips/lookup", json=lookup) for _ in range(3)]
    assert ip_codes == [200, 200, 429]
    assert [r.status_code for r in answers] == [200, 200, 429]
    assert answers[0].headers["X-RateLimit-Limit"] == "2"
    name = per_key.db["api_keys"].find_one({"_id": hash_key(per_key.key)})["name"]
    message = answers[2].json()["error"]["message"]
    assert "per hour" in message and name not in message and hash_key(per_key.key) not in message
    assert per_key.key not in answers[2].text


def test_one_active_key_per_name_even_when_creates_race(api, monkeypatch, capsys):
    from podclips_dagster.cli import main

    keys = ApiKeys(api.db["api_keys"])
    with ThreadPoolExecutor(8) as pool:  # eight terminals at once: one key, seven refusals
        outcomes = list(pool.map(lambda _: _create_or_refusal(keys, "dashboard"), range(8)))
    assert sorted(outcomes) == ["created"] + ["taken"] * 7
    with pytest.raises(DuplicateKeyError):  # MongoDB itself refuses a second active one
        api.db["api_keys"].insert_one({"_id": "x", "name": "dashboard", "revoked_at": None})
    keys.revoke("dashboard")
    keys.create("dashboard")  # a revoked key frees its name
    assert api.db["api_keys"].count_documents({"name": "dashboard", "revoked_at": None}) == 1
    monkeypatch.setenv("MONGODB_URI", api.settings.mongodb_uri)
    monkeypatch.setenv("MONGODB_DB", api.settings.mongodb_db)
    capsys.readouterr()
    assert main(["api-key", "create", "dashboard"]) == 2
    err = capsys.readouterr().err
    assert "dashboard" in err and "revoke" in err and "Traceback" not in err
    assert api.db["api_keys"].count_documents({"name": "dashboard", "revoked_at": None}) == 1


def _create_or_refusal(keys: ApiKeys, name: str) -> str:
    try:
        keys.create(name)
        return "created"
    except KeyNameTaken:
        return "taken"


def test_lookup_queries_read_only_what_the_answer_needs(mongo_server, mongo_db):
    """One catalogue query for the whole batch; the records query names the durations and
    projects the fields the answer returns (a record holds share assets, videos, ...)."""
    listener = CommandLog()
    client = pymongo.MongoClient(mongo_server.uri, event_listeners=[listener])
    db = client[mongo_db.name]
    db["transcript_chunks_768d"].insert_many(
        [{"episode_id": e, "chunk_index": i, "start_time": i * 30.0, "text": "words " * 50}
         for e in ("ep-a", "ep-b") for i in range(5)])
    records = ClipRecords(db["audio_clips"])
    records.save(ClipSpec("ep-a", 1), {"status": "ready", "clip_duration_seconds": 30.0,
                                       "share": {"big": "x" * 1000}})
    asked = {("ep-a", 1), ("ep-b", 4), ("ep-a", 9), ("made-up", 0)}
    listener.commands.clear(), listener.replies.clear()
    assert Catalogue(db).existing_chunks(asked) == {("ep-a", 1), ("ep-b", 4)}
    assert [c.command_name for c in listener.commands] == ["find"]
    listener.commands.clear(), listener.replies.clear()
    found = records.find_many([ClipSpec("ep-a", 1), ClipSpec("ep-b", 4, 60)],
                              ("status", "clip_duration_seconds"))
    find = listener.commands[0].command
    assert find["filter"]["duration_seconds"] == {"$in": [30, 60]}
    assert set(find["projection"]) == {"_id", "episode_id", "chunk_index", "duration_seconds",
                                       "status", "clip_duration_seconds"}
    assert found[ClipSpec("ep-a", 1)].keys() == {"episode_id", "chunk_index",
                                                 "duration_seconds", "status",
                                                 "clip_duration_seconds"}
    client.close()
