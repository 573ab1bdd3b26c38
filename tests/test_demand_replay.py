"""The replay benchmark: its files, its JSON line, and reproducibility."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from podclips_dagster.core.demand.offline.strategies import DecayScore, Strategy
from podclips_dagster.core.demand.online.sidecar_precut import SidecarPrecut
from podclips_dagster.devstack.demand_world import SyntheticConfig, generate_world
from simulation.replay import (
    PreparedLog,
    read_catalogue,
    read_log,
    replay,
    write_catalogue,
    write_log,
)

ROOT = Path(__file__).resolve().parents[1]
TINY = SyntheticConfig(seed=5, n_podcasts=10, back_catalogue_days=30, n_queries=500,
                       searches_per_day=300, warmup_days=1, days=5)


@pytest.fixture(scope="module")
def world():
    return generate_world(TINY)


def test_same_seed_same_world_and_result(world):
    again = generate_world(TINY)
    pd.testing.assert_frame_equal(world.catalogue, again.catalogue)
    pd.testing.assert_frame_equal(world.log, again.log)
    other = generate_world(SyntheticConfig(**{**TINY.__dict__, "seed": 6}))
    assert not other.log["episode_id"].equals(world.log["episode_id"].iloc[: len(other.log)])

    strategy = DecayScore(name="decay+fast", sidecar_precut=SidecarPrecut())
    a = replay(PreparedLog(world.catalogue, world.log), strategy, world.eval_start)
    b = replay(PreparedLog(again.catalogue, again.log), strategy, world.eval_start)
    assert a == b
    assert 0 < a.precut <= a.budget
    assert a.metrics()["chunks_fraction"] <= 0.05


def test_replay_counts_hits_misses_and_budget():
    catalogue = pd.DataFrame({"episode_id": ["e"], "podcast": ["p"],
                              "published_at": [pd.Timestamp("2025-01-01T00:00:00Z")],
                              "chunks": [100], "duration_s": [3000.0]})
    t0 = pd.Timestamp("2025-03-03T00:00:00Z")
    rows = [(0, "impression", 1, 1), (60, "play", 1, None), (90, "play", 1, None),
            (120, "impression", 2, 3), (130, "play", 2, None), (7200, "play", 3, None)]
    log = pd.DataFrame({"ts": [t0 + pd.Timedelta(seconds=s) for s, *_ in rows],
                        "type": [r[1] for r in rows], "episode_id": "e",
                        "chunk_index": [r[2] for r in rows],
                        "rank": [float("nan") if r[3] is None else float(r[3]) for r in rows],
                        "duration": 30})
    prepared = PreparedLog(catalogue, log)
    none = replay(prepared, Strategy(), t0)
    assert (none.plays, none.first_plays, none.hits, none.precut,
            none.cut_on_miss) == (4, 3, 1, 0, 3)
    assert (none.missed_unseen, none.missed_late) == (1, 0)  # chunk 3 was never shown
    # budget: 5 % of 100 chunks = 5 clips over 2 h, never 2 h spare: only rank <= 2 is queued
    fast = replay(prepared, Strategy(name="fast", sidecar_precut=SidecarPrecut(max_rank=2)), t0)
    assert (fast.first_play_hits, fast.hits, fast.precut, fast.precut_played) == (1, 2, 1, 1)
    assert (fast.missed_unseen, fast.missed_late) == (1, 0)  # chunk 2 was shown at rank 3, not cut
    assert fast.metrics() == {"first_play_hit_rate": 1 / 3, "overall_hit_rate": 0.5,
                              "clips_cut": 1, "chunks_fraction": 0.01}
    # a generous budget: rank 3 and the chunk after each play are queued as well
    spare = replay(prepared, Strategy(name="spare",
                                      sidecar_precut=SidecarPrecut(max_rank=2, spare_hours=0.5)),
                   t0, budget_fraction=0.5)
    assert (spare.first_play_hits, spare.precut, spare.precut_played) == (3, 4, 3)
    # a pre-cut that is not ready yet when the play comes is a miss
    slow = replay(prepared, Strategy(name="slow", sidecar_precut=SidecarPrecut(max_rank=2)), t0,
                  sidecar_precut_latency_s=120)
    assert slow.first_play_hits == 0 and slow.precut == 1
    assert (slow.missed_unseen, slow.missed_late) == (1, 1)


def test_files_round_trip(world, tmp_path):
    write_catalogue(world.catalogue, tmp_path / "c.jsonl")
    write_log(world.log, tmp_path / "l.jsonl")
    first = json.loads((tmp_path / "l.jsonl").read_text().splitlines()[0])
    assert set(first) <= {"ts", "type", "episode_id", "chunk_index", "rank", "duration"}
    assert first["ts"].endswith("Z")
    pd.testing.assert_frame_equal(read_catalogue(tmp_path / "c.jsonl"), world.catalogue,
                                  check_dtype=False)
    pd.testing.assert_frame_equal(read_log(tmp_path / "l.jsonl"), world.log, check_dtype=False)


def test_benchmark_prints_table_and_json_line(world, tmp_path):
    write_catalogue(world.catalogue, tmp_path / "c.jsonl")
    write_log(world.log, tmp_path / "l.jsonl")
    out = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "demand_replay.py"),
         "--catalogue", str(tmp_path / "c.jsonl"), "--log", str(tmp_path / "l.jsonl")],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert any(line.startswith("strategy") for line in lines)
    assert "trained on l.jsonl before" in out.stdout
    result = json.loads(lines[-1])
    assert list(result) == ["strategies"]
    assert {"none", "recent", "decay", "model"} <= set(result["strategies"])
    for m in result["strategies"].values():
        assert set(m) == {"first_play_hit_rate", "overall_hit_rate", "clips_cut", "chunks_fraction"}
        assert 0 <= m["first_play_hit_rate"] <= 1 and 0 <= m["overall_hit_rate"] <= 1
        assert 0 <= m["chunks_fraction"] <= 0.05
    assert result["strategies"]["none"]["clips_cut"] == 0


def test_benchmark_rejects_bad_arguments(tmp_path):
    script = str(ROOT / "benchmarks" / "demand_replay.py")
    out = subprocess.run([sys.executable, script, "--log", "x.jsonl"], capture_output=True,
                         text=True)
    assert out.returncode == 2 and "--catalogue and --log go together" in out.stderr
    (tmp_path / "c.jsonl").write_text('{"episode_id": "e", "chunks": 3}\n')
    (tmp_path / "l.jsonl").write_text('{"ts": "2025-03-03T00:00:00Z", "type": "click"}\n')
    out = subprocess.run([sys.executable, script, "--catalogue", str(tmp_path / "c.jsonl"),
                          "--log", str(tmp_path / "l.jsonl")], capture_output=True, text=True)
    assert out.returncode == 2 and "missing episode_id, chunk_index" in out.stderr


def test_generated_interest_falls_with_age_and_favours_a_few_episodes():
    """The issue's world: Zipf popularity over episodes and recency decay of interest."""
    cfg = SyntheticConfig(seed=7, n_podcasts=10, back_catalogue_days=365, n_queries=2000,
                          searches_per_day=400, warmup_days=1, days=3)

    def shown_per_episode(cfg):
        w = generate_world(cfg)
        shown = w.log[w.log["type"] == "impression"].groupby("episode_id").size()
        cat = w.catalogue.set_index("episode_id")
        age_days = (pd.Timestamp(cfg.start) - cat["published_at"]).dt.days
        shown = shown.reindex(cat.index, fill_value=0)
        top_tenth = shown.sort_values(ascending=False).head(len(shown) // 10).sum() / shown.sum()
        return shown[age_days.between(0, 60)].mean() / shown[age_days > 240].mean(), top_tenth

    new_vs_old, top_tenth = shown_per_episode(cfg)
    flat_new_vs_old, flat_top_tenth = shown_per_episode(
        replace(cfg, episode_zipf=0.0, interest_floor=1e6))
    assert new_vs_old > 3 and flat_new_vs_old < 1.5  # 5.8 and 0.9 with this seed
    assert top_tenth > flat_top_tenth + 0.08  # 0.75 and 0.62: podcasts and queries are Zipf in both
