"""Retention: retire the partitions of clips past a configurable age (env CLIP_RETENTION_DAYS)."""

from datetime import UTC, datetime, timedelta

import dagster as dg

from podclips_dagster.core.requests import ClipRequests
from podclips_dagster.core.retention import expired_clips, retire
from podclips_dagster.defs.clips.partitions import AUDIO_CLIPS_PARTITIONS_NAME
from podclips_dagster.defs.resources import ClipServiceResource

RETIRE_PER_RUN = 20_000  # each partition delete is one SQL statement (~2 ms)


class RetentionConfig(dg.Config):
    max_age_days: int | None = None  # None: env CLIP_RETENTION_DAYS, else 30
    delete_clips: bool = False  # also delete the objects and records


def retention_days(config: RetentionConfig, settings) -> int:
    if config.max_age_days is not None:
        return config.max_age_days
    return settings.clip_retention_days


@dg.op(description="Retire the audio_clips partitions (and optionally the clips) of clips "
       "older than the retention age; clips with open requests are kept.")
def retire_expired_clips(context: dg.OpExecutionContext, config: RetentionConfig,
                         clip_service: ClipServiceResource) -> dg.Output[None]:
    service = clip_service.get_service()
    days = retention_days(config, service.settings)
    cutoff = datetime.now(UTC) - timedelta(days=days)
    expired = expired_clips(service, cutoff, RETIRE_PER_RUN, include_retired=config.delete_clips)
    wanted = ClipRequests(service.db).active_keys([spec.partition_key for _, spec in expired])
    expired = [(record, spec) for record, spec in expired if spec.partition_key not in wanted]
    registered = set(context.instance.get_dynamic_partitions(AUDIO_CLIPS_PARTITIONS_NAME))
    retired_keys = [spec.partition_key for _, spec in expired if spec.partition_key in registered]
    for key in retired_keys:
        context.instance.delete_dynamic_partition(AUDIO_CLIPS_PARTITIONS_NAME, key)
    settled = retire(service, expired, config.delete_clips)
    context.log.info("retired %d partition(s) of %d clip(s) older than %d day(s); %s %d",
                     len(retired_keys), len(expired), days,
                     "deleted" if config.delete_clips else "retired", settled)
    return dg.Output(None, metadata={
        "max_age_days": days, "clips_expired": len(expired),
        "clips_retired_or_deleted": settled,
        "partitions_retired": len(retired_keys), "clips_deleted": config.delete_clips,
        "partitions_left": len(registered) - len(retired_keys),
    })


@dg.job(description="Retire partitions of clips past the retention age (CLIP_RETENTION_DAYS).")
def retire_expired_clips_job():
    retire_expired_clips()


retire_expired_clips_schedule = dg.ScheduleDefinition(
    name="retire_expired_clips_schedule", job=retire_expired_clips_job,
    cron_schedule="17 3 * * *",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Daily: keeps the audio_clips partition count bounded.",
)
