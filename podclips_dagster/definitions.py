"""The podclips code location: `workspace.yaml` loads `defs` from here.

Loading touches no network: resources connect on first use.
"""

import dagster as dg

from podclips_dagster.defs.clips.assets import audio_clips, episode_metadata, transcript_chunks
from podclips_dagster.defs.clips.checks import clip_object_matches_record
from podclips_dagster.defs.clips.jobs import audio_clips_job
from podclips_dagster.defs.demand.assets import clip_demand, clip_demand_events, demand_model
from podclips_dagster.defs.demand.schedules import (
    clip_demand_job,
    clip_demand_schedule,
    demand_model_job,
    demand_model_schedule,
    pregenerate_high_demand_clips,
)
from podclips_dagster.defs.demand.sensors import new_episode_sensor
from podclips_dagster.defs.indexes.assets import audio_frame_indexes
from podclips_dagster.defs.indexes.jobs import (
    audio_frame_indexes_job,
    register_episode_partitions_job,
)
from podclips_dagster.defs.media.assets import clip_share_assets, clip_videos
from podclips_dagster.defs.media.sensors import share_assets_follow_clips
from podclips_dagster.defs.reporting.sensors import outside_clips_sensor
from podclips_dagster.defs.requests.sensors import clip_request_sensor, clip_request_watchdog
from podclips_dagster.defs.resources import clip_service_resource
from podclips_dagster.defs.retention.jobs import (
    retire_expired_clips_job,
    retire_expired_clips_schedule,
)
from podclips_dagster.defs.run_failures.sensors import record_run_failures

defs = dg.Definitions(
    assets=[episode_metadata, transcript_chunks, audio_clips, clip_share_assets, clip_videos,
            clip_demand_events, demand_model, clip_demand, audio_frame_indexes],
    asset_checks=[clip_object_matches_record],
    jobs=[audio_clips_job, retire_expired_clips_job, clip_demand_job, demand_model_job,
          audio_frame_indexes_job, register_episode_partitions_job],
    sensors=[clip_request_sensor, clip_request_watchdog, outside_clips_sensor,
             share_assets_follow_clips, new_episode_sensor, record_run_failures],
    schedules=[retire_expired_clips_schedule, pregenerate_high_demand_clips, clip_demand_schedule,
               demand_model_schedule],
    resources={"clip_service": clip_service_resource()},
    executor=dg.in_process_executor,
)
