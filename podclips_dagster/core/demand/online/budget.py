"""The pre-cut budget: clips cut ahead of demand, per UTC day, shared by every door.

The hourly schedule, the new-episode sensor and the sidecar's pre-cuts
all spend from one counter per day in MongoDB `precut_budget`. A day's budget
is paced like the replay benchmark's: by hour h (0-23) at most
(h + 1) / 24 of it may be spent, so a morning burst cannot starve the
evening. The schedule and the sensor leave `hold_back` (the sidecar pre-cut's
share of an hour) unspent, the sidecar pre-cut may spend all that is paced.

Spending is a compare-and-set on the day's count (`update_one` whose filter
says "there is still room for n"), so concurrent Lambdas and ticks never
overspend. A reservation can carry a key (a schedule tick, an episode): a
re-evaluated tick gets the same clips back instead of spending twice.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pymongo import IndexModel
from pymongo.errors import DuplicateKeyError

from podclips_dagster.core.spec import ClipSpec
from podclips_dagster.core.stores.indexes import ensure_indexes_once

LEDGER_COLLECTION = "precut_budget"
DOORS = ("schedule", "new_episode", "sidecar")
# One pre-cut: compute + invoke + PUT + ranged GET (~$0.000014, benchmarks/demand_replay.py)
# and a month of S3 Standard for 0.5 MB (~$0.000011); see docs/cost.md.
DEFAULT_USD_PER_CLIP = 0.000025
_RETRIES = 5


@dataclass(frozen=True)
class PrecutBudget:
    per_run: int = 200  # clips one schedule tick may launch
    per_day: int = 1000  # clips cut ahead of demand per UTC day, all doors together
    max_usd_per_day: float = 1.0  # estimated cost cap per day
    usd_per_clip: float = DEFAULT_USD_PER_CLIP

    @property
    def clips_per_day(self) -> int:
        if not self.usd_per_clip:
            return self.per_day
        return max(0, min(self.per_day, math.floor(self.max_usd_per_day / self.usd_per_clip)))

    @property
    def hourly(self) -> float:
        return self.clips_per_day / 24

    def allowance(self, now: datetime) -> float:
        """Clips that may have been spent today by `now` (paced: an hour's worth up front)."""
        midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
        share = ((now - midnight).total_seconds() + 3600) / 86400
        return self.clips_per_day * min(1.0, share)


def _utc(now: datetime | None) -> datetime:
    now = now or datetime.now(UTC)
    return now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)


class PrecutLedger:
    """Today's spending in `precut_budget`: `{_id: "day:YYYY-MM-DD", used, <door>: n}`,
    plus one document per keyed reservation."""

    def __init__(self, db, budget: PrecutBudget):
        self.collection = db[LEDGER_COLLECTION]
        self.budget = budget

    def ensure_indexes(self) -> None:
        # Old days and reservations go by themselves; a week is plenty to read back.
        ensure_indexes_once(self.collection, IndexModel(
            "created_at", name="created_ttl",
            expireAfterSeconds=int(timedelta(days=8).total_seconds())))

    def today(self, now: datetime | None = None) -> dict:
        now = _utc(now)
        doc = self.collection.find_one({"_id": _day(now)}) or {}
        return {"used": doc.get("used", 0), **{d: doc.get(d, 0) for d in DOORS},
                "allowance": math.floor(self.budget.allowance(now)),
                "per_day": self.budget.clips_per_day}

    def spare(self, now: datetime | None = None, hold_back: float = 0.0) -> int:
        now = _utc(now)
        return max(0, math.floor(self.budget.allowance(now) - hold_back) - self.today(now)["used"])

    def spare_hours(self, now: datetime | None = None) -> float:
        """Paced budget left, in hours of budget (what SidecarPrecut decides by)."""
        if not self.budget.hourly:
            return 0.0
        now = _utc(now)
        return (self.budget.allowance(now) - self.today(now)["used"]) / self.budget.hourly

    def reserve(self, clips: list, door: str, now: datetime | None = None, key: str | None = None,
                hold_back: float = 0.0) -> list:
        """Spend budget on as many of `clips` (best first) as it allows; returns those.

        With `key` (ClipSpecs only), the grant is recorded: calling again with
        the same key returns the same clips and spends nothing.
        """
        if door not in DOORS:
            raise ValueError(f"unknown budget door {door!r}; expected one of {DOORS}")
        now = _utc(now)
        if key and (earlier := self.granted(key)) is not None:
            return earlier
        granted = clips[:self._spend(len(clips), door, now, hold_back)] if clips else []
        if granted and key:
            try:
                self.collection.insert_one({"_id": f"reservation:{key}", "door": door,
                                            "clips": [list(c) for c in granted],
                                            "day": _day(now), "created_at": now})
            except DuplicateKeyError:  # a concurrent evaluation of this tick won: give ours back
                self.collection.update_one({"_id": _day(now)},
                                           {"$inc": {"used": -len(granted), door: -len(granted)}})
                return self.reserve(clips, door, now, key, hold_back)
        return granted

    def granted(self, key: str) -> list[ClipSpec] | None:
        """The clips an earlier `reserve(..., key=key)` was granted, if there was one."""
        earlier = self.collection.find_one({"_id": f"reservation:{key}"})
        return None if earlier is None else [ClipSpec(*clip) for clip in earlier["clips"]]

    def _spend(self, wanted: int, door: str, now: datetime, hold_back: float) -> int:
        day = _day(now)
        try:
            self.collection.update_one(
                {"_id": day}, {"$setOnInsert": {"used": 0, "created_at": now}}, upsert=True)
        except DuplicateKeyError:  # two first spenders of the day raced; the document exists
            pass
        limit = math.floor(self.budget.allowance(now) - hold_back)
        for _ in range(_RETRIES):
            used = self.collection.find_one({"_id": day})["used"]
            n = min(wanted, limit - used)
            if n <= 0:
                return 0
            if self.collection.update_one({"_id": day, "used": {"$lte": limit - n}},
                                          {"$inc": {"used": n, door: n}}).modified_count:
                return n
        return 0  # lost every race to other spenders: they had the budget


def _day(now: datetime) -> str:
    return f"day:{now:%Y-%m-%d}"
