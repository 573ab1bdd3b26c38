"""`record_run_failures`: every failed run of this code location, written to MongoDB.

The Dagster UI shows failures to whoever looks at it; `podclips stats` (what
an operator runs beside the sidecar's numbers) reads them from `run_failures`
with the step errors that name the failed clips.
"""

from datetime import UTC, datetime

import dagster as dg

from podclips_dagster.core.stores.run_failures import RunFailure, RunFailures
from podclips_dagster.defs.resources import ClipServiceResource

# Tags that say what launched a run and over which partitions.
KEPT_TAGS = ("dagster/run_key", "dagster/sensor_name", "dagster/schedule_name",
             "dagster/partition", "dagster/asset_partition_range_start",
             "dagster/asset_partition_range_end", "dagster/backfill", "podclips/source")


@dg.run_failure_sensor(
    name="record_run_failures", default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
    description="Records each failed run (job, time, the error of each failed step, what "
    "launched it) in MongoDB `run_failures`, shown by `podclips stats`.",
)
def record_run_failures(context: dg.RunFailureSensorContext,
                        clip_service: ClipServiceResource) -> None:
    run, event = context.dagster_run, context.failure_event
    steps = {step.step_key: step.step_failure_data.error.message
             for step in context.get_step_failure_events()
             if step.step_failure_data.error is not None}
    record = context.instance.get_run_record_by_id(run.run_id)
    ended = record.end_time if record and record.end_time else datetime.now(UTC).timestamp()
    RunFailures(clip_service.get_service().db).record(RunFailure(
        run_id=run.run_id, job_name=run.job_name,
        failed_at=datetime.fromtimestamp(ended, UTC),
        message=event.message or "run failed", steps=steps,
        tags={key: value for key, value in run.tags.items() if key in KEPT_TAGS},
    ))
    context.log.info("recorded failed run %s (%d failed step(s))", run.run_id, len(steps))
