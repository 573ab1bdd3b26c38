"""Scores that rank chunks by expected demand, and the budgeted choice of clips to cut.

Two transparent scores live here (the learned one is in model.py):
- `decay_score`: time-decayed, rank-weighted impressions plus plays nearby;
- `recent_score`: the opening chunks of new episodes of popular podcasts.

`select_clips_to_precut` turns any chunk score into clips: each chunk
is expanded into its 15/30/60 s variants in proportion to the durations its
events asked for, clips that exist are skipped, and the best `budget` clips
are returned.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from podclips_dagster.core.demand.offline.features import DURATIONS
from podclips_dagster.core.spec import ClipSpec


def decay_score(features: pd.DataFrame, play_weight: float = 0.5,
                neighbour_weight: float = 0.25) -> np.ndarray:
    """Decayed impressions weighted by 1/rank, plus decayed plays of the chunk
    (other durations) and of its neighbours (people keep listening)."""
    return (features["rank_weighted_impressions"].to_numpy()
            + play_weight * features["plays_decayed"].to_numpy()
            + neighbour_weight * features["neighbour_plays_decayed"].to_numpy())


def recent_score(features: pd.DataFrame, max_age_hours: float = 72.0,
                 first_chunks: int = 3) -> np.ndarray:
    """New episodes' opening chunks, ranked by their podcast's recent popularity and
    freshness; every other chunk scores 0."""
    age = features["episode_age_hours"].to_numpy()
    opening = features["chunk_index"].to_numpy() < first_chunks
    fresh = (age >= 0) & (age <= max_age_hours)
    popularity = 1.0 + features["podcast_plays_decayed"].to_numpy() \
        + 0.1 * features["podcast_impressions_decayed"].to_numpy()
    score = (popularity * np.exp(-np.maximum(age, 0) / 24.0)
             / (1.0 + features["chunk_index"].to_numpy()))
    return np.where(opening & fresh, score, 0.0)


def _variants(frame: pd.DataFrame, min_share: float) -> pd.DataFrame:
    parts = []
    for d in DURATIONS:
        col = f"share_{d}"
        share = (frame[col].to_numpy() if col in frame
                 else np.full(len(frame), 1.0 if d == 30 else 0.0))
        keep = share >= min_share
        parts.append(pd.DataFrame({
            "episode_id": frame["episode_id"].to_numpy()[keep],
            "chunk_index": frame["chunk_index"].to_numpy()[keep],
            "duration_seconds": d,
            "score": frame["score"].to_numpy()[keep] * share[keep],
        }))
    return pd.concat(parts, ignore_index=True)


def select_clips_to_precut(scores: pd.DataFrame, existing: Iterable, budget: int,
                                min_score: float = 0.0, min_share: float = 0.15) -> list[ClipSpec]:
    """The best-scored clips that do not exist yet, at most `budget` of them.

    `scores` has `episode_id`, `chunk_index`, `score` and optionally
    `share_15/30/60` (from the features): a chunk whose events asked for 60 s
    clips a quarter of the time yields a 60 s clip scored at a quarter of the
    chunk's score. Variants asked for less than `min_share` of the time are
    not cut. `existing` holds (episode_id, chunk_index, duration_seconds)
    tuples (ClipSpec or plain). Ties keep the input order, so equal input
    gives equal output.
    """
    if budget <= 0 or scores.empty:
        return []
    existing = existing if isinstance(existing, (set, frozenset, dict)) else set(existing)
    clips = _variants(scores[scores["score"] > min_score], min_share)
    clips = clips[clips["score"] > min_score]
    order = np.argsort(-clips["score"].to_numpy(), kind="stable")
    ids = clips["episode_id"].to_numpy()
    idx = clips["chunk_index"].to_numpy()
    dur = clips["duration_seconds"].to_numpy()
    chosen: list[ClipSpec] = []
    seen: set = set()
    for i in order:
        key = ClipSpec(ids[i], int(idx[i]), int(dur[i]))
        if key not in existing and key not in seen:
            seen.add(key)
            chosen.append(key)
            if len(chosen) >= budget:
                break
    return chosen
