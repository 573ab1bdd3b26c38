"""When demand is scored, when the model is trained, and when pre-cut clips are cut.

Hourly: `clip_demand` scores at :50 (env `CLIP_DEMAND_CRON`), and
`pregenerate_high_demand_clips` cuts the best of those scores at :00 (env
`PRECUT_CRON`) within the pre-cut budget (`PRECUT_MAX_*`, in Settings). Daily
at 04:20 UTC: `demand_model` is retrained (env `DEMAND_MODEL_CRON`). A cron is
part of a schedule's definition, so these are read when the code location loads.
"""

from datetime import UTC

import dagster as dg

from podclips_dagster.config import Settings
from podclips_dagster.core.demand.offline.planning import plan_precuts
from podclips_dagster.defs.clips.jobs import audio_clips_job
from podclips_dagster.defs.clips.partitions import AUDIO_CLIPS_PARTITIONS_NAME
from podclips_dagster.defs.demand.assets import clip_demand, demand_model
from podclips_dagster.defs.demand.runs import precut_runs
from podclips_dagster.defs.resources import ClipServiceResource

_SETTINGS = Settings.from_env()

clip_demand_job = dg.define_asset_job(
    "clip_demand_job", selection=[clip_demand], executor_def=dg.in_process_executor,
    description="Score every candidate chunk's demand and store the top ones.")
demand_model_job = dg.define_asset_job(
    "demand_model_job", selection=[demand_model], executor_def=dg.in_process_executor,
    description="Retrain the demand model on the last 14 days of events.")

clip_demand_schedule = dg.ScheduleDefinition(
    name="clip_demand_schedule", job=clip_demand_job, cron_schedule=_SETTINGS.clip_demand_cron,
    execution_timezone="UTC", default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Hourly demand scores for pregenerate_high_demand_clips (env CLIP_DEMAND_CRON).")
demand_model_schedule = dg.ScheduleDefinition(
    name="demand_model_schedule", job=demand_model_job, cron_schedule=_SETTINGS.demand_model_cron,
    execution_timezone="UTC", default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Daily retraining of the demand model (env DEMAND_MODEL_CRON).")


@dg.schedule(
    name="pregenerate_high_demand_clips", job=audio_clips_job, cron_schedule=_SETTINGS.precut_cron,
    execution_timezone="UTC", default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Cuts the best-scored clips of clip_demand that are not cut yet (15/30/60 s "
    "as their demand asks), within the pre-cut budget shared with the sidecar's "
    "pre-cuts: registers their partitions and launches low-priority runs grouped by episode.",
)
def pregenerate_high_demand_clips(context: dg.ScheduleEvaluationContext,
                                  clip_service: ClipServiceResource):
    now = context.scheduled_execution_time.astimezone(UTC)
    service = clip_service.get_service()
    plan = plan_precuts(service.db, now, service.settings.precut_budget,
                        tick_key=f"schedule:{now:%Y-%m-%dT%H:%M}")
    if not plan.clips:
        context.log.info("nothing to pre-cut: %s", plan.reason)
        return dg.SkipReason(plan.reason)
    runs, new_keys = precut_runs(context.instance, plan.clips, f"precut-{now:%Y%m%dT%H%M}")
    # Schedules cannot return partition requests (Dagster 1.13): register before the runs
    # launch, diffed against the one get_dynamic_partitions call inside precut_runs.
    if new_keys:
        context.instance.add_dynamic_partitions(AUDIO_CLIPS_PARTITIONS_NAME, new_keys)
    context.log.info("pre-cutting %d clip(s) in %d run(s) (%d new partition(s)); budget today: %s",
                     len(plan.clips), len(runs), len(new_keys), plan.budget)
    return runs
