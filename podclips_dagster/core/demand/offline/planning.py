"""What the Dagster demand definitions run, without Dagster: train, score, plan.

- `train_from_history`: the daily model, from the last two weeks of events;
- `score_clip_demand`: the hourly scores of every candidate chunk, stored for
  the schedule (`clip_demand_scores`) with per-podcast demand;
- `plan_precuts`: the schedule's clips, best stored scores first, minus
  clips that exist or are requested, within the shared budget;
- `find_new_episodes` / `plan_new_episode_clips`: the opening clips of newly
  published episodes that the model expects to be played, within budget.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from podclips_dagster.core.demand.offline.features import chunk_features
from podclips_dagster.core.demand.offline.model import DemandModel, train_demand_model
from podclips_dagster.core.demand.offline.scoring import select_clips_to_precut
from podclips_dagster.core.demand.offline.store import (
    CATALOGUE_COLUMNS,
    PODCAST_COLUMNS,
    batches,
    chunk_counts,
    clips_not_to_cut,
    events_since,
    latest_model,
    load_catalogue,
    load_scores,
    podcast_demand,
    save_scores,
    with_aliases,
)
from podclips_dagster.core.demand.offline.strategies import (
    DecayScore,
    LearnedModel,
    RecentEpisodes,
    Strategy,
)
from podclips_dagster.core.demand.online.budget import PrecutBudget, PrecutLedger
from podclips_dagster.core.demand.online.events import EVENT_COLUMNS
from podclips_dagster.core.demand.online.sidecar_precut import SidecarPrecut
from podclips_dagster.core.spec import ClipSpec

if TYPE_CHECKING:
    from podclips_dagster.core.service import ClipService

LOOKBACK = timedelta(hours=72)  # what the features look at (their longest half-life is 72 h)
TRAINING_DAYS = 14
TOP_N = 2000  # stored chunks: ten schedule ticks at the default 200 clips each
# A model no better than this on its own hold-out ranks worse than the transparent score.
MIN_MODEL_AUC = 0.6
# Hourly scores; older than this means clip_demand stopped running, and stale scores
# would spend the budget on yesterday's interest.
MAX_SCORE_AGE = timedelta(hours=3)
FIRST_CHUNKS = 3  # the opening chunks a new episode's listeners start with
WAIT_FOR_CHUNKS = timedelta(hours=6)  # an episode whose transcript has not arrived yet
NEW_EPISODES_PAGE = 100


def choose_strategy(model: DemandModel | None) -> Strategy:
    auc = (model.metrics.get("holdout_auc") if model else None) or 0.0
    return LearnedModel(model=model) if auc >= MIN_MODEL_AUC else DecayScore()


def hold_back(budget: PrecutBudget) -> float:
    """What the schedule and the sensor leave each hour for the sidecar pre-cut (as in the
    replay)."""
    return SidecarPrecut().budget_share * budget.hourly


def train_from_history(service: ClipService, now: datetime,
                       days: int = TRAINING_DAYS) -> DemandModel:
    """Raises ValueError when the history is too short or holds no first plays."""
    events = events_since(service.db, now - timedelta(days=days))
    if events.empty:
        raise ValueError(f"no demand events in the last {days} days")
    catalogue, aliases = load_catalogue(service.catalogue, events["episode_id"].unique(),
                                        now - timedelta(days=days), now)
    # A young deployment has less history than `days`: sample from a day after its first
    # event, so the hold-out (the last quarter of sample times) is not mostly empty.
    start = max(now - timedelta(days=days - 1),
                events["ts"].min().to_pydatetime() + timedelta(days=1))
    return train_demand_model(with_aliases(events, aliases), catalogue, start, now)


@dataclass
class DemandScores:
    scored_at: datetime
    scores: pd.DataFrame  # every candidate chunk with its features and score, best first
    stored: pd.DataFrame  # the top rows worth cutting, as stored
    strategy: Strategy
    model: DemandModel | None  # the latest trained, whether or not it is good enough to use
    events: int
    episodes: int


def score_clip_demand(service: ClipService, now: datetime, top_n: int = TOP_N) -> DemandScores:
    events = events_since(service.db, now - LOOKBACK)
    catalogue, aliases = load_catalogue(service.catalogue, events["episode_id"].unique(),
                                        now - LOOKBACK, now)
    events = with_aliases(events, aliases)
    model = latest_model(service.db)
    strategy = choose_strategy(model)
    scores = strategy.score_chunks(events, catalogue, now).sort_values(
        "score", ascending=False, kind="stable").reset_index(drop=True)
    podcast = scores["episode_id"].map(catalogue.set_index("episode_id")["podcast"])
    podcasts = scores.assign(podcast=podcast).groupby("podcast")[PODCAST_COLUMNS].first()
    stored = scores[scores["score"] > strategy.min_score].head(top_n)
    save_scores(service.db, stored, podcasts, now)
    return DemandScores(now, scores, stored, strategy, model, len(events), len(catalogue))


@dataclass
class PrecutPlan:
    clips: list[ClipSpec]
    reason: str = ""  # why nothing is cut
    spare: int = 0  # budget this tick could spend
    not_needed: int = 0  # clips of the scored episodes that exist or are requested
    budget: dict = field(default_factory=dict)


def plan_precuts(db, now: datetime, budget: PrecutBudget, tick_key: str) -> PrecutPlan:
    """The schedule's clips for the tick `tick_key` (a re-evaluated tick gets its grant back)."""
    ledger = PrecutLedger(db, budget)
    ledger.ensure_indexes()
    if (earlier := ledger.granted(tick_key)) is not None:
        return PrecutPlan(earlier, budget=ledger.today(now))
    scores, scored_at = load_scores(db)
    if scored_at is None:
        return PrecutPlan([], "no clip_demand scores stored (clip_demand has not run, or "
                              "found nothing worth cutting)")
    age = _ts(now) - _ts(scored_at)
    if age > MAX_SCORE_AGE:
        return PrecutPlan([], f"clip_demand scores are {age} old (limit {MAX_SCORE_AGE})")
    spare = min(budget.per_run, ledger.spare(now, hold_back(budget)))
    today = ledger.today(now)
    if spare <= 0:
        return PrecutPlan([], f"budget spent: {today['used']} of {today['allowance']} paced clips "
                              f"used today", budget=today)
    chosen, skipped = best_clips_not_cut(db, scores, spare)
    granted = ledger.reserve(chosen, "schedule", now, key=tick_key, hold_back=hold_back(budget))
    reason = "" if granted else "every scored clip exists or is requested"
    return PrecutPlan(granted, reason, spare, skipped, ledger.today(now))


def best_clips_not_cut(db, scores: pd.DataFrame, spare: int) -> tuple[list[ClipSpec], int]:
    """The best `spare` clips that need a cut, looking up existing clips one batch of
    episodes at a time, best first, and stopping once no unseen episode could do better
    (a variant scores at most its chunk's score)."""
    episodes = list(dict.fromkeys(scores["episode_id"]))  # best first: scores are sorted
    best = scores.groupby("episode_id", sort=False)["score"].max()
    indexed = scores.set_index(["episode_id", "chunk_index"])
    skip: set = set()
    chosen: list[ClipSpec] = []
    end = 0
    for batch in batches(episodes):
        end += len(batch)
        skip |= clips_not_to_cut(db, batch)
        chosen = select_clips_to_precut(scores[scores["episode_id"].isin(episodes[:end])],
                                             skip, spare)
        if end >= len(episodes):
            break
        if len(chosen) >= spare:
            last = indexed.loc[(chosen[-1].episode_id, chosen[-1].chunk_index)]
            if last["score"] * last[f"share_{chosen[-1].duration_seconds}"] >= best[episodes[end]]:
                break
    return chosen, len(skip)


def _ts(moment) -> pd.Timestamp:
    ts = pd.Timestamp(moment)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def _no_events() -> pd.DataFrame:
    frame = pd.DataFrame({c: pd.Series(dtype=object) for c in EVENT_COLUMNS})
    return frame.astype({"ts": "datetime64[ns, UTC]", "rank": float, "chunk_index": np.int64,
                         "duration_seconds": np.int64})


@dataclass
class NewEpisodes:
    ready: pd.DataFrame  # catalogue rows of new episodes whose chunks have arrived
    cursor: dict  # {"after": ISO time, "waiting": {guid: ISO published_at}}


def find_new_episodes(catalogue, cursor: dict | None, now: datetime,
                      first_lookback: timedelta = timedelta(hours=6)) -> NewEpisodes:
    """Episodes published after the cursor (and up to `now`), plus those still waiting
    for their transcript chunks; the first tick looks back `first_lookback`."""
    cursor = cursor or {}
    after = _ts(cursor.get("after") or (_ts(now) - first_lookback)).to_pydatetime()
    waiting = dict(cursor.get("waiting", {}))
    docs = catalogue.episodes_published({"$gt": after, "$lte": now}, page=NEW_EPISODES_PAGE)
    if docs:
        after = docs[-1]["published_at"]
    if waiting:
        docs += catalogue.episodes_with("guid", list(waiting))
    docs = list({d["guid"]: d for d in docs if d.get("guid")}.values())
    counts = chunk_counts(catalogue, [d["guid"] for d in docs])
    rows, waiting = [], {}
    for d in docs:
        published = _ts(d["published_at"])
        if counts.get(d["guid"]):
            rows.append({"episode_id": d["guid"], "published_at": published,
                         "podcast": d.get("podcast_name") or d.get("feed_slug") or "unknown",
                         "chunks": counts[d["guid"]], "duration_s": np.nan})
        elif _ts(now) - published < WAIT_FOR_CHUNKS:
            waiting[d["guid"]] = published.isoformat()
    ready = pd.DataFrame(rows, columns=CATALOGUE_COLUMNS)
    return NewEpisodes(ready, {"after": _ts(after).isoformat(), "waiting": waiting})


def plan_new_episode_clips(db, episodes: pd.DataFrame, now: datetime, budget: PrecutBudget,
                           model: DemandModel | None) -> list[ClipSpec]:
    """Opening clips of new episodes the model scores as likely plays (the podcast's
    recent demand is what it knows of an episode nobody has seen yet).

    An episode planned by an earlier evaluation gets the same clips again, unpaid."""
    ledger = PrecutLedger(db, budget)
    earlier = {guid: ledger.granted(f"new-episode:{guid}") for guid in episodes["episode_id"]}
    granted = [clip for clips in earlier.values() if clips for clip in clips]
    episodes = episodes[[earlier[guid] is None for guid in episodes["episode_id"]]]
    if episodes.empty:
        return granted
    firsts = np.minimum(episodes["chunks"].to_numpy(), FIRST_CHUNKS)
    candidates = pd.DataFrame({"episode_id": np.repeat(episodes["episode_id"].to_numpy(), firsts),
                               "chunk_index": np.concatenate([np.arange(n) for n in firsts])})
    features = chunk_features(_no_events(), episodes, now, candidates)
    podcast = candidates["episode_id"].map(episodes.set_index("episode_id")["podcast"])
    features[PODCAST_COLUMNS] = podcast_demand(db, list(podcast.unique())).loc[podcast].to_numpy()
    strategy = choose_strategy(model)
    if not isinstance(strategy, LearnedModel):  # the decay score sees no events here
        strategy = RecentEpisodes()
    scored = features.assign(score=strategy.score(features))
    spare = min(budget.per_run, ledger.spare(now, hold_back(budget)))
    skip = clips_not_to_cut(db, episodes["episode_id"])
    chosen = select_clips_to_precut(scored, skip, spare, min_score=strategy.min_score)
    for guid in dict.fromkeys(c.episode_id for c in chosen):  # best episode first
        granted += ledger.reserve([c for c in chosen if c.episode_id == guid], "new_episode", now,
                                  key=f"new-episode:{guid}", hold_back=hold_back(budget))
    return granted
