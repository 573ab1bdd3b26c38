"""Sensor scale and bookkeeping: 10,000 pending requests, batching, outside clips, retention."""

from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest
from bson import ObjectId

from podclips_dagster.core.requests import ClipRequests, request_clip
from podclips_dagster.core.spec import ClipSpec
from podclips_dagster.defs.clips.assets import MAX_PARTITIONS_PER_RUN
from podclips_dagster.defs.reporting.sensors import outside_clips_sensor
from podclips_dagster.defs.requests.batches import plan_batches
from podclips_dagster.defs.requests.sensors import (
    MAX_RUNS_PER_TICK,
    PAGE_SIZE,
    clip_request_sensor,
)
from podclips_dagster.defs.retention.jobs import retire_expired_clips_job
from tests.sensor_harness import keys_of, launch, register, tick

AUDIO_CLIPS = dg.AssetKey("audio_clips")


def _pending(episode: str, chunk: int, at: datetime) -> dict:
    key = ClipSpec(episode, chunk).partition_key
    return {"_id": ObjectId(), "episode_id": episode, "chunk_index": chunk,
            "duration_seconds": 30, "partition_key": key, "status": "pending",
            "requested_at": at, "updated_at": at, "attempts": 0, "source": "load"}


@pytest.mark.slow
def test_a_tick_pages_through_10000_pending_requests(service, resource, mongo_db):
    store = ClipRequests(service.db)
    store.ensure_indexes()
    service.ensure_indexes()
    start = datetime.now(UTC)
    # Clips already made of the same episodes: the tick looks them up without a scan.
    # (Set-up writes go through the fixture's client: it has no 30 s socket timeout, whose
    # retry of a slow insert_many on a busy machine would insert twice.)
    mongo_db.audio_clips.insert_many([
        {"episode_id": f"ep-{i % 20:02d}", "chunk_index": 1000 + i // 20, "duration_seconds": 30,
         "generated_at": start, "status": "ready"} for i in range(5_000)])
    mongo_db.clip_requests.insert_many([
        _pending(f"ep-{i % 20:02d}", i // 20, start + timedelta(milliseconds=i))
        for i in range(10_000)])
    with dg.instance_for_test() as instance:
        result = tick(clip_request_sensor, instance, resource)
        added = register(instance, result)
        runs = [keys_of(instance, request) for request in result.run_requests]

    assert store.collection.count_documents({"status": "queued"}) == PAGE_SIZE
    assert store.collection.count_documents({"status": "pending"}) == 10_000 - PAGE_SIZE
    # Few runs, each whole episodes: 500 clips of 20 episodes in 20 runs of 25.
    assert len(result.run_requests) == PAGE_SIZE // MAX_PARTITIONS_PER_RUN <= MAX_RUNS_PER_TICK
    assert all(len({ClipSpec.from_partition_key(k).episode_id for k in keys}) == 1
               for keys in runs)
    # Registered == launched: every partition added is run exactly once, nothing else is.
    covered = [key for keys in runs for key in keys]
    assert len(added) == PAGE_SIZE and sorted(covered) == sorted(added)
    assert set(added) == set(store.collection.distinct("partition_key", {"status": "queued"}))


def test_batches_keep_episodes_together_and_respect_registration_order():
    def wanted(*keys):
        return {k: [{"_id": k}] for k in keys}

    registered = ["a/0", "x/1", "a/1", "a/2", "b/5"]
    batches, to_register = plan_batches(
        wanted("a/2", "a/1", "b/5", "a/0", "c/0", "c/1", "d/0", "e/0", "e/1"), registered,
        max_keys=3)
    # Registered keys share a run only where consecutive; new ones pack whole episodes.
    assert [b.keys for b in batches] == [["a/0"], ["a/1", "a/2", "b/5"], ["c/0", "c/1", "d/0"],
                                         ["e/0", "e/1"]]
    assert to_register == ["c/0", "c/1", "d/0", "e/0", "e/1"]
    big, _ = plan_batches(wanted(*[f"e/{i}" for i in range(7)]), [], max_keys=3)
    assert [len(b.keys) for b in big] == [3, 3, 1]
    assert len({b.run_key for b in batches + big}) == len(batches + big)
    again, _ = plan_batches(wanted("b/5", "a/2", "a/1"), registered, max_keys=3)
    assert again[0].run_key == batches[1].run_key  # same requests, same attempt: same key


def test_clips_made_outside_dagster_are_reported_as_materializations(service, resource,
                                                                     seed_episode):
    seed_episode("ep-cli", minutes=1)
    made = service.ensure_clip("ep-cli", 1, requested_by="cli")
    with dg.instance_for_test() as instance:
        # A clip a run made (whatever source it records) is already in Dagster.
        request_clip(service, "ep-cli", 2, 30, source="test")
        launch(instance, resource, tick(clip_request_sensor, instance, resource))
        for record in service.records.collection.find({}, {"generated_at": 1}):  # past the lag
            service.records.collection.update_one({"_id": record["_id"]}, {"$set": {
                "generated_at": record["generated_at"] - timedelta(minutes=1)}})
        result = tick(outside_clips_sensor, instance, resource)
        (event,) = result.asset_events
        assert event.partition == made.partition_key
        meta = {k: v.value for k, v in event.metadata.items()}
        assert meta["made_by"] == "cli" and meta["s3_url"] == made.s3_url
        assert meta["bytes_read_from_source"] == made.bytes_read > 0
        assert result.dynamic_partitions_requests[0].partition_keys == [made.partition_key]
        launch(instance, resource, result)
        assert instance.get_materialized_partitions(AUDIO_CLIPS) == {made.partition_key,
                                                                     "ep-cli/2"}

        # The next tick acknowledges both: nothing is reported twice.
        later = tick(outside_clips_sensor, instance, resource, result.cursor)
        assert not later.asset_events and not later.dynamic_partitions_requests
        assert service.records.collection.count_documents({"dagster_reported_at": None}) == 0


def test_retention_retires_partitions_of_old_clips(service, resource):
    now = datetime.now(UTC)
    ages = {"old/0": 40, "old/1": 40, "new/0": 1}
    for key, days in ages.items():
        spec = ClipSpec.from_partition_key(key)
        service.records.save(spec, {"generated_at": now - timedelta(days=days),
                                    "s3_url": "s3://x/y", "requested_by": "dagster"})
    ClipRequests(service.db).insert(_pending("old", 1, now))  # still wanted: kept
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("audio_clips", list(ages))
        job = dg.Definitions(jobs=[retire_expired_clips_job],
                             resources={"clip_service": resource}).resolve_job_def(
                                 "retire_expired_clips_job")
        run_config = {"ops": {"retire_expired_clips": {"config": {"max_age_days": 30}}}}
        first = job.execute_in_process(instance=instance, run_config=run_config)
        assert instance.get_dynamic_partitions("audio_clips") == ["old/1", "new/0"]
        # Retired once: the next run has nothing left to do.
        second = job.execute_in_process(instance=instance, run_config=run_config)
        assert instance.get_dynamic_partitions("audio_clips") == ["old/1", "new/0"]
    assert [_retired(result) for result in (first, second)] == [1, 0]
    assert service.records.find(ClipSpec("old", 0))["retired_at"] is not None


def test_a_retired_clip_served_again_comes_back_to_dagster(service, resource, seed_episode):
    seed_episode("ep-back", minutes=1)
    made = service.ensure_clip("ep-back", 0)
    collection = service.records.collection
    collection.update_one({"episode_id": "ep-back"}, {"$set": {
        "generated_at": made.generated_at - timedelta(days=40),
        "dagster_reported_at": made.generated_at}})
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("audio_clips", [made.partition_key])
        job = dg.Definitions(jobs=[retire_expired_clips_job],
                             resources={"clip_service": resource}).resolve_job_def(
                                 "retire_expired_clips_job")
        run_config = {"ops": {"retire_expired_clips": {"config": {"max_age_days": 30}}}}
        assert _retired(job.execute_in_process(instance=instance, run_config=run_config)) == 1
        assert instance.get_dynamic_partitions("audio_clips") == []

        again = service.ensure_clip("ep-back", 0)  # someone plays it: a hit, no new cut
        assert again.cached
        record = service.records.find(ClipSpec("ep-back", 0))
        assert record.get("retired_at") is None and record["revived_at"] is not None
        result = tick(outside_clips_sensor, instance, resource)
        (event,) = result.asset_events
        assert event.partition == made.partition_key
        launch(instance, resource, result, "outside_clips_sensor")
        assert instance.get_dynamic_partitions("audio_clips") == [made.partition_key]
        # Its age now counts from that use: the next retention pass keeps it.
        assert _retired(job.execute_in_process(instance=instance, run_config=run_config)) == 0
        assert instance.get_dynamic_partitions("audio_clips") == [made.partition_key]


def _retired(result) -> int:
    (output,) = [e for e in result.all_events if e.event_type_value == "STEP_OUTPUT"]
    return output.event_specific_data.metadata["partitions_retired"].value
