"""Choosing clips within a budget, and the learned model on a small log."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from podclips_dagster.core.demand.offline.model import DemandModel, train_demand_model
from podclips_dagster.core.demand.offline.scoring import select_clips_to_precut
from podclips_dagster.core.demand.offline.strategies import LearnedModel
from podclips_dagster.core.demand.online.sidecar_precut import SidecarPrecut
from podclips_dagster.core.spec import ClipSpec
from podclips_dagster.devstack.demand_world import SyntheticConfig, generate_world

SMALL = SyntheticConfig(seed=11, n_podcasts=12, back_catalogue_days=40, n_queries=800,
                        searches_per_day=400, warmup_days=1, days=5)


def scores(rows):
    return pd.DataFrame(rows, columns=["episode_id", "chunk_index", "score", "share_15",
                                       "share_30", "share_60"])


def test_selector_respects_budget_and_skips_existing():
    s = scores([
        ("a", 1, 9.0, 0, 1, 0),
        ("a", 2, 8.0, 0, 1, 0),
        ("b:x/y", 0, 7.0, 0, 1, 0),
        ("c", 5, 6.0, 0, 1, 0),
        ("d", 0, 0.0, 0, 1, 0),  # no demand: never cut
    ])
    existing = {("a", 1, 30), ClipSpec("b:x/y", 0, 30)}
    assert select_clips_to_precut(s, existing, budget=2) == [("a", 2, 30), ("c", 5, 30)]
    assert select_clips_to_precut(s, existing, budget=10) == [("a", 2, 30), ("c", 5, 30)]
    assert select_clips_to_precut(s, set(), budget=0) == []
    assert all(isinstance(k, ClipSpec) for k in select_clips_to_precut(s, [], budget=3))


def test_selector_cuts_duration_variants_in_proportion_to_demand():
    s = scores([
        ("a", 1, 10.0, 0.0, 0.6, 0.4),  # 30 s -> 6, 60 s -> 4
        ("b", 0, 5.0, 0.05, 0.95, 0.0),  # 15 s asked too rarely (< min_share)
        ("c", 2, 3.0, 1.0, 0.0, 0.0),  # only 15 s wanted
    ])
    got = select_clips_to_precut(s, {("a", 1, 30)}, budget=10)
    assert got == [("b", 0, 30), ("a", 1, 60), ("c", 2, 15)]


def test_sidecar_precut_queues_top_results_not_cut():
    fast = SidecarPrecut(max_rank=2)
    items = [{"episode_id": "a", "chunk_index": 1}, {"episode_id": "b", "chunk_index": 2},
             {"episode_id": "c", "chunk_index": 3}]
    assert fast.clips_to_queue(items, existing={("a", 1, 30)}) == [("b", 2, 30)]
    assert fast.clips_to_queue(items, existing=set(), duration_seconds=60) == [
        ("a", 1, 60), ("b", 2, 60)]
    # with more than `spare_hours` of budget unspent, lower ranks are queued too
    spare = fast.spare_hours + 1
    assert fast.clips_to_queue(items, {("a", 1, 30)}, spare_hours=spare) == [
        ("b", 2, 30), ("c", 3, 30)]
    assert not fast.wants_next_chunk(0.0) and fast.wants_next_chunk(spare)


@pytest.fixture(scope="module")
def small_world():
    return generate_world(SMALL)


def test_model_trains_scores_and_round_trips(small_world):
    log = small_world.log
    end = log["ts"].iloc[-1]
    model = train_demand_model(log, small_world.catalogue, small_world.eval_start, end,
                               every_hours=6)
    m = model.metrics
    assert m["trained_rows"] > 1000 and 0 < m["positive_rate"] < 0.5
    assert m["holdout_auc"] > 0.6  # better than chance on later, unseen sample times
    assert model.version.startswith("demand-logreg-v1-h24-")

    now = end - pd.Timedelta(hours=12)
    window = log[log["ts"] <= now]
    strategy = LearnedModel(model=model)
    scored = strategy.score_chunks(window, small_world.catalogue, now)
    assert ((scored["score"] > 0) & (scored["score"] < 1)).all()
    # shown at rank 1 in the last hour beats never shown
    just_shown = (scored["best_rank"] == 1) & (scored["hours_since_impression"] < 1)
    hot = scored[just_shown]["score"].median()
    cold = scored[scored["best_rank"].isna()]["score"].median()
    assert hot > cold
    clips = strategy.plan(window, small_world.catalogue, now, existing=set(), budget=25)
    assert len(clips) == 25 and len(set(clips)) == 25

    again = DemandModel.from_dict(json.loads(model.to_json()))
    assert again.version == model.version
    np.testing.assert_allclose(again.predict(scored), scored["score"].to_numpy())
