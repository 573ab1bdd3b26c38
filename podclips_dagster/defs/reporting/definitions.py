"""The reporting domain: clips and videos made outside Dagster show up in it."""

import dagster as dg

from podclips_dagster.defs.reporting.sensors import outside_clips_sensor

defs = dg.Definitions(sensors=[outside_clips_sensor])
