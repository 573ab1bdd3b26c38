"""The requests domain: on-demand requests become clip runs; lost runs are closed."""

import dagster as dg

from podclips_dagster.defs.requests.sensors import clip_request_sensor, clip_request_watchdog

defs = dg.Definitions(sensors=[clip_request_sensor, clip_request_watchdog])
