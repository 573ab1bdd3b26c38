"""The demand events collection, against a real MongoDB-protocol server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from podclips_dagster.core.demand.offline.store import load_events
from podclips_dagster.core.demand.online.events import (
    COLLECTION,
    EVENT_COLUMNS,
    DemandEventWriter,
    ensure_indexes,
)

T0 = datetime(2025, 3, 3, 12, 0, tzinfo=UTC)


def test_writer_and_loader_round_trip(mongo_db):
    coll = mongo_db[COLLECTION]
    ensure_indexes(coll, ttl_days=30)
    writer = DemandEventWriter(coll, batch_size=100)
    writer.record_impressions([{"episode_id": "substack:post:9", "chunk_index": 4},
                               {"episode_id": "a/b:c", "chunk_index": 0}], ts=T0)
    writer.record_play("substack:post:9", 4, duration_seconds=60, ts=T0 + timedelta(seconds=20))
    writer.record_play("a/b:c", 1, ts=T0 + timedelta(hours=2), source="clip_request",
                       type="request")
    assert writer.pending() == 4 and coll.count_documents({}) == 0  # batched, not yet written
    assert writer.flush() == 4
    assert writer.pending() == 0 and writer.flush() == 0

    frame = load_events(coll, since=T0, until=T0 + timedelta(hours=1))
    assert list(frame.columns) == EVENT_COLUMNS
    columns = ["type", "episode_id", "chunk_index", "duration_seconds", "source"]
    assert frame[columns].values.tolist() == [
        ["impression", "substack:post:9", 4, 30, "lookup"],
        ["impression", "a/b:c", 0, 30, "lookup"],
        ["play", "substack:post:9", 4, 60, "sidecar"],
    ]
    assert frame["rank"].tolist()[:2] == [1.0, 2.0] and frame["rank"].isna().tolist()[2]
    assert str(frame["ts"].dt.tz) == "UTC" and frame["ts"].iloc[0] == T0
    assert len(load_events(coll, since=T0)) == 4
    assert load_events(coll, since=T0 + timedelta(days=1)).empty


def test_writer_flushes_full_batches(mongo_db):
    coll = mongo_db[COLLECTION]
    writer = DemandEventWriter(coll, batch_size=10)
    writer.record_impressions([{"episode_id": "e", "chunk_index": i} for i in range(25)], ts=T0)
    assert coll.count_documents({}) == 25 and writer.pending() == 0


def test_indexes_ttl_and_changed_ttl(mongo_db):
    coll = mongo_db[COLLECTION]
    ensure_indexes(coll, ttl_days=30)
    info = coll.index_information()
    assert info["ts_ttl"]["expireAfterSeconds"] == 30 * 86400
    assert info["episode_chunk_ts"]["key"] == [("episode_id", 1), ("chunk_index", 1), ("ts", 1)]
    ensure_indexes(coll, ttl_days=7)
    assert coll.index_information()["ts_ttl"]["expireAfterSeconds"] == 7 * 86400


def test_bad_event_kinds_are_refused(mongo_db):
    writer = DemandEventWriter(mongo_db[COLLECTION])
    with pytest.raises(ValueError, match="impression"):
        writer.record_play("e", 1, type="impression")
    with pytest.raises(ValueError, match="source"):
        writer.record_impressions([{"episode_id": "e", "chunk_index": 1}], source="web")
