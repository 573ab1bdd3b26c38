"""Demo demand for the embedded stack: a few days of searches and plays over the demo episodes.

Enough history for `demand_model` to train and for `clip_demand` to score,
shaped like the real thing at a small scale: some episodes and some chunks
are far more wanted than others, impressions come in ranked result lists,
plays follow impressions (less often the lower the rank), and now and then
a listener goes on to the next chunk. Events are relative to now and are
replaced on every call (marked `demo: true`), so a restart brings them up
to date instead of piling up.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

from podclips_dagster.core.demand.events import COLLECTION, ensure_indexes
from podclips_dagster.core.demand.store import chunk_counts

SEARCHES_PER_HOUR = 8
RESULTS_PER_SEARCH = 5
CLICK_THROUGH_RANK1 = 0.05  # P(play | shown at rank r) = this / r
NEXT_CHUNK = 0.15
DURATIONS = ((30, 0.85), (60, 0.10), (15, 0.05))


def seed_demo_events(service, days: float = 7, seed: int = 7, now: datetime | None = None) -> dict:
    """Replace the demo events; returns how many impressions and plays were written."""
    now = now or datetime.now(timezone.utc)
    rng = random.Random(seed)
    episodes = list(service.catalogue.episodes.find(
        {}, {"_id": 0, "guid": 1, "published_at": 1}).sort("published_at", -1).limit(50))
    counts = chunk_counts(service.catalogue, [e["guid"] for e in episodes])
    episodes = [e for e in episodes if counts.get(e["guid"])]
    collection = service.db[COLLECTION]
    ensure_indexes(collection)
    collection.delete_many({"demo": True})
    if not episodes:
        return {"impressions": 0, "plays": 0}
    # Zipf-like interest: the newest episodes and a few chunks of each draw most searches.
    episode_weight = [1 / (n + 1) for n in range(len(episodes))]
    appeal = {e["guid"]: rng.sample(range(counts[e["guid"]]), counts[e["guid"]]) for e in episodes}
    docs: list[dict] = []
    hours = int(days * 24)
    for hour in range(hours, 0, -1):
        for _ in range(SEARCHES_PER_HOUR):
            ts = now - timedelta(hours=hour) + timedelta(seconds=rng.uniform(0, 3600))
            live = [(e, w) for e, w in zip(episodes, episode_weight) if _published(e) <= ts]
            if not live:
                continue
            episode = rng.choices([e for e, _ in live], [w for _, w in live])[0]["guid"]
            duration = rng.choices([d for d, _ in DURATIONS], [p for _, p in DURATIONS])[0]
            docs += _search(rng, episode, appeal[episode], counts[episode], ts, duration)
    docs = [d for d in docs if d["ts"] <= now]  # a play after an impression of the last minutes
    collection.insert_many(docs, ordered=False)
    plays = sum(d["type"] == "play" for d in docs)
    return {"impressions": len(docs) - plays, "plays": plays}


def _published(episode: dict) -> datetime:
    return episode.get("published_at") or datetime(2000, 1, 1, tzinfo=timezone.utc)


def _search(rng, episode: str, appeal: list[int], chunks: int, ts: datetime,
            duration: int) -> list[dict]:
    # Results: the episode's most appealing chunks, lightly shuffled, best first.
    pool = appeal[:RESULTS_PER_SEARCH + 3]
    shown = sorted(pool, key=lambda c: pool.index(c) + rng.uniform(0, 3))[:RESULTS_PER_SEARCH]
    docs = []
    for rank, chunk in enumerate(shown, start=1):
        docs.append({"ts": ts, "type": "impression", "episode_id": episode, "chunk_index": chunk,
                     "rank": rank, "duration_seconds": duration, "source": "lookup", "demo": True})
        if rng.random() < CLICK_THROUGH_RANK1 / rank:
            played = ts + timedelta(seconds=rng.expovariate(1 / 60))
            docs.append(_play(episode, chunk, played, duration))
            if chunk + 1 < chunks and rng.random() < NEXT_CHUNK:
                after = played + timedelta(seconds=duration)
                docs.append(_play(episode, chunk + 1, after, duration))
    return docs


def _play(episode: str, chunk: int, ts: datetime, duration: int) -> dict:
    return {"ts": ts, "type": "play", "episode_id": episode, "chunk_index": chunk,
            "duration_seconds": duration, "source": "sidecar", "demo": True}
