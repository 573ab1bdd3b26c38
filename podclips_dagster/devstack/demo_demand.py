"""Demo demand for the embedded stack: a few days of searches and plays over the demo episodes.

The same generator as the replay benchmark's synthetic world (`demand_world`),
run over the demo catalogue at a small scale, so `demand_model` has history to
train on and `clip_demand` something to score. Events are relative to now and
are replaced on every call (marked `demo: true`), so a restart brings them up
to date instead of piling up.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pandas as pd

from podclips_dagster.core.demand.offline.store import chunk_counts
from podclips_dagster.core.demand.online.events import COLLECTION, ensure_indexes
from podclips_dagster.devstack.demand_world import SyntheticConfig, generate_log

# A handful of episodes: fewer searches and queries than the benchmark's world, each
# showing five results, and clicks frequent enough to train on in a week.
DEMO_WORLD = SyntheticConfig(warmup_days=0.0, searches_per_day=192.0, n_queries=200,
                             results_per_search=5, topics_per_query=2.0, ctr_rank1=0.3)
_UNDATED = datetime(2000, 1, 1, tzinfo=UTC)


def seed_demo_events(service, days: float = 7, seed: int = 7, now: datetime | None = None) -> dict:
    """Replace the demo events; returns how many impressions and plays were written."""
    now = now or datetime.now(UTC)
    collection = service.db[COLLECTION]
    ensure_indexes(collection)
    collection.delete_many({"demo": True})
    catalogue = _demo_catalogue(service)
    if catalogue.empty:
        return {"impressions": 0, "plays": 0}
    cfg = replace(DEMO_WORLD, seed=seed, start=now - timedelta(days=days), days=days)
    log = generate_log(cfg, catalogue)
    docs = [_event(row) for row in log.itertuples(index=False)]
    if docs:
        collection.insert_many(docs, ordered=False)
    plays = sum(d["type"] == "play" for d in docs)
    return {"impressions": len(docs) - plays, "plays": plays}


def _demo_catalogue(service) -> pd.DataFrame:
    episodes = list(service.catalogue.episodes.find(
        {}, {"_id": 0, "guid": 1, "podcast_name": 1, "feed_slug": 1, "published_at": 1})
        .sort("published_at", -1).limit(50))
    counts = chunk_counts(service.catalogue, [e["guid"] for e in episodes if e.get("guid")])
    return pd.DataFrame([
        {"episode_id": e["guid"], "podcast": e.get("podcast_name") or e.get("feed_slug") or "demo",
         "published_at": e.get("published_at") or _UNDATED, "chunks": counts[e["guid"]]}
        for e in episodes if counts.get(e.get("guid"))],
        columns=["episode_id", "podcast", "published_at", "chunks"])


def _event(row) -> dict:
    doc = {"ts": row.ts.to_pydatetime(), "type": row.type, "episode_id": row.episode_id,
           "chunk_index": int(row.chunk_index), "duration_seconds": int(row.duration),
           "source": "sidecar", "demo": True}
    if row.type == "impression":
        doc.update(rank=int(row.rank), source="lookup")
    return doc
