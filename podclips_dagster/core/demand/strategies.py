"""Pre-generation strategies: what to cut each hour, and what the lookup route
queues the moment it shows results (the fast path of DESIGN.md).

A strategy's `plan` is what the hourly `pregenerate_high_demand_clips`
schedule runs: events of the last few days + catalogue + the clips that
exist -> the clips to cut within a budget. The same objects run in the
replay benchmark, so what is measured is what production runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

import numpy as np
import pandas as pd

from podclips_dagster.core.demand.features import FeatureConfig, candidate_chunks, chunk_features
from podclips_dagster.core.demand.model import DemandModel
from podclips_dagster.core.demand.scoring import (
    ClipKey,
    decay_score,
    recent_score,
    select_clips_to_pregenerate,
)


@dataclass(frozen=True)
class FastPath:
    """The lookup route queues a low-priority cut of the top results it shows.

    Results at rank <= `max_rank` are queued whenever the budget has a clip
    to spare; results down to `spare_max_rank`, and the chunk after one just
    played (people keep listening), only while more than `spare_hours` of
    budget is unspent (quiet hours, or a budget larger than demand), so a
    generous budget is used and a tight one goes to the top results. The sidecar calls `clips_to_queue` with the results it
    returns and the budget it has left, in hours of budget.
    """

    max_rank: int = 2
    spare_max_rank: int = 10
    spare_hours: float = 2.0
    budget_share: float = 0.5  # of each hour's budget, kept back from the hourly run
    next_chunk_on_play: bool = True  # with spare budget, a play queues the chunk after it

    def wants_next_chunk(self, spare_hours: float) -> bool:
        return self.next_chunk_on_play and spare_hours > self.spare_hours

    def wants(self, rank: float, spare_hours: float) -> bool:
        if rank <= 0:
            return False
        return rank <= self.max_rank or (rank <= self.spare_max_rank and spare_hours > self.spare_hours)

    def clips_to_queue(self, items: Iterable[dict], existing, spare_hours: float = 0.0,
                       duration_seconds: int = 30) -> list[ClipKey]:
        out = []
        for rank, item in enumerate(items, start=1):
            key = ClipKey(item["episode_id"], int(item["chunk_index"]),
                          int(item.get("duration_seconds", duration_seconds)))
            if self.wants(rank, spare_hours) and key not in existing:
                out.append(key)
        return out


@dataclass
class Strategy:
    """No prediction: clips are cut only when someone plays them."""

    name: str = "none"
    fast_path: FastPath | None = None
    min_score: float = 0.0  # the hourly run leaves the budget unspent below this score
    feature_config: FeatureConfig = field(default_factory=FeatureConfig)

    def score(self, features: pd.DataFrame) -> np.ndarray | None:
        return None

    def score_chunks(self, events: pd.DataFrame, catalogue: pd.DataFrame, now) -> pd.DataFrame:
        """Candidate chunks with their features and `score` (what `clip_demand` stores)."""
        features = chunk_features(events, catalogue, now, candidate_chunks(events, catalogue, now),
                                  self.feature_config)
        score = self.score(features)
        return features.assign(score=0.0 if score is None else score)

    def plan(self, events: pd.DataFrame, catalogue: pd.DataFrame, now, existing,
             budget: int) -> list[ClipKey]:
        if budget <= 0 or type(self).score is Strategy.score:
            return []
        return select_clips_to_pregenerate(self.score_chunks(events, catalogue, now), existing, budget,
                                           min_score=self.min_score)


@dataclass
class RecentEpisodes(Strategy):
    """The opening chunks of new episodes of popular podcasts."""

    name: str = "recent"
    max_age_hours: float = 72.0

    def score(self, features):
        return recent_score(features, self.max_age_hours)


@dataclass
class DecayScore(Strategy):
    """Transparent: rank-weighted decayed impressions plus plays nearby."""

    name: str = "decay"

    def score(self, features):
        return decay_score(features)


@dataclass
class LearnedModel(Strategy):
    """P(first play within the model's horizon), from a trained DemandModel."""

    name: str = "model"
    model: DemandModel | None = None
    # P(first play within 24 h) below 10 % is left to the fast path's spare budget
    # (chosen on the training world, seed 1001, not on the evaluation seed)
    min_score: float = 0.1

    def score(self, features):
        return self.model.predict(features)
