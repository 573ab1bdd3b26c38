"""A step waiting for a pool slot sleeps until its next check (Dagster 1.13 sleeps 0 s and
spins a core: defs/pool_wait_fix.py), and a real run waiting for a slot stays asleep."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import dagster as dg
import psutil

import podclips_dagster.definitions  # noqa: F401  (applies the fix, as in a run worker)
from podclips_dagster.defs.pool_wait_fix import (
    dagsters_interval,
    interval_to_next_pending_claim_check,
)


def _waiting(seconds_to_next_check: float) -> SimpleNamespace:
    return SimpleNamespace(_pending_claims={"cut"},
                           _pending_timeouts={"cut": time.time() + seconds_to_next_check})


def test_dagsters_own_interval_never_waits_which_is_why_the_fix_exists():
    # When this fails, Dagster has fixed it: delete defs/pool_wait_fix.py.
    assert dagsters_interval(_waiting(2.0)) <= 0


def test_the_fixed_interval_is_the_time_to_the_next_check():
    assert 1.5 < interval_to_next_pending_claim_check(_waiting(2.0)) <= 2.0
    assert interval_to_next_pending_claim_check(_waiting(-1.0)) == 0.0  # overdue: check now
    assert interval_to_next_pending_claim_check(SimpleNamespace(
        _pending_claims=set(), _pending_timeouts={})) == 0.0


@dg.op(pool="held")
def waits_for_the_pool():
    return 1


@dg.job
def pool_job():
    waits_for_the_pool()


def test_a_run_waiting_for_a_pool_slot_sleeps_instead_of_spinning(tmp_path):
    """The pool's only slot is held by another run; the waiting run's CPU over 4 s of waiting
    stays a small fraction of that time (spinning, it was one full core)."""
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        instance.event_log_storage.set_concurrency_slots("held", 1)
        holder = instance.event_log_storage.claim_concurrency_slot("held", "other-run", "step")
        assert holder.is_claimed
        process, outcome = psutil.Process(), {}
        runner = threading.Thread(target=lambda: outcome.update(
            result=pool_job.execute_in_process(instance=instance)))
        runner.start()
        time.sleep(1.0)  # past start-up, into the wait
        cpu_before, began = sum(process.cpu_times()[:2]), time.monotonic()
        time.sleep(4.0)
        busy = (sum(process.cpu_times()[:2]) - cpu_before) / (time.monotonic() - began)
        instance.event_log_storage.free_concurrency_slot_for_step("other-run", "step")
        runner.join(60)
        assert outcome["result"].success  # it took the slot once freed
        assert busy < 0.25, f"the waiting run used {busy:.0%} of a core"
