"""New episodes are indexed, then get their likely opening clips cut before the hourly
schedule would see them.

Indexing comes first (its runs are requested first, at a higher priority than
the pre-cuts'): the first cut of a VBR episode would otherwise stream the
whole file to build its frame index while someone waits. A new episode has no
demand of its own yet; its podcast's recent demand is what predicts its first
plays (the burst after publication), so the sensor scores its opening chunks
with the same model as `clip_demand` and cuts those that clear the model's
threshold, within the shared budget.
"""

import json
from datetime import UTC, datetime

import dagster as dg

from podclips_dagster.core.demand.offline.planning import find_new_episodes, plan_new_episode_clips
from podclips_dagster.core.demand.offline.store import latest_model
from podclips_dagster.defs.clips.assets import episode_metadata
from podclips_dagster.defs.clips.jobs import audio_clips_job
from podclips_dagster.defs.clips.partitions import audio_clips_partitions
from podclips_dagster.defs.demand.runs import precut_runs
from podclips_dagster.defs.indexes.jobs import audio_frame_indexes_job, index_runs
from podclips_dagster.defs.indexes.partitions import episode_partitions
from podclips_dagster.defs.resources import ClipServiceResource


@dg.sensor(
    jobs=[audio_frame_indexes_job, audio_clips_job], minimum_interval_seconds=300,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Watches episode_metadata for newly published episodes, indexes their audio "
    "(audio_frame_indexes) and pre-cuts the opening clips the demand model expects to be played "
    "(episodes whose transcript chunks have not arrived are retried for 6 h), within the pre-cut "
    "budget.",
)
def new_episode_sensor(context: dg.SensorEvaluationContext,
                       clip_service: ClipServiceResource) -> dg.SensorResult:
    service = clip_service.get_service()
    now = datetime.now(UTC)
    found = find_new_episodes(service.catalogue, json.loads(context.cursor or "{}"), now)
    clips = plan_new_episode_clips(service.db, found.ready, now, service.settings.precut_budget,
                                   latest_model(service.db))
    indexing, new_episodes = index_runs(context.instance, list(found.ready["episode_id"]))
    runs, new_keys = precut_runs(context.instance, clips, "new-episodes")
    runs = [run.with_replaced_attrs(job_name=audio_clips_job.name) for run in runs]
    context.log.info("%d new episode(s) ready (%d to index), %d waiting for chunks: %d opening "
                     "clip(s) in %d run(s)", len(found.ready), len(new_episodes),
                     len(found.cursor["waiting"]), len(clips), len(runs))
    observed = [dg.AssetObservation(episode_metadata.key, metadata={
        "new_episodes": len(found.ready), "precut_clips": len(clips),
        "newest_published_at": found.cursor["after"]})] if len(found.ready) else []
    partitions = [episode_partitions.build_add_request(new_episodes)] if new_episodes else []
    if new_keys:
        partitions.append(audio_clips_partitions.build_add_request(new_keys))
    return dg.SensorResult(
        run_requests=indexing + runs, asset_events=observed, cursor=json.dumps(found.cursor),
        dynamic_partitions_requests=partitions,
    )
