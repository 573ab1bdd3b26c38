"""On-demand requests end to end: request -> sensor -> run -> done | failed | rejected.

Real SecantusDB, moto S3 over HTTP, real FFmpeg, a real Dagster instance;
runs are executed in process the way the daemon would launch them.
"""

import json
from datetime import timedelta

import dagster as dg
import pytest

from podclips_dagster.cli import main
from podclips_dagster.core.clip_audit import audit_clip
from podclips_dagster.core.requests import MAX_ATTEMPTS, ClipRequests, request_clip
from podclips_dagster.core.spec import ClipSpec
from podclips_dagster.defs.requests.sensors import clip_request_sensor, clip_request_watchdog
from tests.sensor_harness import launch, register, tick


@pytest.fixture
def store(service):
    return ClipRequests(service.db)


def status(store, doc):
    return store.get(str(doc["_id"]))


@dg.op
def die():
    raise RuntimeError("the run's process died before settling its requests")


@dg.job
def lost_run_job():
    die()


def dead_run(instance, run_key: str) -> None:
    """A failed run launched for `run_key` that settled nothing."""
    assert not lost_run_job.execute_in_process(
        instance=instance, tags={"dagster/run_key": run_key}, raise_on_error=False).success


def test_a_request_becomes_one_run_then_done_with_a_playable_clip(service, resource, store,
                                                                  seed_episode):
    seed_episode("substack:post:5", minutes=2)
    doc = request_clip(service, "substack:post:5", 3, 30, source="test")
    assert doc["status"] == "pending" and doc["partition_key"] == "substack:post:5/3"
    with dg.instance_for_test() as instance:
        result = tick(clip_request_sensor, instance, resource)
        (run_request,) = result.run_requests
        assert run_request.partition_key == "substack:post:5/3"
        assert run_request.run_key.startswith("clip-requests-1-")
        assert result.dynamic_partitions_requests[0].partition_keys == ["substack:post:5/3"]
        assert status(store, doc)["status"] == "queued"
        assert status(store, doc)["run_key"] == run_request.run_key

        (run,) = launch(instance, resource, result)
        assert run.success
        done = status(store, doc)
        assert done["status"] == "done" and done["run_id"] == run.run_id
        assert done["clip_url"].startswith("http") and done["s3_url"].startswith("s3://")
        assert audit_clip(service, ClipSpec("substack:post:5", 3)) == []  # a sound MP3
        assert instance.get_materialized_partitions(dg.AssetKey("audio_clips")) == {
            "substack:post:5/3"}

        # The next tick confirms the launch; asking again is answered at once, no run.
        again = tick(clip_request_sensor, instance, resource, result.cursor)
        assert not again.run_requests
        repeat = request_clip(service, "substack:post:5", 3, 30, source="test")
        assert repeat["status"] == "done" and repeat["s3_url"] == done["s3_url"]
        assert not tick(clip_request_sensor, instance, resource, again.cursor).run_requests


def test_duplicate_requests_and_repeated_ticks_make_one_run(service, resource, store,
                                                            seed_episode):
    seed_episode("ep-dup", minutes=2)
    first = request_clip(service, "ep-dup", 1, 30, source="a")
    second = request_clip(service, "ep-dup", 1, 30, source="b")
    with dg.instance_for_test() as instance:
        result = tick(clip_request_sensor, instance, resource)
        retried = tick(clip_request_sensor, instance, resource)  # the same tick, re-evaluated
        assert len(result.run_requests) == 1 and not retried.run_requests
        # A third request while the run is queued joins it instead of launching another.
        third = request_clip(service, "ep-dup", 1, 30, source="c")
        register(instance, result)
        joined = tick(clip_request_sensor, instance, resource)
        assert not joined.run_requests
        assert status(store, third)["run_key"] == result.run_requests[0].run_key

        (run,) = launch(instance, resource, result)
        assert run.success
        assert len(run.asset_materializations_for_node("audio_clips")) == 1
        assert {status(store, d)["status"] for d in (first, second, third)} == {"done"}


def test_invalid_requests_are_rejected_with_the_reason(service, resource, store, seed_episode):
    seed_episode("ep-valid", minutes=1)
    cases = {("nope", 0, 30): "episode_not_found", ("ep-valid", 999, 30): "chunk_out_of_range",
             ("ep-valid", 0, 45): "invalid_duration"}
    for (episode, chunk, duration), code in cases.items():
        doc = request_clip(service, episode, chunk, duration, source="test")
        assert (doc["status"], doc["error_code"]) == ("rejected", code)
        assert doc["error"]
    # A service that writes requests itself skips validation: the sensor rejects them.
    store.insert({"_id": "sidecar-1", "episode_id": "ep-valid", "chunk_index": 500,
                  "duration_seconds": 30, "status": "pending", "source": "sidecar",
                  "requested_at": doc["requested_at"], "updated_at": doc["requested_at"]})
    with dg.instance_for_test() as instance:
        result = tick(clip_request_sensor, instance, resource)
    assert not result.run_requests
    rejected = store.get("sidecar-1")
    assert (rejected["status"], rejected["error_code"]) == ("rejected", "chunk_out_of_range")
    assert "has no chunk 500" in rejected["error"]


def test_a_failing_cut_ends_failed_with_the_reason_and_no_clip(service, resource, store,
                                                               seed_episode):
    seed_episode("ep-corrupt", audio=bytes(range(256)) * 400)
    doc = request_clip(service, "ep-corrupt", 0, 30, source="test")
    with dg.instance_for_test() as instance:
        (run,) = launch(instance, resource, tick(clip_request_sensor, instance, resource))
    assert not run.success
    failed = status(store, doc)
    assert failed["status"] == "failed" and failed["attempts"] == 1
    assert failed["error_code"] in ("source_unreadable", "cut_failed")
    assert failed["run_id"] == run.run_id and failed["error"]
    spec = ClipSpec("ep-corrupt", 0)
    assert service.records.find(spec) is None
    assert service.clips_bucket.head(spec.object_key) is None


def test_stuck_requests_are_requeued_then_failed_after_the_limit(service, resource, store,
                                                                 seed_episode):
    seed_episode("ep-stuck", minutes=1)
    doc = request_clip(service, "ep-stuck", 0, 30, source="test")
    with dg.instance_for_test() as instance:
        # The daemon lost the run (it never appeared): the next tick retries the request.
        lost = tick(clip_request_sensor, instance, resource)
        result = tick(clip_request_sensor, instance, resource, lost.cursor)
        retried = status(store, doc)
        assert (retried["status"], retried["attempts"]) == ("queued", 2)
        assert result.run_requests[0].run_key == retried["run_key"] != lost.run_requests[0].run_key

        # Its runs die without settling it: the watchdog re-queues, then gives up.
        for attempt in range(2, MAX_ATTEMPTS + 1):
            run_key = status(store, doc)["run_key"]
            dead_run(instance, run_key)
            store.collection.update_one({"_id": doc["_id"]}, {"$set": {
                "queued_at": status(store, doc)["queued_at"] - timedelta(minutes=5)}})
            tick(clip_request_watchdog, instance, resource)
            if attempt < MAX_ATTEMPTS:
                assert (status(store, doc)["status"], status(store, doc)["error_code"]) == (
                    "pending", "run_lost")
                tick(clip_request_sensor, instance, resource)
        final = status(store, doc)
    assert (final["status"], final["error_code"]) == ("failed", "run_lost")
    assert "ended FAILURE" in final["error"]


def test_cli_request_prints_the_request_and_exits_2_when_rejected(settings, seed_episode,
                                                                  monkeypatch, capsys):
    seed_episode("ep-cli", minutes=1)
    for name, value in {"MONGODB_URI": settings.mongodb_uri, "MONGODB_DB": settings.mongodb_db,
                        "PODCLIPS_STORAGE": "s3", "S3_ENDPOINT_URL": settings.s3_endpoint_url,
                        "S3_SOURCE_BUCKET": settings.source_bucket,
                        "S3_CLIPS_BUCKET": settings.clips_bucket}.items():
        monkeypatch.setenv(name, value)
    assert main(["request", "ep-cli", "2"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert {k: out[k] for k in ("partition_key", "status")} == {
        "partition_key": "ep-cli/2", "status": "pending"}
    assert main(["request-status", out["request_id"]]) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "pending"
    # No sensor runs here: --wait runs out with the request still pending.
    assert main(["request", "ep-cli", "2", "--wait", "0.3"]) == 3
    waited = capsys.readouterr()
    assert json.loads(waited.out)["status"] == "pending"
    assert "still pending" in waited.err
    assert main(["request-status", out["request_id"], "--wait", "0.3"]) == 3
    assert json.loads(capsys.readouterr().out)["request_id"] == out["request_id"]

    assert main(["request", "ep-cli", "2", "--duration", "20"]) == 2
    captured = capsys.readouterr()
    assert json.loads(captured.out)["status"] == "rejected"
    assert "invalid_duration" in captured.err
    assert main(["request-status", "no-such-request"]) == 2
