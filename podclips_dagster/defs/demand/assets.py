"""Demand assets: the daily model and the hourly scores that the pre-cut schedule reads.

Both keep their output in MongoDB (`demand_models`, `clip_demand_scores`), where
the schedule, the sensor and the sidecar read it; the materialization carries
what a person wants to see: the top clips, the score distribution, the model
in use and its measured lift.
"""

from datetime import UTC, datetime, timedelta

import dagster as dg
import numpy as np

from podclips_dagster.core.demand.offline.planning import (
    MIN_MODEL_AUC,
    DemandScores,
    choose_strategy,
    score_clip_demand,
    train_from_history,
)
from podclips_dagster.core.demand.offline.store import save_model
from podclips_dagster.defs.clips.assets import episode_metadata, transcript_chunks
from podclips_dagster.defs.ownership import OWNERS, domain
from podclips_dagster.defs.resources import ClipServiceResource

PREVIEW_ROWS = 20
# Scored hourly and trained daily (defs/demand/schedules.py): a missed run warns, two fail.
CLIP_DEMAND_FRESHNESS = dg.FreshnessPolicy.time_window(
    fail_window=timedelta(hours=2), warn_window=timedelta(minutes=70))
DEMAND_MODEL_FRESHNESS = dg.FreshnessPolicy.time_window(
    fail_window=timedelta(hours=48), warn_window=timedelta(hours=25))

# Written by the sidecar (lookup impressions, plays); observed, never copied.
clip_demand_events = dg.AssetSpec(
    "clip_demand_events", group_name="demand", kinds={"mongodb"},
    owners=OWNERS, tags=domain("demand"),
    description="Search impressions, plays and requests in MongoDB `clip_demand_events` "
    "(written in batches by the sidecar; 30-day TTL).",
)

SCORE_SCHEMA = dg.TableSchema(columns=[
    dg.TableColumn("episode_id", "string", description="the episode's guid"),
    dg.TableColumn("chunk_index", "int"),
    dg.TableColumn("score", "float", description="P(first play within 24 h) from the model, "
                   "or the decayed score when no model is in use"),
    dg.TableColumn("share_15", "float", description="share of the chunk's demand asking for 15 s"),
    dg.TableColumn("share_30", "float", description="... for 30 s"),
    dg.TableColumn("share_60", "float", description="... for 60 s"),
    dg.TableColumn("impressions", "float", description="search impressions in the last 72 h"),
    dg.TableColumn("plays", "float", description="plays and requests in the last 72 h"),
    dg.TableColumn("best_rank", "float", description="best search rank shown (empty: never shown)"),
    dg.TableColumn("episode_age_hours", "float"),
])


@dg.asset(
    deps=[clip_demand_events, episode_metadata, transcript_chunks],
    group_name="demand", kinds={"pandas", "mongodb"},
    owners=OWNERS, tags=domain("demand"), freshness_policy=DEMAND_MODEL_FRESHNESS,
    description="The learned demand model (logistic regression): P(a chunk's first play comes "
    "within 24 h), trained daily on the last 14 days of demand events and stored in MongoDB "
    "`demand_models`.",
)
def demand_model(context: dg.AssetExecutionContext,
                 clip_service: ClipServiceResource) -> dg.MaterializeResult:
    service = clip_service.get_service()
    now = datetime.now(UTC)
    try:
        model = train_from_history(service, now)
    except ValueError as err:
        raise dg.Failure(description=f"cannot train the demand model: {err}",
                         allow_retries=False) from None
    save_model(service.db, model, now)
    metrics = model.metrics
    context.log.info("trained %s: hold-out AUC %.3f, lift in top 5%% %.1fx on %d rows",
                     model.version, metrics["holdout_auc"], metrics["holdout_lift_top_5pct"],
                     metrics["trained_rows"])
    if choose_strategy(model).name != "model":
        context.log.warning("hold-out AUC below %.1f (or not measurable): clip_demand keeps "
                            "the time-decayed score", MIN_MODEL_AUC)
    return dg.MaterializeResult(metadata={
        "model_version": model.version,
        "holdout_auc": float(metrics["holdout_auc"]),
        "holdout_lift_top_5pct": float(metrics["holdout_lift_top_5pct"]),
        "trained_rows": int(metrics["trained_rows"]),
        "positive_rate": float(metrics["positive_rate"]),
        "coefficients": dg.MetadataValue.json(model.coefficients()),
    })


@dg.asset(
    deps=[demand_model, clip_demand_events, episode_metadata, transcript_chunks],
    group_name="demand", kinds={"pandas", "mongodb"},
    owners=OWNERS, tags=domain("demand"), freshness_policy=CLIP_DEMAND_FRESHNESS,
    description="Expected demand per (episode, chunk) from the last 72 h of impressions and "
    "plays: every candidate chunk is scored (by demand_model's latest model when its hold-out "
    "AUC is at least 0.6, else by the time-decayed score), and the top ones worth cutting are "
    "stored in MongoDB `clip_demand_scores` for the pregenerate_high_demand_clips schedule.",
)
def clip_demand(context: dg.AssetExecutionContext,
                clip_service: ClipServiceResource) -> dg.MaterializeResult:
    result = score_clip_demand(clip_service.get_service(), datetime.now(UTC))
    context.log.info("%d event(s) over %d episode(s): %d candidate chunk(s) scored by %s, "
                     "%d stored", result.events, result.episodes, len(result.scores),
                     result.strategy.name, len(result.stored))
    return dg.MaterializeResult(metadata=demand_metadata(result))


def demand_metadata(result: DemandScores) -> dict:
    strategy, model, scores = result.strategy, result.model, result.scores["score"].to_numpy()
    metadata = {
        "dagster/row_count": len(result.stored),
        "dagster/column_schema": SCORE_SCHEMA,
        "top_clips": dg.MetadataValue.table(_records(result.stored.head(PREVIEW_ROWS)),
                                            SCORE_SCHEMA),
        "score_distribution": dg.MetadataValue.md(_distribution(scores, strategy.min_score)),
        "scorer": strategy.name,
        "min_score": float(strategy.min_score),
        "events": result.events,
        "episodes": result.episodes,
        "candidates": len(scores),
        "scored_at": result.scored_at.isoformat(),
    }
    if model is not None:
        metadata.update({
            "model_version": model.version,
            "model_in_use": strategy.name == "model",
            "model_holdout_auc": float(model.metrics.get("holdout_auc", float("nan"))),
            "model_lift_top_5pct": float(model.metrics.get("holdout_lift_top_5pct", float("nan"))),
        })
    return metadata


def _distribution(scores: np.ndarray, min_score: float) -> str:
    if not len(scores):
        return "no candidate chunks (no demand events in the last 72 h, no new episodes)"
    p50, p90, p99 = np.quantile(scores, [0.5, 0.9, 0.99])
    return ("| candidates | p50 | p90 | p99 | max | above min score |\n|---|---|---|---|---|---|\n"
            f"| {len(scores)} | {p50:.4g} | {p90:.4g} | {p99:.4g} | {scores.max():.4g} "
            f"| {int((scores > min_score).sum())} |")


def _records(frame) -> list[dg.TableRecord]:
    def plain(value):
        if isinstance(value, (np.floating, float)):
            return None if np.isnan(value) else round(float(value), 6)
        return value.item() if isinstance(value, np.generic) else value

    return [dg.TableRecord({c.name: plain(row[c.name]) for c in SCORE_SCHEMA.columns})
            for _, row in frame.iterrows()]
