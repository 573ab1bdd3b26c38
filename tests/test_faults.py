"""Fault injection on real servers: each test starts its own MongoDB-protocol server and S3
server (so it can stop them), breaks one part mid-work, and checks that nothing half-made is
left and that everything works again once the part is back."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import pytest
from moto.server import ThreadedMotoServer

from podclips_dagster.core.api_keys import API_KEYS_COLLECTION, ApiKeys
from podclips_dagster.core.errors import CutFailed, DependencyUnavailable
from podclips_dagster.core.spec import ClipSpec
from podclips_dagster.devstack.mongo_server import free_port, start_mongo
from podclips_dagster.sidecar.app import create_app
from tests.api_fixtures import ServerThread
from tests.process_tree import alive, children

LEASE_TTL = 2  # short, so a takeover is seconds; the heartbeat renews it every 0.67 s


class RestartableS3:
    """moto's S3 over HTTP on a fixed port; moto keeps its buckets across a restart."""

    def __init__(self):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = None

    def start(self) -> RestartableS3:
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self.server.start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None


class RestartableMongo:
    """SecantusDB with its data on disk, restarted on the same port with the same data."""

    def __init__(self, data_dir):
        self.data_dir, self.port, self.server = data_dir, free_port(), None

    @property
    def uri(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}/?directConnection=true"

    def start(self) -> RestartableMongo:
        self.server = start_mongo(self.data_dir, port=self.port)
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None


@pytest.fixture
def own_s3():
    s3 = RestartableS3().start()
    yield s3
    s3.stop()


@pytest.fixture
def own_mongo(tmp_path):
    mongo = RestartableMongo(tmp_path / "mongodb").start()
    yield mongo
    mongo.stop()


# The conftest fixtures (settings, service, seed_episode) run on this module's own servers.
@pytest.fixture
def mongo_server(own_mongo):
    return own_mongo


@pytest.fixture
def s3_server(own_s3):
    return own_s3.url


@pytest.fixture
def settings(settings):
    # Pre-cuts of neighbouring chunks wait for Dagster: each test counts only its own clip.
    return settings.with_overrides(lease_ttl_seconds=LEASE_TTL, precut_mode="queue")


def _records(service) -> list[dict]:
    return list(service.records.collection.find({}))


def test_s3_down_during_a_miss_is_503_then_works_once_back(settings, service, seed_episode,
                                                           own_s3):
    seed_episode("ep-s3", minutes=1)
    key = ApiKeys(service.db[API_KEYS_COLLECTION]).create("faults")
    server = ServerThread(create_app(settings)).start()
    body = {"episode_id": "ep-s3", "chunk_index": 1}
    try:
        with httpx.Client(base_url=server.url, timeout=60, headers={"X-API-Key": key}) as client:
            own_s3.stop()
            down = client.post("/api/generate-audio-clip", json=body)
            assert down.status_code == 503, down.text
            assert down.json()["error"]["code"] == "dependency_unavailable"
            assert "Traceback" not in down.text
            assert _records(service) == []
            assert service.leases.collection.count_documents({}) == 0
            own_s3.start()
            assert service.clips_bucket.list_keys("audio_clips/") == []  # nothing half-stored
            up = client.post("/api/generate-audio-clip", json=body)
    finally:
        server.stop()
    assert up.status_code == 200, up.text
    (record,) = _records(service)
    stored = service.clips_bucket.head(ClipSpec("ep-s3", 1).object_key)
    assert stored is not None and stored.size == record["file_size_bytes"]


def test_mongodb_down_between_the_put_and_the_record_leaves_no_5xx_loop(
        service, seed_episode, own_mongo, monkeypatch):
    seed_episode("ep-mongo", minutes=1)
    spec = ClipSpec("ep-mongo", 1)
    put_file = type(service.clips_bucket).put_file

    def put_then_stop_mongo(bucket, *args, **kwargs):
        put_file(bucket, *args, **kwargs)  # the real PUT, then MongoDB goes away
        own_mongo.stop()

    monkeypatch.setattr(type(service.clips_bucket), "put_file", put_then_stop_mongo)
    with pytest.raises(DependencyUnavailable):
        service.ensure_clip("ep-mongo", 1)
    monkeypatch.undo()
    orphan = service.clips_bucket.head(spec.object_key)
    assert orphan is not None  # the object was stored, its record never was

    own_mongo.start()
    assert service.records.find(spec) is None
    # The dead cut's lease (its release failed too) expires within one TTL; then the next
    # call cuts again, overwriting the orphan, and every call after that is a hit.
    started = time.monotonic()
    first = service.ensure_clip("ep-mongo", 1)
    assert time.monotonic() - started < LEASE_TTL + 15
    assert not first.cached
    assert service.ensure_clip("ep-mongo", 1).cached
    (record,) = _records(service)
    assert service.clips_bucket.head(spec.object_key).size == record["file_size_bytes"]


def test_ffmpeg_killed_mid_cut_names_the_signal_and_writes_nothing(service, seed_episode,
                                                                   tmp_path, monkeypatch):
    seed_episode("ep-kill", minutes=2)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    # A cut's FFmpeg lives a fraction of a second: catch it, else try the next chunk.
    for chunk in range(3):
        outcome = {}

        def cut(chunk=chunk, outcome=outcome):
            try:
                outcome["clip"] = service.ensure_clip("ep-kill", chunk)
            except CutFailed as err:
                outcome["error"] = err

        thread = threading.Thread(target=cut)
        thread.start()
        while thread.is_alive():
            ffmpegs = [pid for pid, name in children(os.getpid()).items() if "ffmpeg" in name]
            if ffmpegs:
                os.kill(ffmpegs[0], signal.SIGKILL)
                break
            time.sleep(0.002)
        thread.join(60)
        if "error" in outcome:
            break
    else:
        pytest.skip("FFmpeg finished every cut before it could be killed (machine too fast)")
    assert "SIGKILL" in outcome["error"].message
    spec = ClipSpec("ep-kill", chunk)
    assert service.records.find(spec) is None
    assert service.clips_bucket.head(spec.object_key) is None
    assert list(scratch.iterdir()) == []
    assert service.leases.collection.count_documents({}) == 0


def _cli_clip(settings, episode: str, chunk: int) -> subprocess.Popen:
    """`podclips clip` in its own process group, as another door (or Lambda) would cut."""
    env = {**os.environ, "MONGODB_URI": settings.mongodb_uri, "MONGODB_DB": settings.mongodb_db,
           "PODCLIPS_STORAGE": "s3", "S3_ENDPOINT_URL": settings.s3_endpoint_url,
           "S3_SOURCE_BUCKET": settings.source_bucket, "S3_CLIPS_BUCKET": settings.clips_bucket,
           "PODCLIPS_HOME": str(settings.home), "LEASE_TTL_SECONDS": str(LEASE_TTL)}
    podclips = Path(sys.executable).with_name("podclips")  # the console script
    return subprocess.Popen([str(podclips), "clip", episode, str(chunk)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)


def _holder_mid_cut(settings, service, episode: str) -> tuple[subprocess.Popen, ClipSpec]:
    """A `podclips clip` process caught while its FFmpeg runs (it holds the clip's lease),
    with its process group stopped; a cut lasts a fraction of a second, so a holder that
    finished first is retried on the next chunk."""
    for chunk in range(4):
        holder = _cli_clip(settings, episode, chunk)
        deadline = time.monotonic() + 60
        while holder.poll() is None and time.monotonic() < deadline:
            if any("ffmpeg" in name for name in children(holder.pid).values()):
                os.killpg(holder.pid, signal.SIGSTOP)
                spec = ClipSpec(episode, chunk)
                assert service.leases.collection.find_one({"_id": spec.partition_key})
                return holder, spec
            time.sleep(0.002)
        holder.kill()
        holder.communicate()
    pytest.skip("every holder finished its cut before it could be stopped (machine too fast)")


def test_a_lease_holder_killed_mid_cut_is_taken_over_within_one_ttl(settings, service,
                                                                    seed_episode):
    seed_episode("ep-holder", minutes=1)
    holder, spec = _holder_mid_cut(settings, service, "ep-holder")
    os.killpg(holder.pid, signal.SIGKILL)
    holder.communicate(timeout=10)
    assert service.records.find(spec) is None  # killed mid-cut, before its record
    killed_at = time.monotonic()
    clip = service.ensure_clip("ep-holder", spec.chunk_index)
    assert time.monotonic() - killed_at < LEASE_TTL + 10  # the TTL, then one cut
    assert not clip.cached
    assert len(_records(service)) == 1
    assert service.leases.collection.count_documents({}) == 0


def test_a_frozen_holder_whose_lease_was_taken_writes_nothing(settings, service, seed_episode):
    """A holder stopped mid-cut (as Lambda freezes a process) loses its lease to a live
    caller; when it runs again it writes neither its object nor its record, and answers
    with the clip the new holder made."""
    seed_episode("ep-frozen", minutes=1)
    holder, spec = _holder_mid_cut(settings, service, "ep-frozen")
    try:
        assert service.records.find(spec) is None
        clip = service.ensure_clip("ep-frozen", spec.chunk_index)  # waits out the lease, cuts
        assert not clip.cached
        stored = service.clips_bucket.head(spec.object_key)
        record = service.records.find(spec)
        time.sleep(1.1)  # S3's Last-Modified has one-second resolution
        modified = service.storage.client.head_object(
            Bucket=service.clips_bucket.name, Key=spec.object_key)["LastModified"]
    finally:
        os.killpg(holder.pid, signal.SIGCONT)
    out, err = holder.communicate(timeout=60)
    assert holder.returncode == 0, err.decode()
    answered = json.loads(out)
    assert answered["cached"] is True and answered["s3_url"] == clip.s3_url
    assert len(_records(service)) == 1
    assert service.records.find(spec)["generated_at"] == record["generated_at"]
    assert service.storage.client.head_object(
        Bucket=service.clips_bucket.name, Key=spec.object_key)["LastModified"] == modified
    assert service.clips_bucket.head(spec.object_key).etag == stored.etag
    assert "lost the lease" in err.decode()
    assert not alive(holder.pid)
