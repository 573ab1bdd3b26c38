"""The sidecar pre-cut: pre-cut what it just showed or played, and cut it soon.

How the chosen clips are cut is `PRECUT_MODE` (config.py):
- `direct` (a server: `podclips api`, a container): in this process, after
  the answer has gone out, about half a second after the impression;
- `invoke` (the default on Lambda, where work after the answer holds the
  answer back): an asynchronous invocation of this same function cuts them
  (`handle_precut_event`);
- `queue`: the Dagster sensor makes runs of them, seconds later.
Either way the clips are recorded as `clip_requests` first, so one that is
never cut goes back to Dagster (core/demand/online/precut.py).
"""

from __future__ import annotations

import logging

from aws_lambda_powertools.metrics import MetricUnit
from bson import ObjectId

from podclips_dagster.core.demand.online.precut import (
    claim_key,
    cut_claimed,
    precut_budget_exhausted,
    queue_precut_after_play,
    queue_precuts,
)
from podclips_dagster.core.spec import ClipSpec
from podclips_dagster.sidecar.observability import PRECUT_BUDGET_EXHAUSTED, add_metric
from podclips_dagster.sidecar.self_invoke import invoke_async

log = logging.getLogger("podclips.sidecar.precut")

PRECUT_EVENT = "podclips_precut"  # the key of the asynchronous invocation's payload


def precut_results(app, shown: list[ClipSpec], available: set[ClipSpec]) -> None:
    queued = queue_precuts(app.service, shown, available, claimed_by=_claim(app))
    add_metric("PrecutsQueued", MetricUnit.Count, len(queued))
    # Nothing queued may mean all was cut already; the alarm wants the budget's own word.
    add_metric(PRECUT_BUDGET_EXHAUSTED, MetricUnit.Count,
               int(not queued and precut_budget_exhausted(app.service)))
    _dispatch(app, queued)


def precut_after_play(app, played: ClipSpec) -> None:
    _dispatch(app, queue_precut_after_play(app.service, played, claimed_by=_claim(app)))


def _claim(app) -> str | None:
    """This sidecar cuts its pre-cuts itself unless the Dagster sensor is to."""
    return None if app.settings.precut_mode == "queue" else claim_key()


def _dispatch(app, requests: list[dict]) -> None:
    ids = [doc["_id"] for doc in requests]
    if not ids or app.settings.precut_mode == "queue":
        return
    if app.settings.precut_mode == "direct":
        cut_claimed(app.service, ids)
        return
    try:
        invoke_async(app.settings, {PRECUT_EVENT: [str(i) for i in ids]})
    except Exception as err:  # noqa: BLE001 - an optimisation: the watchdog hands them to Dagster
        log.warning("could not hand %d pre-cut(s) to an asynchronous invocation: %s: %s",
                    len(ids), type(err).__name__, err)


def handle_precut_event(app, event: dict) -> dict:
    """The asynchronous invocation: cut the claimed requests it names."""
    ids = [ObjectId(i) for i in event.get(PRECUT_EVENT, []) if ObjectId.is_valid(i)]
    counts = cut_claimed(app.service, ids)
    add_metric("PrecutsCut", MetricUnit.Count, counts["cut"])
    log.info("pre-cut %d clip(s), %d left to Dagster", counts["cut"], counts["failed"])
    return counts
