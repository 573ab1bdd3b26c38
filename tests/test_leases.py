"""The MongoDB lease: one holder per name, takeover after expiry, and one cut per clip."""

from __future__ import annotations

import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from podclips_dagster.core.leases import Leases
from podclips_dagster.core.service import ClipService
from podclips_dagster.core.storage import S3Storage
from tests.api_fixtures import VBR_GUID, api_settings

# One seeded catalogue for every sidecar test module (imported fixtures would be one per module).
pytest_plugins = ["tests.api_fixtures"]


def test_one_holder_at_a_time(mongo_db):
    leases = Leases(mongo_db["clip_leases"])
    token = leases.acquire("ep/1")
    assert token and leases.acquire("ep/1") is None
    assert leases.acquire("ep/2")  # names are independent
    leases.release("ep/1", "someone-elses-token")
    assert leases.acquire("ep/1") is None  # only the holder releases
    leases.release("ep/1", token)
    assert leases.acquire("ep/1")


def test_an_expired_lease_is_taken_over(mongo_db):
    # Half a second: long enough that a loaded machine still sees it held at first.
    dead = Leases(mongo_db["clip_leases"], ttl_seconds=0.5)
    assert dead.acquire("ep/1")
    alive = Leases(mongo_db["clip_leases"])
    assert alive.acquire("ep/1") is None
    time.sleep(0.6)
    assert alive.acquire("ep/1")


def test_wait_returns_when_released_or_at_the_deadline(mongo_db):
    leases = Leases(mongo_db["clip_leases"])
    token = leases.acquire("ep/1")
    started = time.monotonic()
    assert leases.wait("ep/1", time.monotonic() + 0.2) is False
    assert 0.1 <= time.monotonic() - started < 1.0
    threading.Timer(0.1, leases.release, ("ep/1", token)).start()
    assert leases.wait("ep/1", time.monotonic() + 5) is True


@pytest.mark.slow
def test_concurrent_ensure_clip_cuts_once(api_catalogue, tmp_path):
    """Any door (here the service itself, as Dagster and the CLI call it) cuts a clip once."""
    clips = f"clips-{uuid.uuid4().hex[:10]}"
    S3Storage(endpoint_url=api_catalogue.s3_endpoint).client.create_bucket(Bucket=clips)
    service = ClipService.from_settings(api_settings(api_catalogue, clips, tmp_path))
    service.records.collection.delete_many({"episode_id": VBR_GUID, "chunk_index": 1})
    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(lambda _: service.ensure_clip(VBR_GUID, 1, 30, requested_by="test"),
                                range(16)))
    assert sum(not r.cached for r in results) == 1
    assert len({r.generated_at for r in results}) == 1
    assert service.leases.collection.count_documents({}) == 0


def test_a_long_make_with_heartbeats_runs_once_and_waiters_wait(mongo_db):
    """A render longer than several TTLs keeps its lease: the waiter neither takes over nor
    gives up (503), and reuses what the holder made."""
    leases = Leases(mongo_db["clip_leases"], ttl_seconds=0.6)
    made, calls, started = {}, [], threading.Event()

    def make(who: str, seconds: float):
        calls.append(who)
        started.set()
        time.sleep(seconds)
        made["x"] = who
        return who

    with ThreadPoolExecutor(2) as pool:
        holder = pool.submit(leases.make_once, "x", lambda: made.get("x"),
                             lambda: make("holder", 2.5))
        assert started.wait(10)
        waiter = pool.submit(leases.make_once, "x", lambda: made.get("x"),
                             lambda: make("waiter", 0))
        assert (holder.result(30), waiter.result(30)) == ("holder", "holder")
    assert calls == ["holder"]
    assert leases.collection.count_documents({}) == 0


def test_a_holder_that_lost_its_lease_writes_nothing(mongo_db):
    """Its lease was taken over while it worked: its write is refused (confirm_lease), its
    work is cancelled, and it returns what the new holder made."""
    from podclips_dagster.core.leases import confirm_lease

    leases = Leases(mongo_db["clip_leases"], ttl_seconds=5)
    made, writes, taken = {}, [], threading.Event()

    def make():
        assert taken.wait(10)
        confirm_lease()
        writes.append("stale holder")
        return "stale holder"

    with ThreadPoolExecutor(1) as pool:
        holder = pool.submit(leases.make_once, "x", lambda: made.get("x"), make)
        while leases.collection.find_one({"_id": "x"}) is None:
            time.sleep(0.01)
        # Another caller takes the lease over (as after an expiry), makes the thing, releases.
        leases.collection.update_one({"_id": "x"}, {"$set": {"token": "new-holder"}})
        made["x"] = "new holder"
        leases.release("x", "new-holder")
        taken.set()
        assert holder.result(30) == "new holder"
    assert writes == []
