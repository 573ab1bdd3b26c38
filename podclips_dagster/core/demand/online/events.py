"""The `clip_demand_events` collection: impressions, plays and requests, as they happen.

Documents: `{ts (UTC datetime), type: "impression" | "play" | "request",
episode_id, chunk_index, rank (impressions only), duration_seconds, source:
"lookup" | "sidecar" | "clip_request" | "cli"}`.

The doors record through a `DemandEventWriter`, which buffers and writes in
batches (`insert_many(ordered=False)`: one round trip per batch, and one bad
document does not drop the rest). Recording demand must never fail a user's
request, so the doors should catch and log a failed flush rather than raise.
Events expire after `ttl_days` (a TTL index on `ts`); the demand model only
looks back a few days.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime

from pymongo import ASCENDING, IndexModel

from podclips_dagster.core.stores.indexes import once_per_process
from podclips_dagster.core.stores.mongo_errors import mongo_errors

COLLECTION = "clip_demand_events"
EVENT_TYPES = ("impression", "play", "request")
SOURCES = ("lookup", "sidecar", "clip_request", "cli")
EVENT_COLUMNS = ["ts", "type", "episode_id", "chunk_index", "rank", "duration_seconds", "source"]
TTL_INDEX = "ts_ttl"


def as_utc(ts: datetime | None) -> datetime:
    if ts is None:
        return datetime.now(UTC)
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


def ensure_indexes(collection, ttl_days: float = 30) -> None:
    """TTL on `ts`, and (episode_id, chunk_index, ts) for one chunk's history.

    A changed `ttl_days` is applied with collMod rather than by dropping the index.
    """
    seconds = int(ttl_days * 86400)
    current = collection.index_information().get(TTL_INDEX)
    if current and current.get("expireAfterSeconds") != seconds:
        collection.database.command("collMod", collection.name,
                                    index={"name": TTL_INDEX, "expireAfterSeconds": seconds})
    collection.create_indexes([
        IndexModel([("ts", ASCENDING)], name=TTL_INDEX, expireAfterSeconds=seconds),
        IndexModel([("episode_id", ASCENDING), ("chunk_index", ASCENDING), ("ts", ASCENDING)],
                   name="episode_chunk_ts"),
    ])


class DemandEventWriter:
    """Buffers demand events and writes them in batches; thread-safe.

    Call `flush()` at the end of a request batch or on shutdown; a full
    buffer (`batch_size`) flushes by itself.
    """

    @classmethod
    def in_db(cls, db):
        return cls(db[COLLECTION])

    def __init__(self, collection, batch_size: int = 500):
        self.collection = collection
        self.batch_size = batch_size
        self._buffer: list[dict] = []
        self._lock = threading.Lock()

    def ensure_indexes(self) -> None:
        once_per_process(self.collection, TTL_INDEX, lambda: ensure_indexes(self.collection))

    def _add(self, docs: Iterable[dict]) -> None:
        with self._lock:
            self._buffer.extend(docs)
            full = len(self._buffer) >= self.batch_size
        if full:
            self.flush()

    def record_impressions(self, items: Iterable[dict], ts: datetime | None = None,
                           source: str = "lookup", duration_seconds: int = 30) -> None:
        """Results shown to someone, in the order shown (rank = 1-based position)
        unless an item carries its own `rank`."""
        if source not in SOURCES:
            raise ValueError(f"unknown demand source {source!r}; expected one of {SOURCES}")
        when = as_utc(ts)
        self._add({"ts": when, "type": "impression", "episode_id": item["episode_id"],
                   "chunk_index": int(item["chunk_index"]), "rank": int(item.get("rank", pos)),
                   "duration_seconds": int(item.get("duration_seconds", duration_seconds)),
                   "source": source}
                  for pos, item in enumerate(items, start=1))

    def record_play(self, episode_id: str, chunk_index: int, duration_seconds: int = 30,
                    ts: datetime | None = None, source: str = "sidecar",
                    type: str = "play") -> None:
        """Someone wanted the audio: a play (sidecar/dashboard) or a request (CLI,
        clip_requests)."""
        if type not in ("play", "request"):
            raise ValueError(f"record_play records plays and requests, not {type!r}")
        if source not in SOURCES:
            raise ValueError(f"unknown demand source {source!r}; expected one of {SOURCES}")
        self._add([{"ts": as_utc(ts), "type": type, "episode_id": episode_id,
                    "chunk_index": int(chunk_index), "duration_seconds": int(duration_seconds),
                    "source": source}])

    def pending(self) -> int:
        with self._lock:
            return len(self._buffer)

    def flush(self) -> int:
        """Write what is buffered; returns how many documents were written."""
        with self._lock:
            docs, self._buffer = self._buffer, []
        if not docs:
            return 0
        result = self.collection.insert_many(docs, ordered=False)
        return len(result.inserted_ids)


def events_of_episodes(db, episode_ids: list[str], fields: tuple[str, ...],
                       limit: int) -> Iterator[dict]:
    """Up to `limit` events of these episodes with `fields`, streamed."""
    with mongo_errors("reading demand events"):
        yield from db[COLLECTION].find({"episode_id": {"$in": episode_ids}},
                                       {"_id": 0, **dict.fromkeys(fields, 1)}).limit(limit)
