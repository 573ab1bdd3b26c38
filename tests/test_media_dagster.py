"""The media assets in Dagster: share assets follow clips by themselves, videos on request."""

from datetime import timedelta

import dagster as dg

from podclips_dagster.core.media.videos import ensure_video
from podclips_dagster.core.spec import ClipSpec
from podclips_dagster.defs.clips.assets import audio_clips
from podclips_dagster.defs.clips.partitions import AUDIO_CLIPS_PARTITIONS_NAME
from podclips_dagster.defs.media.assets import clip_share_assets, clip_videos
from podclips_dagster.defs.media.sensors import share_assets_follow_clips
from podclips_dagster.defs.reporting.sensors import outside_clips_sensor
from podclips_dagster.defs.resources import ClipServiceResource
from tests.media_fixtures import CLIP_CHUNK, EPISODE_ID
from tests.sensor_harness import launch, tick

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


def own_video_events(result: dg.SensorResult, spec: ClipSpec) -> list:
    return [e for e in result.asset_events
            if e.asset_key == clip_videos.key and e.partition == spec.partition_key]


def test_videos_made_outside_dagster_are_reported_once(media_world):
    service = media_world.service
    spec = ClipSpec(EPISODE_ID, 3, 15)  # its own clip: no other test renders its video
    service.ensure_clip(spec.episode_id, spec.chunk_index, spec.duration_seconds)
    made = ensure_video(service, spec, "1080x1080", force=True, made_by="cli")
    field = "videos.1080x1080.generated_at"
    service.records.collection.update_one(  # past the sensor's lag
        {"episode_id": EPISODE_ID, "chunk_index": 3, "duration_seconds": 15},
        {"$set": {field: made.generated_at - timedelta(minutes=1)}})
    res = resources(media_world)
    with dg.instance_for_test() as instance:
        result = tick(outside_clips_sensor, instance, res["clip_service"])
        # Only this clip's partition: videos other test modules made in this session's
        # MongoDB age past the sensor's lag too, and are reported in the same tick.
        (event,) = own_video_events(result, spec)
        meta = {k: v.value for k, v in event.metadata.items()}
        assert meta["made_by"] == "cli" and meta["duration_s_1080x1080"] == made.duration
        assert meta["video_1080x1080"].split("?")[0] == made.video_url.split("?")[0]  # presigned
        assert spec.partition_key in result.dynamic_partitions_requests[0].partition_keys
        launch(instance, res["clip_service"], result, "outside_clips_sensor")
        assert spec.partition_key in instance.get_materialized_partitions(clip_videos.key)

        # The next tick acknowledges it; a video the asset renders is reported by its run.
        later = tick(outside_clips_sensor, instance, res["clip_service"], result.cursor)
        assert not own_video_events(later, spec)
        run_config = {"ops": {"clip_videos": {"config": {"force": True}}}}
        assert dg.materialize([clip_videos], partition_key=spec.partition_key, instance=instance,
                              resources=res, run_config=run_config).success
        record = service.records.find(spec)["videos"]["1080x1080"]
        assert record["made_by"] == "dagster" and record["dagster_reported_at"] is not None
        last = tick(outside_clips_sensor, instance, res["clip_service"], later.cursor)
        assert not own_video_events(last, spec)
