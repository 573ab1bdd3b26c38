"""The podclips code location: `workspace.yaml` (and `dg`) load `defs` from here.

Each domain under `defs/` declares its own `defs` in its `definitions.py`;
this merges them and adds what they share: the clip service resource and the
in-process executor. The domains are imported as modules because a code
location module may hold only one `Definitions` at module scope.
Loading touches no network: resources connect on first use. Importing it also
mends Dagster's wait for a pool slot in the run workers (defs/pool_wait_fix.py).
"""

import dagster as dg

from podclips_dagster.defs import pool_wait_fix  # noqa: F401  (applied on import)
from podclips_dagster.defs.clips import definitions as clips
from podclips_dagster.defs.demand import definitions as demand
from podclips_dagster.defs.indexes import definitions as indexes
from podclips_dagster.defs.media import definitions as media
from podclips_dagster.defs.reporting import definitions as reporting
from podclips_dagster.defs.requests import definitions as requests
from podclips_dagster.defs.resources import clip_service_resource
from podclips_dagster.defs.retention import definitions as retention
from podclips_dagster.defs.run_failures import definitions as run_failures

DOMAINS = (clips, media, indexes, demand, requests, reporting, retention, run_failures)

defs = dg.Definitions.merge(
    *(domain.defs for domain in DOMAINS),
    dg.Definitions(resources={"clip_service": clip_service_resource()},
                   executor=dg.in_process_executor),
)
