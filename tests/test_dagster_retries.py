"""Retries: a step is run again when a dependency was down, never when its input is bad."""

import dagster as dg

from podclips_dagster.core.audio.cutter import CUTTER_VERSION
from podclips_dagster.core.errors import DependencyUnavailable, EpisodeNotFound, SourceUnreadable
from podclips_dagster.core.spec import ClipSpec
from podclips_dagster.defs.clips.assets import audio_clips
from podclips_dagster.defs.clips.registration import register_clip_partitions
from podclips_dagster.defs.failures import TRANSIENT_RETRY_POLICY, partitions_failed
from podclips_dagster.defs.indexes.assets import audio_frame_indexes
from podclips_dagster.defs.media.assets import clip_share_assets, clip_videos


def test_a_step_with_a_transient_failure_may_be_retried_and_bad_input_may_not():
    bad = {"ep/1": EpisodeNotFound("no episode ep"), "ep/2": SourceUnreadable("not audio")}
    failure = partitions_failed(bad, 3, "clip(s)")
    assert not failure.allow_retries
    assert failure.description == "2 of 3 clip(s) failed: ep/1: no episode ep; ep/2: not audio"
    down = partitions_failed({**bad, "ep/3": DependencyUnavailable("MongoDB is down")}, 3)
    assert down.allow_retries


def test_the_clip_and_media_steps_retry_with_backoff():
    for asset in (audio_clips, clip_share_assets, clip_videos, audio_frame_indexes):
        policy = asset.op.retry_policy
        assert policy is TRANSIENT_RETRY_POLICY, asset.key
    assert TRANSIENT_RETRY_POLICY.backoff == dg.Backoff.EXPONENTIAL
    assert TRANSIENT_RETRY_POLICY.max_retries >= 2 and TRANSIENT_RETRY_POLICY.delay > 0


def test_a_run_failing_on_bad_input_is_not_retried(resource, seed_episode):
    seed_episode("ep-unreadable", audio=b"\x00not audio" * 1000)
    key = ClipSpec("ep-unreadable", 0).partition_key
    with dg.instance_for_test() as instance:
        register_clip_partitions(instance, [key])
        result = dg.materialize([audio_clips], instance=instance, partition_key=key,
                                resources={"clip_service": resource}, raise_on_error=False)
        assert not result.success
        kinds = [event.event_type for event in result.all_events]
        assert dg.DagsterEventType.STEP_FAILURE in kinds
        assert dg.DagsterEventType.STEP_UP_FOR_RETRY not in kinds


def test_a_cut_clip_carries_the_cutters_code_version(resource, seed_episode):
    seed_episode("ep-versioned", minutes=2)
    key = ClipSpec("ep-versioned", 1).partition_key
    with dg.instance_for_test() as instance:
        register_clip_partitions(instance, [key])
        assert dg.materialize([audio_clips], instance=instance, partition_key=key,
                              resources={"clip_service": resource}).success
        (record,) = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=audio_clips.key, asset_partitions=[key]),
            limit=1).records
        tags = record.asset_materialization.tags or {}
        assert tags.get("dagster/code_version") == CUTTER_VERSION
