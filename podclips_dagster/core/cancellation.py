"""Cooperative cancellation of a cut: a flag the worker checks between steps.

A thread cannot be killed, but the parts of a cut that take time can stop
when asked: FFmpeg is killed (core/audio/ffmpeg.py polls the flag), a lease
waiter stops waiting, and the holder's writes check it first, so a cancelled
cut writes nothing. Who asks: the sidecar when a Lambda request's budget runs
out, and a lease's heartbeat when the lease was lost.

The flag in force is per thread of execution (a ContextVar), so the core's
functions need no extra parameter to honour it.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from contextvars import ContextVar

from podclips_dagster.core.errors import PodclipsError


class Cancelled(PodclipsError):
    """The work was asked to stop (its budget ran out, or its lease was lost)."""

    kind = "unavailable"
    code = "cancelled"


class Cancellation:
    """A flag that can be set once, with a reason; set if its parent is set."""

    def __init__(self, parent: Cancellation | None = None):
        self.parent = parent
        self._event = threading.Event()
        self.reason = ""

    def cancel(self, reason: str) -> None:
        if not self._event.is_set():
            self.reason = reason
            self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set() or (self.parent is not None and self.parent.cancelled)

    def why(self) -> str:
        if self._event.is_set():
            return self.reason
        return self.parent.why() if self.parent is not None else ""

    def raise_if_cancelled(self) -> None:
        if self.cancelled:
            raise Cancelled(self.why())


_current: ContextVar[Cancellation | None] = ContextVar("podclips_cancellation", default=None)


def current() -> Cancellation | None:
    return _current.get()


@contextmanager
def cancellable(cancellation: Cancellation):
    """Make `cancellation` the one in force for the code inside."""
    reset = _current.set(cancellation)
    try:
        yield cancellation
    finally:
        _current.reset(reset)


def raise_if_cancelled() -> None:
    if (cancellation := _current.get()) is not None:
        cancellation.raise_if_cancelled()
