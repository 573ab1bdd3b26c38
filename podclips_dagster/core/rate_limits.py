"""Sliding-window rate limits kept in MongoDB, shared by every API instance.

Each subject (`ip:203.0.113.9`, `key:dashboard`) has one document listing
the times of its accepted requests. A request is accepted by one atomic
conditional push: "append now, if the list has fewer than `limit` entries"
(the filter `hits.{limit-1}` does not exist). Only when the list is full are
the times that left the window pulled out, and the push tried once more. So
the limit is exact ("at most N in any window", where a fixed per-minute
counter lets 2N through around a minute boundary), concurrent instances
cannot both take the last slot, and each check is two cheap operations (the
push and a read for the headers). Refused requests are not recorded, so a
client that waits `retry_after` gets in.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pymongo import IndexModel
from pymongo.errors import DuplicateKeyError

from podclips_dagster.core.stores.indexes import ensure_indexes_once
from podclips_dagster.core.stores.mongo_errors import mongo_errors

RATE_LIMITS_COLLECTION = "api_rate_limits"


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    limit: int
    remaining: int
    reset_after: int  # seconds until a slot frees (the oldest request leaves the window)
    window_seconds: int

    @property
    def retry_after(self) -> int:
        return 0 if self.allowed else max(1, self.reset_after)


class RateLimiter:
    @classmethod
    def in_db(cls, db):
        return cls(db[RATE_LIMITS_COLLECTION])

    def __init__(self, collection):
        self.collection = collection

    def _ensure_indexes(self) -> None:
        ensure_indexes_once(self.collection,
                            IndexModel("expires_at", expireAfterSeconds=0, name="expires_at"))

    def hit(self, subject: str, limit: int, window_seconds: int) -> Verdict:
        """Count one request of `subject` against `limit` per `window_seconds`.

        A limit of 0 or less means unlimited (nothing is stored).
        """
        if limit <= 0:
            return Verdict(True, 0, 0, 0, window_seconds)
        self._ensure_indexes()
        now = time.time()
        with mongo_errors(f"counting requests of {subject}"):
            allowed = self._push(subject, now, limit, window_seconds)
            if not allowed:  # full: forget the requests that left the window, then retry once
                self.collection.update_one(
                    {"_id": subject}, {"$pull": {"hits": {"$lte": now - window_seconds}}})
                allowed = self._push(subject, now, limit, window_seconds)
            doc = self.collection.find_one({"_id": subject}, {"hits": 1}) or {}
        # Measured from now, not from `now`: a concurrent request that took its time after
        # ours may hold the oldest slot, and the wait would come out over the window.
        read_at = time.time()
        live = sorted(t for t in doc.get("hits", []) if t > read_at - window_seconds)
        reset_after = math.ceil(live[0] + window_seconds - read_at) if live else 0
        return Verdict(allowed=allowed, limit=limit, remaining=max(0, limit - len(live)),
                       reset_after=max(0, reset_after), window_seconds=window_seconds)

    def _push(self, subject: str, now: float, limit: int, window_seconds: int) -> bool:
        expires = datetime.now(UTC) + timedelta(seconds=window_seconds)
        try:
            self.collection.update_one(
                {"_id": subject, f"hits.{limit - 1}": {"$exists": False}},
                {"$push": {"hits": now}, "$set": {"expires_at": expires}}, upsert=True)
            return True
        except DuplicateKeyError:  # the list is full (or two first requests raced to insert)
            return False
