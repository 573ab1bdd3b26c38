"""Leases in MongoDB: one holder per name across every process and door.

The dashboard prefetches, so identical clip requests arrive together, on
different Lambda instances and Dagster runs. The first caller inserts the
lease document (`_id` is the name, so the unique `_id` index decides who
wins); the others wait for it to go away and then read what the holder made.

The lease is short (`LEASE_TTL_SECONDS`, 20 s) and a heartbeat thread renews
it while the holder works, so a holder that dies (a killed process, a frozen
Lambda) is taken over within one TTL while a long render is never taken over.
A holder that lost its lease anyway (it stalled past the TTL) must write
nothing: its writes call `confirm_lease()` first, which renews the lease by
its token or stops the work, and the heartbeat cancels its FFmpeg at once.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from pymongo import IndexModel
from pymongo.errors import DuplicateKeyError

from podclips_dagster.core.cancellation import (
    Cancellation,
    Cancelled,
    cancellable,
    raise_if_cancelled,
)
from podclips_dagster.core.cancellation import current as current_cancellation
from podclips_dagster.core.errors import DependencyUnavailable
from podclips_dagster.core.stores.indexes import ensure_indexes_once
from podclips_dagster.core.stores.mongo_errors import mongo_errors

log = logging.getLogger("podclips.leases")

T = TypeVar("T")

LEASES_COLLECTION = "clip_leases"
# A dead holder delays the next cut by at most this much; the heartbeat renews it three
# times per TTL, so two renewals may be late or fail before a live holder loses it.
DEFAULT_TTL_SECONDS = 20.0
HEARTBEATS_PER_TTL = 3
# A waiter gives up only if a live holder keeps its lease this long: longer than any
# FFmpeg timeout (a cut 120 s, a render 300 s), so only a hung holder reaches it.
MAX_WAIT_SECONDS = 900.0
# Waiters poll; backing off keeps 100 waiters from crowding MongoDB while one cuts.
_FIRST_POLL_S, _MAX_POLL_S = 0.02, 0.25


class LeaseLost(Cancelled):
    """Another caller took the lease over: this holder's work must not be written."""


class Leases:
    @classmethod
    def in_db(cls, db, ttl_seconds: float = DEFAULT_TTL_SECONDS):
        return cls(db[LEASES_COLLECTION], ttl_seconds)

    def __init__(self, collection, ttl_seconds: float = DEFAULT_TTL_SECONDS):
        self.collection = collection
        self.ttl_seconds = ttl_seconds

    def _ensure_indexes(self) -> None:
        # Cleanup only: correctness comes from `expires_at`, not the TTL monitor.
        ensure_indexes_once(self.collection,
                            IndexModel("expires_at", expireAfterSeconds=3600, name="expires_at"))

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

    def renew(self, name: str, token: str) -> bool:
        """Extend the lease by one TTL from now; False if `token` no longer holds it."""
        expires = datetime.now(UTC) + timedelta(seconds=self.ttl_seconds)
        with mongo_errors(f"renewing the lease {name!r}"):
            return self.collection.update_one(
                {"_id": name, "token": token},
                {"$set": {"expires_at": expires}}).matched_count == 1

    def wait(self, name: str, deadline: float | None = None) -> bool:
        """Block until `name` is free (released or expired); False once `deadline` passes.

        `deadline` is a `time.monotonic()` value. A cancelled caller stops waiting
        (raises Cancelled).
        """
        pause = _FIRST_POLL_S
        while True:
            raise_if_cancelled()
            with mongo_errors(f"waiting for the lease {name!r}"):
                held = self.collection.find_one(
                    {"_id": name, "expires_at": {"$gte": datetime.now(UTC)}}, {"_id": 1})
            if held is None:
                return True
            if deadline is not None and time.monotonic() + pause > deadline:
                return False
            time.sleep(pause)
            pause = min(pause * 1.5, _MAX_POLL_S)

    def make_once(self, name: str, find: Callable[[], T | None], make: Callable[[], T],
                  on_wait: Callable[[], None] = lambda: None, recheck: bool = True) -> T:
        """`make()` under the lease `name`, unless `find()` shows someone already made it.

        With `recheck` the holder calls `find` first (it may have won a lease that
        another caller released after making the thing); waiters reuse what the
        holder made, or take over if it failed or died. `make` calls
        `confirm_lease()` before each write.
        """
        deadline = time.monotonic() + MAX_WAIT_SECONDS
        while True:
            raise_if_cancelled()
            token = self.acquire(name)
            if token:
                try:
                    with _holding(self, name, token):
                        found = find() if recheck else None
                        return found if found is not None else make()
                except LeaseLost as lost:
                    log.warning("%s; waiting for the new holder instead", lost.message)
                finally:
                    self.release(name, token)
            on_wait()
            if not self.wait(name, deadline):
                raise DependencyUnavailable(
                    f"timed out waiting for another caller to finish {name}")
            if (found := find()) is not None:
                return found


class _Held:
    """A lease this thread holds, renewed by a heartbeat thread until the work ends."""

    def __init__(self, leases: Leases, name: str, token: str):
        self.leases, self.name, self.token = leases, name, token
        # Cancelled when the lease is lost, and whenever the caller's own work is.
        self.cancellation = Cancellation(parent=current_cancellation())
        self._stop = threading.Event()

    def lost(self) -> LeaseLost:
        error = LeaseLost(f"lost the lease {self.name!r} to another caller")
        self.cancellation.cancel(error.message)
        return error

    def heartbeat(self) -> None:
        interval = self.leases.ttl_seconds / HEARTBEATS_PER_TTL
        while not self._stop.wait(interval):
            try:
                if not self.leases.renew(self.name, self.token):
                    self.lost()
                    return
            except DependencyUnavailable as err:  # the next beat may get through
                log.warning("could not renew the lease %r: %s", self.name, err.message)

    def confirm(self) -> None:
        self.cancellation.raise_if_cancelled()
        if not self.leases.renew(self.name, self.token):
            raise self.lost()


_held: ContextVar[_Held | None] = ContextVar("podclips_held_lease", default=None)


@contextmanager
def _holding(leases: Leases, name: str, token: str):
    held = _Held(leases, name, token)
    beat = threading.Thread(target=held.heartbeat, name=f"lease-heartbeat {name}", daemon=True)
    beat.start()
    reset = _held.set(held)
    try:
        with cancellable(held.cancellation):
            yield held
    except Cancelled:
        if held.cancellation.parent is None or not held.cancellation.parent.cancelled:
            raise held.lost() from None  # the heartbeat found the lease gone
        raise
    finally:
        _held.reset(reset)
        held._stop.set()
        beat.join()


def confirm_lease() -> None:
    """Before a write: renew the lease this thread holds (one more TTL to write in), or
    raise LeaseLost (another caller took it: write nothing) or Cancelled."""
    if (held := _held.get()) is not None:
        held.confirm()
