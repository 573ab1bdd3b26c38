"""Demand prediction: which clips to cut before anyone asks (DESIGN.md, "Demand").

- events: the `clip_demand_events` collection (batched writer, indexes, loader)
- features: per-chunk demand features as of a moment (pandas)
- scoring: transparent scores and the budgeted choice of clips to cut
- model: the learned model (logistic regression, numpy), its training and lift
- strategies: what the hourly schedule and the lookup route's fast path run
- synthetic / replay: a seeded world and the replay that measures strategies
- budget: the pre-generation budget per day, one counter shared by every door
- store: catalogue frames, models, scores and existing clips in MongoDB
- planning: what the Dagster assets, schedule and sensor run (train, score, plan)
- precut: the sidecar's fast path (queue pre-cuts of what it just showed or played)

Nothing here imports Dagster or FastAPI; the `clip_demand` asset and the
`pregenerate_high_demand_clips` schedule call these functions.
"""

from podclips_dagster.core.demand.events import (
    COLLECTION,
    DemandEventWriter,
    ensure_indexes,
    load_events,
)
from podclips_dagster.core.demand.features import FeatureConfig, candidate_chunks, chunk_features
from podclips_dagster.core.demand.model import DemandModel, train_demand_model
from podclips_dagster.core.demand.scoring import ClipKey, select_clips_to_pregenerate
from podclips_dagster.core.demand.strategies import (
    DecayScore,
    FastPath,
    LearnedModel,
    RecentEpisodes,
    Strategy,
)

__all__ = [
    "COLLECTION", "ClipKey", "DecayScore", "DemandEventWriter", "DemandModel", "FastPath",
    "FeatureConfig", "LearnedModel", "RecentEpisodes", "Strategy", "candidate_chunks",
    "chunk_features", "ensure_indexes", "load_events", "select_clips_to_pregenerate",
    "train_demand_model",
]
