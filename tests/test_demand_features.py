"""Demand features on a hand-made event set, with the numbers worked out by hand."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from podclips_dagster.core.demand.offline.features import (
    FeatureConfig,
    candidate_chunks,
    chunk_features,
)

NOW = pd.Timestamp("2025-03-10T12:00:00Z")


def ago(hours: float) -> pd.Timestamp:
    return NOW - pd.Timedelta(hours=hours)


@pytest.fixture
def catalogue():
    return pd.DataFrame({
        "episode_id": ["substack:post:1", "ep/b", "ep-c"],
        "podcast": ["alpha", "alpha", "beta"],
        "published_at": [ago(30), ago(200), ago(10)],
        "chunks": [10, 4, 5],
        "duration_s": [300.0, 120.0, 150.0],
    })


@pytest.fixture
def events():
    rows = [
        # (hours ago, type, episode, chunk, rank, duration)
        (0.0, "impression", "substack:post:1", 3, 1, 30),
        (6.0, "impression", "substack:post:1", 3, 4, 30),
        (12.0, "impression", "substack:post:1", 3, 2, 60),
        (6.0, "play", "substack:post:1", 2, None, 30),
        (12.0, "request", "substack:post:1", 4, None, 30),
        (72.0, "play", "ep/b", 0, None, 30),
        (1.0, "impression", "ep-c", 0, 1, 30),
        (-1.0, "play", "substack:post:1", 3, None, 30),  # after NOW: ignored
        (2.0, "play", "not-in-catalogue", 1, None, 30),  # unknown episode: ignored
    ]
    return pd.DataFrame({
        "ts": [ago(h) for h, *_ in rows],
        "type": [r[1] for r in rows],
        "episode_id": [r[2] for r in rows],
        "chunk_index": [r[3] for r in rows],
        "rank": [float("nan") if r[4] is None else float(r[4]) for r in rows],
        "duration_seconds": [r[5] for r in rows],
    })


def row(frame, episode_id, chunk_index):
    match = frame[(frame["episode_id"] == episode_id) & (frame["chunk_index"] == chunk_index)]
    assert len(match) == 1, (episode_id, chunk_index)
    return match.iloc[0]


def test_chunk_features_exact_numbers(events, catalogue):
    cfg = FeatureConfig(half_life_hours=6.0, short_half_life_hours=1.0,
                        podcast_half_life_hours=72.0)
    f = chunk_features(events, catalogue, NOW, config=cfg)
    c3 = row(f, "substack:post:1", 3)
    assert c3["impressions"] == 3
    assert c3["impressions_decayed"] == pytest.approx(1 + 0.5 + 0.25)
    assert c3["impressions_short"] == pytest.approx(1 + 2**-6 + 2**-12)
    assert c3["rank_weighted_impressions"] == pytest.approx(1 / 1 + 0.5 / 4 + 0.25 / 2)
    assert c3["best_rank"] == 1
    assert c3["hours_since_impression"] == pytest.approx(0.0)
    assert c3["plays"] == 0 and c3["plays_decayed"] == 0  # the play after NOW does not count
    # neighbours: chunk 2 played 6 h ago (0.5), chunk 4 requested 12 h ago (0.25)
    assert c3["neighbour_plays_decayed"] == pytest.approx(0.75)
    assert c3["neighbour_impressions_decayed"] == 0
    assert c3["episode_impressions_decayed"] == pytest.approx(1.75)
    assert c3["episode_plays_decayed"] == pytest.approx(0.75)
    # podcast alpha: its two episodes, 72 h half-life
    assert c3["podcast_impressions_decayed"] == pytest.approx(1 + 2 ** (-6 / 72) + 2 ** (-12 / 72))
    assert c3["podcast_plays_decayed"] == pytest.approx(2 ** (-6 / 72) + 2 ** (-12 / 72) + 0.5)
    assert c3["episode_age_hours"] == pytest.approx(30.0)
    assert c3["position"] == pytest.approx(0.3)
    assert c3["chunks"] == 10
    # durations: decayed 30 s weight 1.5, 60 s weight 0.25
    assert c3["share_30"] == pytest.approx(1.5 / 1.75)
    assert c3["share_60"] == pytest.approx(0.25 / 1.75)
    assert c3["share_15"] == 0

    c2 = row(f, "substack:post:1", 2)
    assert c2["plays"] == 1 and c2["plays_decayed"] == pytest.approx(0.5)
    assert math.isnan(c2["best_rank"]) and math.isnan(c2["hours_since_impression"])
    assert c2["neighbour_impressions_decayed"] == pytest.approx(1.75)

    cb = row(f, "ep/b", 0)
    assert cb["plays_decayed"] == pytest.approx(2**-12)
    assert cb["podcast_plays_decayed"] == pytest.approx(c3["podcast_plays_decayed"])

    cc = row(f, "ep-c", 0)
    assert cc["impressions_short"] == pytest.approx(0.5)
    assert cc["podcast_impressions_decayed"] == pytest.approx(2 ** (-1 / 72))
    assert cc["podcast_plays_decayed"] == 0
    assert cc["share_30"] == 1


def test_candidates(events, catalogue):
    cand = candidate_chunks(events, catalogue, NOW, recent_hours=24, first_chunks=2)
    got = set(zip(cand["episode_id"], cand["chunk_index"], strict=False))
    assert got == {
        ("substack:post:1", 2), ("substack:post:1", 3), ("substack:post:1", 4),  # events
        ("substack:post:1", 5),  # after the requested chunk 4
        ("ep/b", 0), ("ep/b", 1),  # ep/b chunk 0 played, so chunk 1 follows
        ("ep-c", 0), ("ep-c", 1),  # published 10 h ago: its opening chunks
    }


def test_chunk_without_events_and_column_named_duration(events, catalogue):
    cand = pd.DataFrame({"episode_id": ["ep/b"], "chunk_index": [3]})
    f = chunk_features(events.rename(columns={"duration_seconds": "duration"}), catalogue, NOW,
                       cand)
    assert len(f) == 1
    assert f.loc[0, "impressions"] == 0 and f.loc[0, "plays_decayed"] == 0
    assert f.loc[0, "episode_plays_decayed"] == pytest.approx(2**-12)
    assert f.loc[0, "share_30"] == 1


def test_unknown_candidate_episode_is_an_error(events, catalogue):
    with pytest.raises(ValueError, match="not in the catalogue"):
        chunk_features(events, catalogue, NOW,
                       pd.DataFrame({"episode_id": ["nope"], "chunk_index": [0]}))
