"""A step waiting for a pool slot sleeps until its next check instead of spinning a core.

Dagster 1.13 re-checks a step blocked by a pool in a loop that sleeps
`InstanceConcurrencyContext.interval_to_next_pending_claim_check()`, which returns
`min(0, ...)`: never more than 0 s, so the waiting run busy-loops (a fix was proposed
upstream in dagster-io/dagster#20367 and closed unmerged). On two cores, a run waiting
behind a cutting run took the cutting run from 6.4 to 3.9 clips/s
(benchmarks/backfill_throughput.py). Applied where steps run: the code location, which
every run worker imports. The backoff between checks stays Dagster's (1 s, growing to 15 s).
tests/test_pool_wait_fix.py fails when Dagster's own version stops being the bug.
"""

import time

from dagster._core.execution.plan.instance_concurrency_context import (
    InstanceConcurrencyContext,
)

dagsters_interval = InstanceConcurrencyContext.interval_to_next_pending_claim_check


def interval_to_next_pending_claim_check(self: InstanceConcurrencyContext) -> float:
    if not self._pending_claims:
        return 0.0
    now = time.time()
    return max(0.0, min((at - now for at in self._pending_timeouts.values()), default=0.0))


InstanceConcurrencyContext.interval_to_next_pending_claim_check = (
    interval_to_next_pending_claim_check)
