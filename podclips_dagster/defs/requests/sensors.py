"""Sensors: on-demand requests become clip runs, and runs that lose their requests are closed.

Closing the loop: the `audio_clips` asset settles the requests of each clip
as soon as it is cut or fails (`ClipRequests.settle`), so a requester sees
`done` without waiting for another sensor tick, and a failure carries that
clip's own typed error rather than the whole run's. What the asset cannot
report (its run died, never started, or could not reach MongoDB) the
`clip_request_watchdog` finds from the run's status.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import dagster as dg

from podclips_dagster.core.record_shapes import queued_request_problem
from podclips_dagster.core.request_triage import triage
from podclips_dagster.core.requests import QUEUED, ClipRequests
from podclips_dagster.core.spec import ClipSpec
from podclips_dagster.defs.clips.assets import MAX_PARTITIONS_PER_RUN
from podclips_dagster.defs.clips.jobs import audio_clips_job
from podclips_dagster.defs.clips.partitions import (
    AUDIO_CLIPS_PARTITIONS_NAME,
    audio_clips_partitions,
)
from podclips_dagster.defs.requests.batches import Batch, plan_batches
from podclips_dagster.defs.resources import ClipServiceResource

RUN_KEY_TAG = "dagster/run_key"
# A page of 500 is 1-3 s of work on SecantusDB with 10,000 requests waiting: far under
# the 60 s tick limit; the rest wait for the next tick.
PAGE_SIZE = 500
MAX_RUNS_PER_TICK = 40
# A run normally settles its requests within seconds of being queued.
LAUNCH_GRACE = timedelta(seconds=60)
STUCK_AFTER = timedelta(minutes=15)


def _claim(store: ClipRequests, batch: Batch) -> Batch | None:
    """The batch as far as this tick won its requests (another claimer may take some)."""
    if store.claim(batch.request_ids, batch.run_key) == len(batch.request_ids):
        return batch
    keys = store.claimed_keys(batch.run_key)
    return batch.only(keys) if keys else None


def _confirm_launches(instance, store: ClipRequests, run_keys: list[str]) -> None:
    """Record the run ids of the last tick's runs; requests whose run never came are retried."""
    for run_key in run_keys:
        runs = instance.get_runs(filters=dg.RunsFilter(tags={RUN_KEY_TAG: run_key}), limit=1)
        if runs:
            store.record_run(run_key, runs[0].run_id)
        else:
            store.requeue_or_fail({"run_key": run_key}, f"Dagster launched no run for {run_key}",
                                  "run_not_launched")


# The daemon visits sensors every 5 s at most (its loop); asking for 2 s means every visit.
@dg.sensor(
    job=audio_clips_job, minimum_interval_seconds=2,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Turns pending MongoDB clip_requests into audio_clips runs: registers the "
    "partitions they need, one run per batch of up to 25 clips grouped by episode.",
)
def clip_request_sensor(context: dg.SensorEvaluationContext,
                        clip_service: ClipServiceResource) -> dg.SensorResult:
    service = clip_service.get_service()
    store = ClipRequests(service.db)
    store.ensure_indexes()
    # The request's status is the queue (pending -> queued is claimed by a conditional
    # update), so the cursor holds only the run keys of the last tick, to confirm them.
    _confirm_launches(context.instance, store, json.loads(context.cursor or "[]"))

    wanted = triage(service, store, store.pending_page(PAGE_SIZE))
    registered = context.instance.get_dynamic_partitions(AUDIO_CLIPS_PARTITIONS_NAME)
    batches, to_register = plan_batches(wanted, registered, MAX_PARTITIONS_PER_RUN)
    # Batches past the cap stay pending, oldest first in the next tick's page.
    launched = [b for b in (_claim(store, b) for b in batches[:MAX_RUNS_PER_TICK]) if b]
    launched_keys = {key for batch in launched for key in batch.keys}
    new_keys = [key for key in to_register if key in launched_keys]
    if launched:  # an idle tick every 5 s would bury the log
        context.log.info("%d request(s) -> %d run(s), %d new partition(s)",
                         sum(len(b.request_ids) for b in launched), len(launched), len(new_keys))
    return dg.SensorResult(
        run_requests=[batch.run_request() for batch in launched],
        dynamic_partitions_requests=(
            [audio_clips_partitions.build_add_request(new_keys)] if new_keys else []),
        cursor=json.dumps([batch.run_key for batch in launched]),
    )


@dg.sensor(
    minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.RUNNING,
    description="Closes clip requests whose run died, never started, or is stuck: the clip "
    "exists -> done; else back to pending, up to 3 attempts, then failed.",
)
def clip_request_watchdog(context: dg.SensorEvaluationContext,
                          clip_service: ClipServiceResource) -> dg.SkipReason:
    service = clip_service.get_service()
    store = ClipRequests(service.db)
    now = datetime.now(UTC)
    by_run_key: dict[str, list[dict]] = defaultdict(list)
    for doc in store.queued_older_than(now - LAUNCH_GRACE, limit=PAGE_SIZE):
        if problem := queued_request_problem(doc):
            store.reject(doc["_id"], problem, expected=QUEUED)
            continue
        by_run_key[doc["run_key"]].append(doc)
    closed = 0
    for run_key, docs in by_run_key.items():
        runs = context.instance.get_runs(filters=dg.RunsFilter(tags={RUN_KEY_TAG: run_key}),
                                         limit=1)
        run = runs[0] if runs else None
        oldest = min(doc["queued_at"] for doc in docs)
        if run is None:
            reason = f"no run was launched for {run_key}"
        elif run.is_finished:
            reason = f"run {run.run_id} ended {run.status.value} without making the clip"
        elif now - oldest > STUCK_AFTER:
            reason = f"run {run.run_id} is still {run.status.value} after {STUCK_AFTER}"
        else:
            continue
        for key in {doc["partition_key"] for doc in docs}:
            clip = service.find_clip(ClipSpec.from_partition_key(key))
            if clip is not None:  # made, but the run could not record it
                closed += store.settle_done(key, clip, run.run_id if run else None)
        closed += store.requeue_or_fail({"run_key": run_key}, reason, "run_lost",
                                        run_id=run.run_id if run else None)
    return dg.SkipReason(f"closed {closed} stuck request(s) of {len(by_run_key)} run(s)")
