"""What the demand code reads and keeps in MongoDB, besides the events themselves.

- the catalogue frame the features need, read from the ingestion system's
  collections for the episodes that matter (never the whole catalogue, and
  never a chunk's embedding: chunk counts come from a `$group`);
- trained models (`demand_models`), the latest scores (`clip_demand_scores`)
  and per-podcast demand (`clip_demand_podcasts`), written by the Dagster
  assets and read by the schedule and the new-episode sensor;
- the clips that need no pre-cut: made already, or requested and on their way.
"""

from __future__ import annotations

import re
from datetime import datetime

import numpy as np
import pandas as pd
from bson import ObjectId
from pymongo import ASCENDING, DESCENDING, IndexModel

from podclips_dagster.core.demand.offline.model import DemandModel
from podclips_dagster.core.demand.online.events import COLLECTION as EVENTS_COLLECTION
from podclips_dagster.core.demand.online.events import EVENT_COLUMNS, as_utc
from podclips_dagster.core.requests import ClipRequests
from podclips_dagster.core.stores.clip_records import ClipRecords
from podclips_dagster.core.stores.indexes import ensure_indexes_once

MODELS_COLLECTION = "demand_models"
SCORES_COLLECTION = "clip_demand_scores"
PODCASTS_COLLECTION = "clip_demand_podcasts"
CATALOGUE_COLUMNS = ["episode_id", "podcast", "published_at", "chunks", "duration_s"]
SCORE_COLUMNS = ["episode_id", "chunk_index", "score", "share_15", "share_30", "share_60",
                 "impressions", "plays", "best_rank", "episode_age_hours"]
PODCAST_COLUMNS = ["podcast_impressions_decayed", "podcast_plays_decayed"]
_OBJECT_ID = re.compile(r"^[0-9a-fA-F]{24}$")
# An episode without `published_at` (the catalogue says it "may be missing") counts as old,
# so it neither looks fresh to the model nor breaks its arithmetic.
_UNDATED_AGE = pd.Timedelta(days=365)


def load_catalogue(catalogue, episode_ids, published_since: datetime,
                   now: datetime) -> tuple[pd.DataFrame, dict[str, str]]:
    """(catalogue frame, aliases) for `episode_ids` and episodes published since then.

    `aliases` maps a 24-hex ObjectId that some clients send as the episode id
    to the episode's guid, so their events count for the right episode.
    Episodes without chunks are left out: there is nothing to cut.
    """
    ids = sorted({str(e) for e in episode_ids})
    found = catalogue.episodes_published({"$gte": published_since, "$lte": now})
    for batch in batches(ids):
        found += catalogue.episodes_with("guid", batch)
    docs = {d["guid"]: d for d in found if d.get("guid")}
    aliases: dict[str, str] = {}
    for batch in batches([ObjectId(e) for e in ids if e not in docs and _OBJECT_ID.match(e)]):
        for d in catalogue.episodes_with("_id", batch):
            if d.get("guid"):
                aliases[str(d["_id"])] = d["guid"]
                docs[d["guid"]] = d
    counts = chunk_counts(catalogue, list(docs))
    rows = [{"episode_id": guid,
             "podcast": d.get("podcast_name") or d.get("feed_slug") or "unknown",
             "published_at": d.get("published_at") or (pd.Timestamp(now) - _UNDATED_AGE),
             "chunks": counts[guid], "duration_s": np.nan}
            for guid, d in docs.items() if counts.get(guid)]
    frame = pd.DataFrame(rows, columns=CATALOGUE_COLUMNS)
    frame["published_at"] = pd.to_datetime(frame["published_at"], utc=True)
    return frame.astype({"chunks": np.int64}), aliases


def chunk_counts(catalogue, guids: list[str]) -> dict[str, int]:
    """guid -> highest chunk index + 1 (indices are dense in practice, not by contract)."""
    counts = {}
    for batch in batches(guids):
        counts.update({guid: last + 1
                       for guid, last in catalogue.last_chunk_indexes(batch).items()})
    return counts


def batches(items: list, size: int = 20):
    """`$in` lists of `size`: SecantusDB's cost grows with list length times matches
    (400 ids over 40,000 clips: 10.6 s; 20 ids: 0.07 s); MongoDB does not mind."""
    for start in range(0, len(items), size):
        yield items[start:start + size]


def with_aliases(events: pd.DataFrame, aliases: dict[str, str]) -> pd.DataFrame:
    if not aliases:
        return events
    return events.assign(episode_id=events["episode_id"].replace(aliases))


# -- events -------------------------------------------------------------------

def load_events(collection, since: datetime, until: datetime | None = None) -> pd.DataFrame:
    """Events with since <= ts < until, oldest first, as EVENT_COLUMNS (ts in UTC).

    `rank` is NaN for plays and requests.
    """
    query: dict = {"ts": {"$gte": as_utc(since)}}
    if until is not None:
        query["ts"]["$lt"] = as_utc(until)
    projection = {"_id": 0, **{c: 1 for c in EVENT_COLUMNS}}
    docs = list(collection.find(query, projection).sort("ts", ASCENDING))
    frame = pd.DataFrame(docs, columns=EVENT_COLUMNS)
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
    frame["rank"] = frame["rank"].astype(float)
    frame["chunk_index"] = frame["chunk_index"].astype("int64")
    frame["duration_seconds"] = frame["duration_seconds"].fillna(30).astype("int64")
    return frame


# -- models -------------------------------------------------------------------

def save_model(db, model: DemandModel, trained_at: datetime) -> None:
    db[MODELS_COLLECTION].replace_one(
        {"_id": model.version},
        {"trained_at": trained_at, "metrics": model.metrics, "model": model.to_dict()}, upsert=True)


def latest_model(db) -> DemandModel | None:
    doc = db[MODELS_COLLECTION].find_one({}, sort=[("trained_at", DESCENDING)])
    return DemandModel.from_dict(doc["model"]) if doc else None


# -- scores -------------------------------------------------------------------

def save_scores(db, scores: pd.DataFrame, podcasts: pd.DataFrame, scored_at: datetime) -> None:
    """Replace the stored scores; readers take the newest `scored_at`, so they never see a mix."""
    coll = db[SCORES_COLLECTION]
    ensure_indexes_once(coll, IndexModel([("scored_at", DESCENDING), ("score", DESCENDING)],
                                         name="latest"))
    docs = scores[SCORE_COLUMNS].astype({"chunk_index": int}).to_dict("records")
    if docs:
        coll.insert_many([{**_plain(d), "scored_at": scored_at} for d in docs], ordered=False)
    coll.delete_many({"scored_at": {"$ne": scored_at}})
    pods = db[PODCASTS_COLLECTION]
    if len(podcasts):
        pods.insert_many([{"podcast": name, **_plain(row), "scored_at": scored_at}
                          for name, row in podcasts[PODCAST_COLUMNS].iterrows()], ordered=False)
    pods.delete_many({"scored_at": {"$ne": scored_at}})


def load_scores(db) -> tuple[pd.DataFrame, datetime | None]:
    """The latest stored scores (best first) and when they were computed."""
    coll = db[SCORES_COLLECTION]
    newest = coll.find_one({}, {"scored_at": 1}, sort=[("scored_at", DESCENDING)])
    if newest is None:
        return pd.DataFrame(columns=SCORE_COLUMNS), None
    docs = list(coll.find({"scored_at": newest["scored_at"]}, {"_id": 0, "scored_at": 0})
                .sort("score", DESCENDING))
    return pd.DataFrame(docs, columns=SCORE_COLUMNS), newest["scored_at"]


def podcast_demand(db, podcasts: list[str]) -> pd.DataFrame:
    """Decayed impressions and plays per podcast, as of the latest scores (0 when unknown)."""
    docs = db[PODCASTS_COLLECTION].find({"podcast": {"$in": podcasts}}, {"_id": 0, "scored_at": 0})
    known = pd.DataFrame(list(docs), columns=["podcast", *PODCAST_COLUMNS]).set_index("podcast")
    return known.reindex(podcasts).fillna(0.0)


def _plain(row) -> dict:
    """numpy scalars and NaN as what BSON stores (NaN becomes null)."""
    def plain(v):
        if isinstance(v, float) and np.isnan(v):
            return None
        return v.item() if hasattr(v, "item") else v

    return {k: plain(v) for k, v in dict(row).items()}


# -- what needs no pre-cut --------------------------------------------------------

def clips_not_to_cut(db, episode_ids) -> set[tuple[str, int, int]]:
    """Clips of these episodes that exist, or that an open request will make anyway, as
    (episode_id, chunk_index, duration_seconds) tuples (a ClipSpec equals its tuple; a
    malformed record still keeps its clip from being chosen)."""
    records, requests = ClipRecords.in_db(db), ClipRequests(db)
    found: set[tuple[str, int, int]] = set()
    for batch in batches(sorted({str(e) for e in episode_ids})):
        made = records.identities_of_episodes(batch)
        asked = requests.active_identities_of_episodes(batch)
        found |= {(d["episode_id"], int(d["chunk_index"]), int(d.get("duration_seconds") or 30))
                  for docs in (made, asked) for d in docs}
    return found


def events_since(db, since: datetime) -> pd.DataFrame:
    """`load_events` of the demand events collection."""
    return load_events(db[EVENTS_COLLECTION], since)
