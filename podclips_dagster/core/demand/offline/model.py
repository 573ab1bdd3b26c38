"""The learned demand model: P(a chunk's first play comes within the next N hours).

It is a logistic regression over a handful of transformed features, fitted
with Newton's method in numpy: a few dozen coefficients that a person can
read (`DemandModel.coefficients()`), stored as JSON (`to_dict`/`from_dict`),
and no extra dependency for the Dagster image or the Lambda.

Training replays the history itself: at sample times t (every few hours) the
features of the candidate chunks not yet played are computed from events
before t only, and the label says whether the chunk's first play came in
(t, t + horizon]. The last quarter of the sample times is held out to
measure AUC and lift before the model is refitted on everything.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from podclips_dagster.core.demand.offline.features import (
    FeatureConfig,
    candidate_chunks,
    chunk_features,
)

MODEL_FAMILY = "demand-logreg-v1"


def _log(x) -> np.ndarray:
    return np.log1p(np.maximum(np.asarray(x, dtype=float), 0.0))


def model_matrix(f: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
    """The model's inputs, derived from chunk_features columns."""
    shown = f["best_rank"].notna().to_numpy()
    inv_rank = np.where(shown, 1.0 / f["best_rank"].fillna(1.0).to_numpy(), 0.0)
    age = np.maximum(f["episode_age_hours"].to_numpy(dtype=float), 0.0)
    fresh = np.exp(-age / 24.0)
    opening = (f["chunk_index"].to_numpy() < 3).astype(float)
    cols = {
        "log_impressions": _log(f["impressions"]),
        "log_impressions_decayed": _log(f["impressions_decayed"]),
        "log_impressions_short": _log(f["impressions_short"]),
        "log_rank_weighted": _log(f["rank_weighted_impressions"]),
        "inverse_best_rank": inv_rank,
        "shown": shown.astype(float),
        "log_hours_since_impression": np.where(
            shown, _log(f["hours_since_impression"].fillna(0)), 0.0),
        "log_plays_decayed": _log(f["plays_decayed"]),
        "log_neighbour_impressions": _log(f["neighbour_impressions_decayed"]),
        "log_neighbour_plays": _log(f["neighbour_plays_decayed"]),
        "log_episode_impressions": _log(f["episode_impressions_decayed"]),
        "log_episode_plays": _log(f["episode_plays_decayed"]),
        "log_podcast_impressions": _log(f["podcast_impressions_decayed"]),
        "log_podcast_plays": _log(f["podcast_plays_decayed"]),
        "fresh": fresh,
        "log_age_days": _log(age / 24.0),
        "opening": opening,
        "fresh_opening": fresh * opening,
        "fresh_opening_popularity": fresh * opening * _log(f["podcast_plays_decayed"]),
        "position": f["position"].to_numpy(dtype=float),
        "rank_x_recent": inv_rank * _log(f["impressions_short"]),
    }
    return np.column_stack(list(cols.values())), list(cols)


def _fit_logistic(x: np.ndarray, y: np.ndarray, l2: float, iterations: int = 25) -> np.ndarray:
    """Newton-Raphson (IRLS) with an L2 penalty; the intercept is not penalised."""
    xb = np.column_stack([np.ones(len(x)), x])
    w = np.zeros(xb.shape[1])
    penalty = np.full(xb.shape[1], l2)
    penalty[0] = 0.0
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-np.clip(xb @ w, -35, 35)))
        grad = xb.T @ (p - y) + penalty * w
        hess = (xb * (p * (1 - p))[:, None]).T @ xb + np.diag(penalty + 1e-9)
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-6:
            break
    return w


def auc(y: np.ndarray, score: np.ndarray) -> float:
    """Area under the ROC curve (rank formulation, ties averaged)."""
    y = np.asarray(y, dtype=bool)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if not n_pos or not n_neg:
        return float("nan")
    ranks = pd.Series(score).rank(method="average").to_numpy()
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def lift_at(y: np.ndarray, score: np.ndarray, fraction: float) -> float:
    """Positive rate among the top `fraction` of scores over the overall rate."""
    y = np.asarray(y, dtype=float)
    k = max(1, int(round(fraction * len(y))))
    top = np.argsort(-score, kind="stable")[:k]
    return float(y[top].mean() / y.mean()) if y.mean() > 0 else float("nan")


@dataclass
class DemandModel:
    weights: np.ndarray  # intercept first
    mean: np.ndarray
    scale: np.ndarray
    names: list[str]
    horizon_hours: float
    metrics: dict = field(default_factory=dict)

    @property
    def version(self) -> str:
        digest = hashlib.sha1(np.round(self.weights, 6).tobytes()).hexdigest()[:8]
        return f"{MODEL_FAMILY}-h{self.horizon_hours:g}-{digest}"

    def predict(self, features: pd.DataFrame) -> np.ndarray:
        """P(first play within the horizon) for each row of chunk_features."""
        x, _ = model_matrix(features)
        z = self.weights[0] + ((x - self.mean) / self.scale) @ self.weights[1:]
        return 1.0 / (1.0 + np.exp(-np.clip(z, -35, 35)))

    def coefficients(self) -> dict[str, float]:
        return {"intercept": float(self.weights[0]),
                **{n: float(w) for n, w in zip(self.names, self.weights[1:], strict=False)}}

    def to_dict(self) -> dict:
        return {"family": MODEL_FAMILY, "version": self.version, "names": self.names,
                "weights": self.weights.tolist(), "mean": self.mean.tolist(),
                "scale": self.scale.tolist(), "horizon_hours": self.horizon_hours,
                "metrics": self.metrics}

    @classmethod
    def from_dict(cls, data: dict) -> DemandModel:
        if data.get("family") != MODEL_FAMILY:
            raise ValueError(f"not a {MODEL_FAMILY} model: {data.get('family')!r}")
        return cls(np.array(data["weights"]), np.array(data["mean"]), np.array(data["scale"]),
                   list(data["names"]), float(data["horizon_hours"]), dict(data.get("metrics", {})))

    def to_json(self) -> str:
        return json.dumps(self.to_dict())


def training_set(events: pd.DataFrame, catalogue: pd.DataFrame, times, horizon_hours: float = 24.0,
                 lookback_hours: float = 72.0, config: FeatureConfig = FeatureConfig()):
    """(features, labels, sample time per row) for chunks not yet played at each time."""
    events = events.sort_values("ts", kind="stable").reset_index(drop=True)
    ts = pd.to_datetime(events["ts"], utc=True)
    plays = events[events["type"] != "impression"]
    first_play = pd.to_datetime(plays.groupby(["episode_id", "chunk_index"])["ts"].min(), utc=True)
    frames, labels, stamps = [], [], []
    for t in times:
        t = pd.Timestamp(t)
        lo = ts.searchsorted(t - pd.Timedelta(hours=lookback_hours))
        hi = ts.searchsorted(t, side="right")
        window = events.iloc[lo:hi]
        cand = candidate_chunks(window, catalogue, t)
        first = first_play.reindex(pd.MultiIndex.from_frame(cand)).to_numpy()
        first = pd.to_datetime(first, utc=True)
        unplayed = ~(first <= t)
        cand = cand[unplayed]
        first = first[unplayed]
        frames.append(chunk_features(window, catalogue, t, cand, config))
        labels.append(np.asarray(first <= t + pd.Timedelta(hours=horizon_hours)))
        stamps.append(np.full(len(cand), t.value))
    return (pd.concat(frames, ignore_index=True), np.concatenate(labels).astype(float),
            np.concatenate(stamps))


def _fit(features: pd.DataFrame, y: np.ndarray, horizon: float, l2: float) -> DemandModel:
    x, names = model_matrix(features)
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0] = 1.0
    w = _fit_logistic((x - mean) / scale, y, l2)
    return DemandModel(w, mean, scale, names, horizon)


def train_demand_model(events: pd.DataFrame, catalogue: pd.DataFrame, start, end,
                       every_hours: float = 3.0, horizon_hours: float = 24.0, l2: float = 1.0,
                       config: FeatureConfig = FeatureConfig()) -> DemandModel:
    """Fit on samples every `every_hours` in [start, end - horizon]; report hold-out
    AUC and lift on the last quarter of sample times in `metrics`."""
    times = pd.date_range(pd.Timestamp(start),
                          pd.Timestamp(end) - pd.Timedelta(hours=horizon_hours),
                          freq=pd.Timedelta(hours=every_hours))
    if len(times) < 4:
        raise ValueError("not enough history to train: need at least 4 sample times before "
                         "the horizon")
    features, y, stamps = training_set(events, catalogue, times, horizon_hours, config=config)
    if y.sum() == 0:
        raise ValueError("no first plays in the training history")
    split = times[int(len(times) * 0.75)].value
    fit, hold = stamps < split, stamps >= split
    probe = _fit(features[fit], y[fit], horizon_hours, l2)
    p_hold = probe.predict(features[hold])
    model = _fit(features, y, horizon_hours, l2)
    model.metrics = {
        "trained_rows": int(len(y)), "positive_rate": float(y.mean()),
        "sample_times": int(len(times)), "holdout_auc": auc(y[hold], p_hold),
        "holdout_lift_top_5pct": lift_at(y[hold], p_hold, 0.05),
        "trained_from": str(pd.Timestamp(start)), "trained_until": str(pd.Timestamp(end)),
    }
    return model
