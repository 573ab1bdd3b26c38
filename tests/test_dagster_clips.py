"""The audio_clips asset on a real Dagster instance, MongoDB server and S3 over HTTP."""

import dataclasses

import dagster as dg
import pytest

from podclips_dagster.core.clip_audit import audit_made_clip
from podclips_dagster.core.spec import ClipSpec
from podclips_dagster.defs.clips.assets import audio_clips
from podclips_dagster.defs.clips.checks import CHECK_NAME
from podclips_dagster.defs.clips.registration import register_clip_partitions
from podclips_dagster.defs.requests.batches import RANGE_END_TAG, RANGE_START_TAG

AUDIO_CLIPS = dg.AssetKey("audio_clips")


def test_definitions_load_without_touching_the_network(monkeypatch):
    monkeypatch.setenv("MONGODB_URI", "mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=1")
    monkeypatch.setenv("S3_ENDPOINT_URL", "http://127.0.0.1:1")
    from podclips_dagster.definitions import defs

    dg.Definitions.validate_loadable(defs)
    keys = {spec.key for spec in defs.resolve_all_asset_specs()}
    assert AUDIO_CLIPS in keys
    assert {"episode_metadata", "transcript_chunks"} <= {k.to_user_string() for k in keys}
    job = defs.resolve_job_def("audio_clips_job")
    assert job.partitions_def.name == "audio_clips"


def test_a_partition_materializes_with_metadata_and_passing_check(resource, seed_episode):
    seed_episode("substack:post:9", minutes=2)
    key = ClipSpec("substack:post:9", 3).partition_key
    with dg.instance_for_test() as instance:
        register_clip_partitions(instance, [key])
        result = dg.materialize([audio_clips], instance=instance, partition_key=key,
                                resources={"clip_service": resource})
        assert result.success
        (mat,) = result.asset_materializations_for_node("audio_clips")
        assert mat.partition == key
        meta = {k: v.value for k, v in mat.metadata.items()}
        assert meta["duration_s"] == pytest.approx(30, abs=0.03)
        assert meta["audio_url"].startswith("http")
        assert 0 < meta["bytes_read_from_source"] <= 600_000
        for field in ("s3_url", "start_time_s", "end_time_s", "file_size_bytes",
                      "processing_time_ms"):
            assert field in meta
        (check,) = result.get_asset_check_evaluations()
        assert (check.check_name, check.passed, check.partition) == (CHECK_NAME, True, key)


def run_partitions(instance, resource, keys: list[str]):
    """One run over `keys` (registered in this order), as a backfill's multi-partition run."""
    register_clip_partitions(instance, keys)
    defs = dg.Definitions(assets=[audio_clips], resources={"clip_service": resource})
    job = dg.define_asset_job("clips", selection=[audio_clips])
    return dg.Definitions.merge(defs, dg.Definitions(jobs=[job])).resolve_job_def(
        "clips").execute_in_process(instance=instance, raise_on_error=False, tags={
            RANGE_START_TAG: keys[0], RANGE_END_TAG: keys[-1]})


def test_a_multi_partition_run_makes_each_clip_once(resource, seed_episode, settings):
    seed_episode("ep-a", minutes=2)
    seed_episode("ep-b", minutes=2, kind="mp3-vbr")
    keys = [ClipSpec(e, i).partition_key for e in ("ep-a", "ep-b") for i in (0, 1, 2)]
    with dg.instance_for_test() as instance:
        result = run_partitions(instance, resource, keys)
        assert result.success
        made = sorted(m.partition for m in result.asset_materializations_for_node("audio_clips"))
        assert made == sorted(keys)
        assert instance.get_materialized_partitions(AUDIO_CLIPS) == set(keys)
        assert all(c.passed for c in result.get_asset_check_evaluations())


def test_a_failed_cut_fails_the_step_with_the_reason(resource, seed_episode):
    seed_episode("ep-corrupt", audio=b"\x00not audio" * 1000)
    key = ClipSpec("ep-corrupt", 0).partition_key
    with dg.instance_for_test() as instance:
        register_clip_partitions(instance, [key])
        result = dg.materialize([audio_clips], instance=instance, partition_key=key,
                                resources={"clip_service": resource}, raise_on_error=False)
        assert not result.success
        failure = result.get_step_failure_events()[0].step_failure_data.error
        assert "ep-corrupt/0" in failure.message and "not" in failure.message.lower()
        assert not instance.get_materialized_partitions(AUDIO_CLIPS)


def test_a_bad_clip_fails_the_run_by_name_while_the_other_episodes_clips_are_made(
        resource, seed_episode):
    seed_episode("ep-x", minutes=2)
    seed_episode("ep-y", minutes=2, kind="mp3-vbr")
    seed_episode("ep-broken", audio=b"\x00not audio" * 1000)
    good = [ClipSpec(e, i).partition_key for e in ("ep-x", "ep-y") for i in (0, 1, 2)]
    bad = ClipSpec("ep-broken", 0).partition_key
    with dg.instance_for_test() as instance:
        result = run_partitions(instance, resource, good[:3] + [bad] + good[3:])
        assert not result.success
        failure = result.get_step_failure_events()[0].step_failure_data.error.message
        assert "1 of 7 clip(s) failed" in failure and bad in failure
        assert not any(key in failure for key in good)
        made = {m.partition: m.metadata for m in result.asset_materializations_for_node(
            "audio_clips")}
        assert set(made) == set(good) == instance.get_materialized_partitions(AUDIO_CLIPS)
        for meta in made.values():
            assert meta["duration_s"].value == pytest.approx(30, abs=0.03)
            assert meta["strategy"].value in ("ranged-cbr", "ranged-frame-index")
            assert meta["bytes_read_from_source"].value > 0
        checks = {c.partition: c for c in result.get_asset_check_evaluations()}
        assert set(checks) == set(good)
        assert all(c.passed and c.metadata["verified"].value == "at the cut"
                   for c in checks.values())
        # Per-clip lines stay out of the event log: the failure and one summary, whatever
        # the number of clips.
        lines = [e.user_message for e in instance.all_logs(result.run_id)
                 if not e.is_dagster_event]
        assert len(lines) == 2, lines
        assert lines[-1].startswith("made 6 of 7 clip(s) of 3 episode(s)")


def test_the_runs_check_flags_what_the_cut_measured(resource, seed_episode):
    seed_episode("ep-m", minutes=2)
    clip = resource.get_service().ensure_clip("ep-m", 1)
    assert audit_made_clip(clip) == []
    too_long = dataclasses.replace(clip, duration=31.0)
    assert audit_made_clip(too_long) == ["object lasts 31.000 s, longer than 30 s"]
    assert audit_made_clip(dataclasses.replace(clip, file_size_bytes=0)) == [
        "object is 0 bytes"]


def test_partition_registration_diffs_against_what_exists():
    with dg.instance_for_test() as instance:
        assert register_clip_partitions(instance, ["a/1", "a/2"]) == ["a/1", "a/2"]
        assert register_clip_partitions(instance, ["a/2", "a/3", "a/3"]) == ["a/3"]
