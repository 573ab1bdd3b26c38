"""Pre-cut strategies: what to cut each hour, and what the lookup route
queues the moment it shows results (the sidecar pre-cut).

A strategy's `plan` is what the hourly `pregenerate_high_demand_clips`
schedule runs: events of the last few days + catalogue + the clips that
exist -> the clips to cut within a budget. The same objects run in the
replay benchmark, so what is measured is what production runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from podclips_dagster.core.demand.offline.features import (
    FeatureConfig,
    candidate_chunks,
    chunk_features,
)
from podclips_dagster.core.demand.offline.model import DemandModel
from podclips_dagster.core.demand.offline.scoring import (
    decay_score,
    recent_score,
    select_clips_to_precut,
)
from podclips_dagster.core.demand.online.sidecar_precut import SidecarPrecut
from podclips_dagster.core.spec import ClipSpec


@dataclass
class Strategy:
    """No prediction: clips are cut only when someone plays them."""

    name: str = "none"
    sidecar_precut: SidecarPrecut | None = None
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
             budget: int) -> list[ClipSpec]:
        if budget <= 0 or type(self).score is Strategy.score:
            return []
        return select_clips_to_precut(self.score_chunks(events, catalogue, now), existing, budget,
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
    # P(first play within 24 h) below 10 % is left to the sidecar pre-cut's spare budget
    # (chosen on the training world, seed 1001, not on the evaluation seed)
    min_score: float = 0.1

    def score(self, features):
        return self.model.predict(features)
