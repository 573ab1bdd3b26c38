"""Clips resolved against the catalogue recently, kept in this process for a few minutes.

The catalogue is read only to podclips and a chunk's start does not move,
so a repeated request need not ask MongoDB for its episode and chunk again:
two of a cache hit's eight round trips. Only successes are kept (an unknown
episode is looked up every time), and an entry lives `ttl_seconds`, so a
re-ingested episode is seen within minutes.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable

from podclips_dagster.core.resolve import ResolvedClip


class ResolvedClips:
    def __init__(self, ttl_seconds: float = 300.0, max_entries: int = 10_000):
        self.ttl_seconds = ttl_seconds
        self.max_entries = max_entries
        self._entries: OrderedDict[Hashable, tuple[float, ResolvedClip]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, resolve: Callable[[], ResolvedClip]) -> ResolvedClip:
        now = time.monotonic()
        with self._lock:
            entry = self._entries.get(key)
            if entry and entry[0] > now:
                self._entries.move_to_end(key)
                return entry[1]
        resolved = resolve()  # outside the lock: it queries MongoDB, and may raise
        with self._lock:
            self._entries[key] = (now + self.ttl_seconds, resolved)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return resolved
