"""The retention domain: clips past their age give back their partitions."""

import dagster as dg

from podclips_dagster.defs.retention.jobs import (
    retire_expired_clips_job,
    retire_expired_clips_schedule,
)

defs = dg.Definitions(jobs=[retire_expired_clips_job], schedules=[retire_expired_clips_schedule])
