"""Leases in MongoDB: one holder per name across every process and door.

The dashboard prefetches, so identical clip requests arrive together, on
different Lambda instances and Dagster runs. The first caller inserts the
lease document (`_id` is the name, so the unique `_id` index decides who
wins); the others wait for it to go away and then read what the holder made.
A holder that dies leaves a lease that expires after `ttl_seconds`, and the
next caller takes it over.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from pymongo.errors import DuplicateKeyError

from podclips_dagster.core.errors import DependencyUnavailable
from podclips_dagster.core.stores.mongo import mongo_errors

T = TypeVar("T")

LEASES_COLLECTION = "clip_leases"
# Longer than any cut we measured (an M4A over a slow link: a few seconds), shorter than
# a person's patience: a dead holder delays the next cut by at most this much.
DEFAULT_TTL_SECONDS = 120.0
# Waiters poll; backing off keeps 100 waiters from crowding MongoDB while one cuts.
_FIRST_POLL_S, _MAX_POLL_S = 0.02, 0.25


class Leases:
    def __init__(self, collection, ttl_seconds: float = DEFAULT_TTL_SECONDS):
        self.collection = collection
        self.ttl_seconds = ttl_seconds
        self._indexes_ready = False

    def _ensure_indexes(self) -> None:
        if not self._indexes_ready:
            with mongo_errors("creating lease indexes"):
                # Cleanup only: correctness comes from `expires_at`, not the TTL monitor.
                self.collection.create_index("expires_at", expireAfterSeconds=3600,
                                             name="expires_at")
            self._indexes_ready = True

    def acquire(self, name: str) -> str | None:
        """A token if this caller now holds `name`, else None (someone else does)."""
        self._ensure_indexes()
        token = uuid.uuid4().hex
        now = datetime.now(UTC)
        fields = {"token": token, "acquired_at": now,
                  "expires_at": now + timedelta(seconds=self.ttl_seconds)}
        with mongo_errors(f"taking the lease {name!r}"):
            try:
                self.collection.insert_one({"_id": name, **fields})
                return token
            except DuplicateKeyError:
                pass
            # Take over a lease whose holder died; the filter makes the takeover atomic.
            taken = self.collection.find_one_and_update(
                {"_id": name, "expires_at": {"$lt": now}}, {"$set": fields}, projection={"_id": 1})
        return token if taken else None

    def release(self, name: str, token: str) -> None:
        with mongo_errors(f"releasing the lease {name!r}"):
            self.collection.delete_one({"_id": name, "token": token})

    def wait(self, name: str, deadline: float) -> bool:
        """Block until `name` is free (released or expired); False once `deadline` passes.

        `deadline` is a `time.monotonic()` value.
        """
        pause = _FIRST_POLL_S
        while True:
            with mongo_errors(f"waiting for the lease {name!r}"):
                held = self.collection.find_one(
                    {"_id": name, "expires_at": {"$gte": datetime.now(UTC)}}, {"_id": 1})
            if held is None:
                return True
            if time.monotonic() + pause > deadline:
                return False
            time.sleep(pause)
            pause = min(pause * 1.5, _MAX_POLL_S)

    def make_once(self, name: str, find: Callable[[], T | None], make: Callable[[], T],
                  on_wait: Callable[[], None] = lambda: None, recheck: bool = True) -> T:
        """`make()` under the lease `name`, unless `find()` shows someone already made it.

        With `recheck` the holder calls `find` first (it may have won a lease that
        another caller released after making the thing); waiters reuse what the
        holder made, or take over if it failed.
        """
        deadline = time.monotonic() + self.ttl_seconds
        while True:
            token = self.acquire(name)
            if token:
                try:
                    found = find() if recheck else None
                    return found if found is not None else make()
                finally:
                    self.release(name, token)
            on_wait()
            if not self.wait(name, deadline):
                raise DependencyUnavailable(
                    f"timed out waiting for another caller to finish {name}")
            if (found := find()) is not None:
                return found
