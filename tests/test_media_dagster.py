"""The media assets in Dagster: share assets follow clips by themselves, videos on request."""

import dagster as dg

from podclips_dagster.core.spec import ClipSpec
from podclips_dagster.defs.clips.assets import audio_clips
from podclips_dagster.defs.clips.partitions import AUDIO_CLIPS_PARTITIONS_NAME
from podclips_dagster.defs.media.assets import clip_share_assets, clip_videos
from podclips_dagster.defs.media.sensors import share_assets_follow_clips
from podclips_dagster.defs.resources import ClipServiceResource
from tests.media_fixtures import CLIP_CHUNK, EPISODE_ID

# One seeded world for every media test module (imported fixtures would be one per module).
pytest_plugins = ["tests.media_fixtures"]


def resources(world) -> dict:
    s = world.settings
    return {"clip_service": ClipServiceResource(
        mongodb_uri=s.mongodb_uri, mongodb_db=s.mongodb_db, storage="s3",
        s3_endpoint_url=s.s3_endpoint_url, source_bucket=s.source_bucket,
        clips_bucket=s.clips_bucket)}


def test_share_assets_follow_a_new_clip(media_world):
    key = ClipSpec(EPISODE_ID, 3, 15).partition_key
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(AUDIO_CLIPS_PARTITIONS_NAME, [key])
        assets = [audio_clips, clip_share_assets]
        defs = dg.Definitions(assets=assets, resources=resources(media_world))
        first = dg.evaluate_automation_conditions(defs=defs, instance=instance)
        assert first.total_requested == 0  # nothing cut yet: nothing to follow

        cut = dg.materialize([audio_clips], partition_key=key, instance=instance,
                             resources=resources(media_world), selection=[audio_clips])
        assert cut.success
        after = dg.evaluate_automation_conditions(defs=defs, instance=instance,
                                                  cursor=first.cursor)
        assert after.get_requested_partitions(clip_share_assets.key) == {key}

        made = dg.materialize(assets, partition_key=key, instance=instance,
                              resources=resources(media_world), selection=[clip_share_assets])
        assert made.success
        metadata = made.asset_materializations_for_node("clip_share_assets")[0].metadata
        assert metadata["transcript_timing"].value == "proportional"
        assert metadata["waveform_json"].value.endswith("/3_15s.waveform.json")
        assert ".waveform.png" in metadata["waveform_png"].value
    record = media_world.service.records.find(ClipSpec(EPISODE_ID, 3, 15))
    assert record["share"]["transcript_cues"] >= 1


def test_clip_videos_on_request_and_clear_failures(media_world):
    media_world.service.ensure_clip(EPISODE_ID, CLIP_CHUNK, 30)
    ready, missing = ClipSpec(EPISODE_ID, CLIP_CHUNK).partition_key, \
        ClipSpec(EPISODE_ID, 2, 60).partition_key
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(AUDIO_CLIPS_PARTITIONS_NAME, [ready, missing])
        run_config = {"ops": {"clip_videos": {"config": {"sizes": ["1080x1080"]}}}}
        result = dg.materialize([clip_videos], partition_key=ready, instance=instance,
                                resources=resources(media_world), run_config=run_config)
        assert result.success
        metadata = result.asset_materializations_for_node("clip_videos")[0].metadata
        assert metadata["video_1080x1080"].value.split("?")[0].endswith(
            "/1.audiogram-1080x1080.mp4")
        assert metadata["duration_s_1080x1080"].value == 30.0

        failed = dg.materialize([clip_videos], partition_key=missing, instance=instance,
                                resources=resources(media_world), raise_on_error=False)
        assert not failed.success
        failure = failed.get_step_failure_events()[0].step_failure_data.error.message
        assert "has not been cut yet" in failure


def test_no_automation_on_videos_and_the_sensor_runs_by_default():
    condition = {asset: next(iter(asset.specs)).automation_condition
                 for asset in (clip_videos, clip_share_assets)}
    assert condition[clip_videos] is None and condition[clip_share_assets] is not None
    assert share_assets_follow_clips.default_status == dg.DefaultSensorStatus.RUNNING
