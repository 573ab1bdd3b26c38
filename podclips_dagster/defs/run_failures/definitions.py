"""The run-failures domain: failed runs are recorded where `podclips stats` shows them."""

import dagster as dg

from podclips_dagster.defs.run_failures.sensors import record_run_failures

defs = dg.Definitions(sensors=[record_run_failures])
