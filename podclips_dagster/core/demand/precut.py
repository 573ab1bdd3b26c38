"""The fast path: the sidecar queues low-priority cuts of what it just showed or played.

Most first plays come seconds after an impression of the same chunk, too
soon for the hourly schedule (DESIGN.md, "Demand"). So the lookup route hands
the results it returned to `queue_precuts`, and the clip routes hand a play
to `queue_precut_after_play` (people keep listening). `FastPath` decides
which results are worth it given the budget left; each chosen clip becomes a
pending `clip_requests` record with `source: "predicted"` and a low
`priority`, which the on-demand sensor turns into runs like any other.

These calls run after the answer has gone out and never raise: a pre-cut is
an optimisation, and a failure is logged, not passed to the user.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Iterable

from bson import ObjectId

from podclips_dagster.core.demand.budget import PrecutBudget, PrecutLedger
from podclips_dagster.core.demand.keys import ClipKey
from podclips_dagster.core.demand.fast_path import FastPath
from podclips_dagster.core.errors import PodclipsError
from podclips_dagster.core.requests import PENDING, ClipRequests
from podclips_dagster.core.spec import ClipSpec

log = logging.getLogger("podclips.demand.precut")

PREDICTED = "predicted"  # `source` of the request, `requested_by` of the clip it makes
# On-demand requests carry no priority; sorted by (priority, requested_at) they come first.
LOW_PRIORITY = 1


def predicted_request(spec: ClipSpec, now: datetime) -> dict:
    """A pending request shaped like `create_request`'s, marked as a prediction.

    The key is set here: the clip comes from a search result or the chunk
    after a played one, both read from the catalogue, and one `insert_many`
    for the batch keeps the sidecar's background work to a few round trips.
    """
    return {"_id": ObjectId(), "episode_id": spec.episode_id, "chunk_index": spec.chunk_index,
            "duration_seconds": spec.duration_seconds, "partition_key": spec.partition_key,
            "status": PENDING, "source": PREDICTED, "priority": LOW_PRIORITY,
            "requested_at": now, "updated_at": now, "attempts": 0}


def queue_precuts(service, shown: list[ClipSpec], available: Iterable[ClipSpec],
                  now: datetime | None = None, budget: PrecutBudget | None = None,
                  fast_path: FastPath = FastPath()) -> list[dict]:
    """Queue pre-cuts of the results the lookup route just returned (in the order shown).

    `available` are the results whose clip exists. Returns the requests queued.
    """
    now = now or datetime.now(timezone.utc)
    try:
        ledger = PrecutLedger(service.db, budget or PrecutBudget.from_env())
        spare_hours = ledger.spare_hours(now)
        if spare_hours <= 0:
            return []
        existing = {ClipKey(s.episode_id, s.chunk_index, s.duration_seconds) for s in available}
        items = [{"episode_id": s.episode_id, "chunk_index": s.chunk_index,
                  "duration_seconds": s.duration_seconds} for s in shown]
        return _queue(service, ledger, fast_path.clips_to_queue(items, existing, spare_hours), now)
    except Exception as err:  # noqa: BLE001 - see the module docstring
        log.warning("could not queue pre-cuts: %s: %s", type(err).__name__, err)
        return []


def queue_precut_after_play(service, played: ClipSpec, now: datetime | None = None,
                            budget: PrecutBudget | None = None,
                            fast_path: FastPath = FastPath()) -> list[dict]:
    """With budget to spare, queue the chunk after one just played, if it exists and is not cut."""
    now = now or datetime.now(timezone.utc)
    try:
        ledger = PrecutLedger(service.db, budget or PrecutBudget.from_env())
        if not fast_path.wants_next_chunk(ledger.spare_hours(now)):
            return []
        after = ClipSpec(played.episode_id, played.chunk_index + 1, played.duration_seconds)
        chunk = service.catalogue.chunks.find_one(
            {"episode_id": after.episode_id, "chunk_index": after.chunk_index}, {"_id": 1})
        if chunk is None or service.records.find(after) is not None:
            return []
        return _queue(service, ledger, [ClipKey(after.episode_id, after.chunk_index,
                                                after.duration_seconds)], now)
    except Exception as err:  # noqa: BLE001 - see the module docstring
        log.warning("could not queue a pre-cut after a play: %s: %s", type(err).__name__, err)
        return []


def _queue(service, ledger: PrecutLedger, keys: list[ClipKey], now: datetime) -> list[dict]:
    specs: dict[str, ClipSpec] = {}
    for key in keys:
        try:
            spec = ClipSpec(*key)
        except PodclipsError:  # a malformed result is the search API's problem, not a clip
            continue
        specs.setdefault(spec.partition_key, spec)
    if not specs:
        return []
    store = ClipRequests(service.db)
    store.ensure_indexes()
    for key in store.active_keys(list(specs)):  # already on their way
        specs.pop(key)
    granted = ledger.reserve(list(specs.values()), "fast_path", now)
    docs = [predicted_request(spec, now) for spec in granted]
    if docs:
        store.collection.insert_many(docs, ordered=False)
    return docs
