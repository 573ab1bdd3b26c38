"""Demand features per chunk, from demand events and the catalogue, as of a moment.

Input frames:
- events: `ts` (UTC), `type` ("impression" | "play" | "request"),
  `episode_id`, `chunk_index`, `rank` (impressions; NaN otherwise) and
  `duration_seconds` (or `duration`, as in a replay log; 30 when missing).
  Only events at or before `now` count.
- catalogue: `episode_id`, `podcast`, `published_at`, `chunks`, `duration_s`.

"Decayed" sums weigh an event `2 ** -(age / half_life)`, so an impression an
hour old counts 1 with no decay, 0.5 at one half-life, and so on. Plays and
clip requests are both "plays": someone wanted the audio. Events for episodes
not in the catalogue are ignored (they cannot be cut anyway).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

DURATIONS = (15, 30, 60)
_KEY = 1 << 21  # chunk_index < 2**21 (the spec allows up to 1,000,000)


@dataclass(frozen=True)
class FeatureConfig:
    half_life_hours: float = 6.0
    short_half_life_hours: float = 1.0
    podcast_half_life_hours: float = 72.0


FEATURE_COLUMNS = [
    "impressions", "impressions_decayed", "impressions_short", "rank_weighted_impressions",
    "best_rank", "hours_since_impression", "plays", "plays_decayed",
    "neighbour_impressions_decayed", "neighbour_plays_decayed",
    "episode_impressions_decayed", "episode_plays_decayed",
    "podcast_impressions_decayed", "podcast_plays_decayed",
    "episode_age_hours", "chunk_index", "position", "chunks",
] + [f"share_{d}" for d in DURATIONS]


def _utc(now) -> pd.Timestamp:
    now = pd.Timestamp(now)
    return now.tz_localize("UTC") if now.tzinfo is None else now.tz_convert("UTC")


def _hours_before(ts: pd.Series, now: pd.Timestamp) -> np.ndarray:
    ts = pd.to_datetime(ts, utc=True)
    return (now - ts).dt.total_seconds().to_numpy() / 3600.0


def _durations(events: pd.DataFrame) -> np.ndarray:
    col = "duration_seconds" if "duration_seconds" in events else "duration"
    if col not in events:
        return np.full(len(events), 30)
    return events[col].fillna(30).to_numpy(dtype=np.int64)


def _event_table(events: pd.DataFrame, catalogue: pd.DataFrame, now: pd.Timestamp,
                 cfg: FeatureConfig) -> pd.DataFrame:
    """One row per usable event: its chunk key and its weights."""
    code = pd.Index(catalogue["episode_id"]).get_indexer(events["episode_id"])
    age = _hours_before(events["ts"], now)
    keep = (code >= 0) & (age >= 0)
    age = age[keep]
    kind = events["type"].to_numpy()[keep]
    imp = kind == "impression"
    rank = (events["rank"].to_numpy(dtype=float)[keep] if "rank" in events
            else np.full(keep.sum(), np.nan))
    w = 0.5 ** (age / cfg.half_life_hours)
    table = pd.DataFrame({
        "key": (code[keep].astype(np.int64) * _KEY
                + events["chunk_index"].to_numpy(dtype=np.int64)[keep]),
        "imp": imp.astype(float),
        "imp_w": np.where(imp, w, 0.0),
        "imp_short": np.where(imp, 0.5 ** (age / cfg.short_half_life_hours), 0.0),
        "imp_rank_w": np.where(imp, w / np.where(imp, rank, 1.0), 0.0),
        "rank": np.where(imp, rank, np.nan),
        "imp_age": np.where(imp, age, np.nan),
        "play": (~imp).astype(float),
        "play_w": np.where(imp, 0.0, w),
        "pod_imp_w": np.where(imp, 0.5 ** (age / cfg.podcast_half_life_hours), 0.0),
        "pod_play_w": np.where(imp, 0.0, 0.5 ** (age / cfg.podcast_half_life_hours)),
    })
    dur = _durations(events)[keep]
    for d in DURATIONS:
        table[f"dur_{d}"] = np.where(dur == d, w, 0.0)
    return table


def candidate_chunks(events: pd.DataFrame, catalogue: pd.DataFrame, now,
                     recent_hours: float = 72.0, first_chunks: int = 3) -> pd.DataFrame:
    """Chunks worth scoring: any with events, the chunk after a played one, and the
    opening chunks of episodes published in the last `recent_hours`."""
    now = _utc(now)
    age = _hours_before(events["ts"], now)
    ev = events[age >= 0]
    parts = [ev[["episode_id", "chunk_index"]]]
    played = ev[ev["type"] != "impression"]
    parts.append(played[["episode_id"]].assign(chunk_index=played["chunk_index"].to_numpy() + 1))
    pub_age = _hours_before(catalogue["published_at"], now)
    recent = catalogue[(pub_age >= 0) & (pub_age <= recent_hours)]
    if len(recent):
        parts.append(pd.DataFrame({
            "episode_id": np.repeat(recent["episode_id"].to_numpy(), first_chunks),
            "chunk_index": np.tile(np.arange(first_chunks), len(recent)),
        }))
    cand = pd.concat(parts, ignore_index=True).drop_duplicates()
    chunks = cand["episode_id"].map(catalogue.set_index("episode_id")["chunks"])
    cand = cand[cand["chunk_index"].to_numpy() < chunks.fillna(0).to_numpy()]
    return cand.astype({"chunk_index": np.int64}).reset_index(drop=True)


def chunk_features(events: pd.DataFrame, catalogue: pd.DataFrame, now,
                   candidates: pd.DataFrame | None = None,
                   config: FeatureConfig = FeatureConfig()) -> pd.DataFrame:
    """One row per candidate chunk (default: `candidate_chunks`) with FEATURE_COLUMNS.

    `best_rank` and `hours_since_impression` are NaN for a chunk never shown;
    `share_D` is the decayed share of the chunk's events asking for a D-second
    clip (all 30 s when it has none).
    """
    now = _utc(now)
    if candidates is None:
        candidates = candidate_chunks(events, catalogue, now)
    cat_index = pd.Index(catalogue["episode_id"])
    cand_code = cat_index.get_indexer(candidates["episode_id"])
    if (cand_code < 0).any():
        raise ValueError("candidates hold episodes that are not in the catalogue")
    cand_chunk = candidates["chunk_index"].to_numpy(dtype=np.int64)
    cand_key = cand_code.astype(np.int64) * _KEY + cand_chunk

    table = _event_table(events, catalogue, now, config)
    per_chunk = table.groupby("key", sort=False).agg(
        impressions=("imp", "sum"), impressions_decayed=("imp_w", "sum"),
        impressions_short=("imp_short", "sum"), rank_weighted_impressions=("imp_rank_w", "sum"),
        best_rank=("rank", "min"), hours_since_impression=("imp_age", "min"),
        plays=("play", "sum"), plays_decayed=("play_w", "sum"),
        **{f"dur_{d}": (f"dur_{d}", "sum") for d in DURATIONS},
    )
    out = per_chunk.reindex(cand_key)
    sums = [c for c in out.columns if c not in ("best_rank", "hours_since_impression")]
    out[sums] = out[sums].fillna(0.0)
    before, after = per_chunk.reindex(cand_key - 1), per_chunk.reindex(cand_key + 1)
    for col in ("impressions_decayed", "plays_decayed"):
        out[f"neighbour_{col}"] = (before[col].fillna(0.0).to_numpy()
                                   + after[col].fillna(0.0).to_numpy())

    episode = table.assign(code=table["key"] // _KEY).groupby("code")[["imp_w", "play_w"]].sum()
    ep = episode.reindex(cand_code).fillna(0.0)
    out["episode_impressions_decayed"] = ep["imp_w"].to_numpy()
    out["episode_plays_decayed"] = ep["play_w"].to_numpy()

    podcast_codes, _ = pd.factorize(catalogue["podcast"])
    podcast = table.assign(pod=podcast_codes[table["key"].to_numpy() // _KEY]).groupby("pod")[
        ["pod_imp_w", "pod_play_w"]].sum().reindex(podcast_codes[cand_code]).fillna(0.0)
    out["podcast_impressions_decayed"] = podcast["pod_imp_w"].to_numpy()
    out["podcast_plays_decayed"] = podcast["pod_play_w"].to_numpy()

    out["episode_age_hours"] = _hours_before(catalogue["published_at"], now)[cand_code]
    chunks = catalogue["chunks"].to_numpy(dtype=float)[cand_code]
    out["chunk_index"] = cand_chunk
    out["position"] = cand_chunk / np.maximum(chunks, 1.0)
    out["chunks"] = chunks
    total = out[[f"dur_{d}" for d in DURATIONS]].sum(axis=1).to_numpy()
    for d in DURATIONS:
        default = 1.0 if d == 30 else 0.0
        out[f"share_{d}"] = np.where(
            total > 0, out[f"dur_{d}"].to_numpy() / np.where(total > 0, total, 1), default)

    result = out[FEATURE_COLUMNS].reset_index(drop=True)
    result.insert(0, "episode_id", candidates["episode_id"].to_numpy())
    return result
