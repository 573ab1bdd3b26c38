"""Caps per UTC day kept in MongoDB, shared by every API instance.

The share page cuts a clip nobody has cut yet for anyone who opens its link,
without a key. The per-IP limit stops one client; a cap per day stops many
(a link posted where crawlers and people follow it) from spending unbounded
FFmpeg time and storage. One document per subject and day holds a count; a
slot is taken by one atomic conditional increment ("add one if below the
cap"), so concurrent instances never take more than the cap between them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pymongo import IndexModel
from pymongo.errors import DuplicateKeyError

from podclips_dagster.core.stores.indexes import ensure_indexes_once
from podclips_dagster.core.stores.mongo_errors import mongo_errors

DAILY_CAPS_COLLECTION = "daily_caps"


@dataclass(frozen=True)
class CapVerdict:
    allowed: bool
    cap: int
    seconds_to_reset: int  # until the next UTC day begins


class DailyCap:
    @classmethod
    def in_db(cls, db):
        return cls(db[DAILY_CAPS_COLLECTION])

    def __init__(self, collection):
        self.collection = collection

    def take(self, subject: str, cap: int, now: datetime | None = None) -> CapVerdict:
        """Take one of today's `cap` slots of `subject`; a cap of 0 or less means none is
        taken and every call is allowed."""
        now = now or datetime.now(UTC)
        tomorrow = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(),
                                    tzinfo=UTC)
        reset = max(1, int((tomorrow - now).total_seconds()))
        if cap <= 0:
            return CapVerdict(True, cap, reset)
        with mongo_errors(f"counting today's {subject}"):
            ensure_indexes_once(self.collection,
                                IndexModel("expires_at", expireAfterSeconds=0, name="expires_at"))
            try:
                self.collection.update_one(
                    {"_id": f"{subject}:{now.date().isoformat()}", "count": {"$lt": cap}},
                    {"$inc": {"count": 1},
                     "$setOnInsert": {"subject": subject,
                                      "expires_at": tomorrow + timedelta(days=1)}},
                    upsert=True)
            except DuplicateKeyError:  # today's document exists and is full
                return CapVerdict(False, cap, reset)
        return CapVerdict(True, cap, reset)
