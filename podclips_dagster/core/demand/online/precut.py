"""The sidecar pre-cut: the sidecar queues low-priority cuts of what it just showed or played.

Most first plays come seconds after an impression of the same chunk, too
soon for the hourly schedule. So the lookup route hands
the results it returned to `queue_precuts`, and the clip routes hand a play
to `queue_precut_after_play` (people keep listening). `SidecarPrecut` decides
which results are worth it given the budget left; each chosen clip becomes a
pending `clip_requests` record with `source: "precut"` and a low
`priority`, which the on-demand sensor turns into runs like any other.

A play often comes seconds after its impression, sooner than a sensor tick
and a run start (about 5 s, more under load). So the sidecar may claim the
requests itself (`claimed_by`: stored `queued` under that run key) and cut
them at once with `cut_claimed`, in its own process or an asynchronous
invocation of itself. A claim that is never settled (the process died) is
put back to `pending` by `clip_request_watchdog` after a minute, and Dagster
cuts it: nothing is lost, and a failed cut gets a Dagster run that says why.

These calls run after the answer has gone out and never raise: a pre-cut is
an optimisation, and a failure is logged, not passed to the user.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from bson import ObjectId

from podclips_dagster.core.demand.online.budget import PrecutBudget, PrecutLedger
from podclips_dagster.core.demand.online.sidecar_precut import SidecarPrecut
from podclips_dagster.core.errors import PodclipsError
from podclips_dagster.core.requests import PENDING, QUEUED, ClipRequests, request_document
from podclips_dagster.core.spec import ClipSpec

if TYPE_CHECKING:
    from podclips_dagster.core.service import ClipService

log = logging.getLogger("podclips.demand.precut")

PRECUT_SOURCE = "precut"  # `source` of the request, `requested_by` of the clip it makes
# On-demand requests carry no priority; sorted by (priority, requested_at) they come first.
LOW_PRIORITY = 1


def precut_request(spec: ClipSpec, now: datetime, claimed_by: str | None = None) -> dict:
    """A request marked as a prediction (low priority, `source: "precut"`): pending, or
    queued under the run key `claimed_by` when the caller cuts it itself.

    The key is set here: the clip comes from a search result or the chunk
    after a played one, both read from the catalogue, and one `insert_many`
    for the batch keeps the sidecar's background work to a few round trips.
    """
    doc = request_document(spec.episode_id, spec.chunk_index, spec.duration_seconds,
                           PRECUT_SOURCE, now, partition_key=spec.partition_key,
                           status=PENDING, priority=LOW_PRIORITY)
    if claimed_by:
        doc.update(status=QUEUED, run_key=claimed_by, queued_at=now, attempts=1)
    return doc


def queue_precuts(service: ClipService, shown: list[ClipSpec], available: Iterable[ClipSpec],
                  now: datetime | None = None, budget: PrecutBudget | None = None,
                  policy: SidecarPrecut = SidecarPrecut(),
                  claimed_by: str | None = None) -> list[dict]:
    """Queue pre-cuts of the results the lookup route just returned (in the order shown).

    `available` are the results whose clip exists. Returns the requests queued.
    """
    now = now or datetime.now(UTC)
    try:
        ledger = PrecutLedger(service.db, budget or service.settings.precut_budget)
        spare_hours = ledger.spare_hours(now)
        if spare_hours <= 0:
            return []
        existing = set(available)
        items = [{"episode_id": s.episode_id, "chunk_index": s.chunk_index,
                  "duration_seconds": s.duration_seconds} for s in shown]
        return _queue(service, ledger, policy.clips_to_queue(items, existing, spare_hours), now,
                      claimed_by)
    except Exception as err:  # noqa: BLE001 - see the module docstring
        log.warning("could not queue pre-cuts: %s: %s", type(err).__name__, err)
        return []


def precut_budget_exhausted(service: ClipService, now: datetime | None = None,
                            budget: PrecutBudget | None = None) -> bool:
    """True when the paced budget has nothing left now (the sidecar's alarm metric)."""
    try:
        ledger = PrecutLedger(service.db, budget or service.settings.precut_budget)
        return ledger.spare_hours(now) <= 0
    except Exception as err:  # noqa: BLE001 - see the module docstring
        log.warning("could not read the pre-cut budget: %s: %s", type(err).__name__, err)
        return False


def queue_precut_after_play(service: ClipService, played: ClipSpec, now: datetime | None = None,
                            budget: PrecutBudget | None = None,
                            policy: SidecarPrecut = SidecarPrecut(),
                            claimed_by: str | None = None) -> list[dict]:
    """With budget to spare, queue the chunk after one just played, if it exists and is not cut."""
    now = now or datetime.now(UTC)
    try:
        ledger = PrecutLedger(service.db, budget or service.settings.precut_budget)
        if not policy.wants_next_chunk(ledger.spare_hours(now)):
            return []
        after = ClipSpec(played.episode_id, played.chunk_index + 1, played.duration_seconds)
        if (not service.catalogue.has_chunk(after.episode_id, after.chunk_index)
                or service.records.find(after) is not None):
            return []
        return _queue(service, ledger, [after], now, claimed_by)
    except Exception as err:  # noqa: BLE001 - see the module docstring
        log.warning("could not queue a pre-cut after a play: %s: %s", type(err).__name__, err)
        return []


def _queue(service: ClipService, ledger: PrecutLedger, keys: list[ClipSpec], now: datetime,
           claimed_by: str | None) -> list[dict]:
    specs: dict[str, ClipSpec] = {}
    for spec in keys:
        specs.setdefault(spec.partition_key, spec)
    if not specs:
        return []
    store = ClipRequests(service.db)
    store.ensure_indexes()
    for key in store.active_keys(list(specs)):  # already on their way
        specs.pop(key)
    granted = ledger.reserve(list(specs.values()), "sidecar", now)
    return store.insert_many([precut_request(spec, now, claimed_by) for spec in granted])


def claim_key() -> str:
    """A run key for requests the caller claims to cut itself (the watchdog finds no
    Dagster run under it, so an unsettled claim goes back to Dagster)."""
    return f"sidecar-precut:{ObjectId()}"


def cut_claimed(service: ClipService, request_ids: list) -> dict[str, int]:
    """Cut claimed pre-cut requests now and settle them. Never raises.

    A cut that fails goes back to `pending` (or `failed` after its attempts), so a
    Dagster run retries it and shows why."""
    store = ClipRequests(service.db)
    counts = {"cut": 0, "failed": 0}
    try:
        docs = store.queued_with_ids(list(request_ids))
    except Exception as err:  # noqa: BLE001 - see the module docstring
        log.warning("could not read claimed pre-cuts: %s: %s", type(err).__name__, err)
        return counts
    for doc in docs:
        try:
            clip = service.ensure_clip(doc["episode_id"], doc["chunk_index"],
                                       doc["duration_seconds"], requested_by=PRECUT_SOURCE)
            store.settle_done(doc["partition_key"], clip)
            counts["cut"] += 1
        except Exception as err:  # noqa: BLE001 - see the module docstring
            counts["failed"] += 1
            reason = (err.message if isinstance(err, PodclipsError)
                      else f"{type(err).__name__}: {err}")
            log.warning("pre-cut of %s failed, left to Dagster: %s", doc["partition_key"], reason)
            try:
                store.requeue_or_fail({"_id": doc["_id"]}, reason, "precut_failed")
            except Exception:  # noqa: BLE001 - the watchdog re-queues it after a minute
                pass
    return counts
