"""A reproducible synthetic podcast world: a catalogue and its search/play log.

Everything comes from one seed, so two runs with the same config write the
same files. The shape follows what we know of demand:
- podcasts have Zipf popularity; they publish on their own cadence, so new
  episodes arrive during the log (and get a burst from a recency boost in
  search ranking and from people browsing the newest episodes);
- the catalogue holds two years of back catalogue: feeds arrive with their
  history and search indexes all of it. Within a podcast a few episodes draw
  most of the interest (Zipf), and interest halves every 60 days of age down
  to a floor, so old episodes are still found, less often;
- searches draw a query from a Zipf distribution (popular queries repeat,
  so their top results are played again and again); each search shows its
  top results as impressions with ranks; a play follows an impression of the
  same chunk after seconds (most) to hours (some), with a click-through
  rate that falls with rank;
- a play is sometimes followed by the next chunk ("keep listening"), some
  plays come from browsing an episode page (no impression: mostly its first
  chunks, mostly of new episodes) and some replay a clip someone shared earlier;
- a search session picks a clip duration (mostly 30 s, some 60 s and 15 s),
  carried by its impressions and plays.

The returned frames use the replay formats of docs/architecture.md
(simulation/replay.py reads and writes them as JSON lines).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

UTC = UTC
DAY = 86400.0


@dataclass(frozen=True)
class SyntheticConfig:
    seed: int = 1
    start: datetime = datetime(2025, 3, 3, tzinfo=UTC)  # a Monday
    warmup_days: float = 2.0  # history before the measured window
    days: float = 14.0  # the measured window
    n_podcasts: int = 80
    back_catalogue_days: float = 730.0  # feeds arrive with their history, and search indexes it all
    podcast_zipf: float = 1.1
    episode_zipf: float = 0.8  # within a podcast, a few episodes draw most of its interest
    interest_half_life_days: float = 60.0  # queries match older episodes less ...
    interest_floor: float = 0.1  # ... down to this share of a new episode's weight
    median_episode_minutes: float = 70.0
    searches_per_day: float = 2000.0
    n_queries: int = 25000
    query_zipf: float = 1.0
    results_per_search: int = 10
    topics_per_query: float = 4.0  # episodes a query's results come from
    ctr_rank1: float = 0.22  # P(play | shown at rank r) = ctr_rank1 / r**ctr_rank_exponent
    ctr_rank_exponent: float = 1.0
    later_play_share: float = 0.2  # plays that come hours after the search
    continue_prob: float = 0.1  # P(next chunk is played after a play)
    browse_plays_per_search_play: float = 0.08
    browse_back_catalogue_share: float = 0.25
    share_plays_per_search_play: float = 0.12
    recency_boost: float = 1.5  # ranking bonus of a new episode, decays over days
    recency_days: float = 3.0
    durations: tuple = ((30, 0.85), (60, 0.10), (15, 0.05))


@dataclass
class SyntheticWorld:
    config: SyntheticConfig
    catalogue: pd.DataFrame  # episode_id, podcast, published_at, chunks, duration_s
    log: pd.DataFrame  # ts, type, episode_id, chunk_index, rank, duration

    @property
    def eval_start(self) -> pd.Timestamp:
        return pd.Timestamp(self.config.start + timedelta(days=self.config.warmup_days))


def _zipf_weights(n: int, s: float) -> np.ndarray:
    w = 1.0 / np.arange(1, n + 1) ** s
    return w / w.sum()


def _episode_id(rng: np.random.Generator, n: int) -> str:
    form = rng.random()
    if form < 0.15:
        return f"substack:post:{100000 + n}"
    if form < 0.25:
        return f"flightcast:{rng.integers(16**6):06x}-{rng.integers(16**6):06x}"
    h = f"{int(rng.integers(2**63)):016x}{int(rng.integers(2**63)):016x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:32]}"


def _podcast_names(cfg: SyntheticConfig) -> list[str]:
    return [f"podcast-{p:03d}" for p in range(cfg.n_podcasts)]


def _catalogue(cfg: SyntheticConfig, rng: np.random.Generator) -> pd.DataFrame:
    t0 = -cfg.back_catalogue_days * DAY
    t1 = (cfg.warmup_days + cfg.days) * DAY
    rows = []
    for p in range(cfg.n_podcasts):
        per_week = rng.choice([0.5, 1.0, 1.0, 2.0, 3.0])
        n = rng.poisson(per_week * (t1 - t0) / (7 * DAY))
        # published in the (UTC) morning, like most feeds
        days = np.floor(rng.uniform(t0, t1, n) / DAY)
        for day in days:
            minutes = float(np.clip(rng.lognormal(math.log(cfg.median_episode_minutes), 0.5),
                                    8, 210))
            rows.append((p, day * DAY + rng.uniform(5, 11) * 3600, round(minutes * 60, 1)))
    rows.sort(key=lambda r: r[1])
    start = pd.Timestamp(cfg.start)
    names = _podcast_names(cfg)
    return pd.DataFrame({
        "episode_id": [_episode_id(rng, i) for i in range(len(rows))],
        "podcast": [names[p] for p, _, _ in rows],
        "published_at": [start + pd.Timedelta(seconds=round(t)) for _, t, _ in rows],
        "chunks": [int(math.ceil(d / 30.0)) for _, _, d in rows],
        "duration_s": [d for _, _, d in rows],
    })


def _search_times(cfg: SyntheticConfig, rng: np.random.Generator) -> np.ndarray:
    """Business-hours-shaped arrivals, quieter at weekends (seconds since start)."""
    span = (cfg.warmup_days + cfg.days) * DAY
    peak = 2.2
    cand = np.sort(rng.uniform(0, span, rng.poisson(cfg.searches_per_day * peak * span / DAY)))
    hour = (cand % DAY) / 3600.0
    diurnal = 0.3 + 1.7 * np.exp(-0.5 * ((hour - 15.0) / 3.5) ** 2)
    weekday = ((cand // DAY) + cfg.start.weekday()) % 7
    rate = diurnal * np.where(weekday >= 5, 0.45, 1.0) / 0.775  # mean about 1 over a week
    return cand[rng.random(len(cand)) < rate / peak]


class _Podcasts:
    """Each episode's podcast as a code, and the podcasts' Zipf popularity (`names` in
    order of popularity, including podcasts without an episode yet)."""

    def __init__(self, names: list[str], cat: pd.DataFrame, zipf: float):
        code = {name: n for n, name in enumerate(names)}
        self.codes = cat["podcast"].map(code).to_numpy()
        self.popularity = _zipf_weights(len(names), zipf)


def _episode_interest(cfg: SyntheticConfig, rng: np.random.Generator, podcasts: _Podcasts,
                      pub_s: np.ndarray) -> np.ndarray:
    """How likely a query is to match each episode: its podcast's popularity, its own
    (Zipf within the podcast, in a random order) and its age when the log starts."""
    pod_codes = podcasts.codes
    weight = podcasts.popularity[pod_codes] ** 0.7
    for code in np.unique(pod_codes):
        mine = np.flatnonzero(pod_codes == code)
        weight[mine] *= rng.permutation(_zipf_weights(len(mine), cfg.episode_zipf)) * len(mine)
    age_days = np.maximum(cfg.warmup_days * DAY - pub_s, 0) / DAY
    weight *= cfg.interest_floor + 2.0 ** (-age_days / cfg.interest_half_life_days)
    return weight / weight.sum()


def _queries(cfg: SyntheticConfig, rng: np.random.Generator, cat: pd.DataFrame, ep_w: np.ndarray):
    """Each query matches a few passages (runs of adjacent chunks) in a few episodes."""
    chunks = cat["chunks"].to_numpy()
    offsets, ep, chunk, rel = [0], [], [], []
    for _ in range(cfg.n_queries):
        n_eps = 1 + rng.poisson(cfg.topics_per_query - 1)
        for e in rng.choice(len(cat), n_eps, p=ep_w):
            span = 1 + rng.poisson(1.5)
            first = rng.integers(0, max(1, chunks[e] - span))
            base = rng.exponential(1.0)
            for k in range(min(span, chunks[e] - first)):
                ep.append(e)
                chunk.append(first + k)
                rel.append(base + rng.exponential(0.5))
        offsets.append(len(ep))
    return np.array(offsets), np.array(ep), np.array(chunk), np.array(rel)


def _durations(cfg: SyntheticConfig, rng: np.random.Generator, n: int) -> np.ndarray:
    values, probs = zip(*cfg.durations, strict=False)
    return rng.choice(np.array(values), n, p=np.array(probs) / sum(probs))


def _search_events(cfg, rng, cat, pub_s, interest):
    offsets, q_ep, q_chunk, q_rel = _queries(cfg, rng, cat, interest)
    times = _search_times(cfg, rng)
    queries = rng.choice(cfg.n_queries, len(times), p=_zipf_weights(cfg.n_queries, cfg.query_zipf))
    durations = _durations(cfg, rng, len(times))
    ranks = np.arange(1, cfg.results_per_search + 1)
    ctr = cfg.ctr_rank1 / ranks ** cfg.ctr_rank_exponent
    impressions, plays = [], []
    for t, q, d in zip(times, queries, durations, strict=False):
        lo, hi = offsets[q], offsets[q + 1]
        age_days = (t - pub_s[q_ep[lo:hi]]) / DAY
        live = np.flatnonzero(age_days >= 0)
        if not len(live):
            continue
        score = q_rel[lo:hi][live] + cfg.recency_boost * np.exp(-age_days[live] / cfg.recency_days)
        shown = lo + live[np.argsort(-score, kind="stable")[: cfg.results_per_search]]
        clicks = rng.random(len(shown)) < ctr[: len(shown)]
        for r, idx in enumerate(shown, start=1):
            impressions.append((t, q_ep[idx], q_chunk[idx], r, d))
            if clicks[r - 1]:
                if rng.random() < cfg.later_play_share:
                    delay = rng.lognormal(math.log(2 * 3600), 1.0)
                else:
                    delay = 3.0 + rng.lognormal(math.log(25), 1.1)
                plays.append((t + delay, q_ep[idx], q_chunk[idx], d))
    return impressions, plays


def _browse_plays(cfg, rng, cat, podcasts, pub_s, interest, n):
    """Plays from an episode page, mostly the opening: most go to the newest episodes of
    popular podcasts, the rest to the back catalogue as its interest says."""
    span = (cfg.warmup_days + cfg.days) * DAY
    pod_w = podcasts.popularity[podcasts.codes]
    chunks = cat["chunks"].to_numpy()
    out = []
    for t, d in zip(np.sort(rng.uniform(0, span, n)), _durations(cfg, rng, n), strict=False):
        age = (t - pub_s) / DAY
        live = age >= 0
        if not live.any():  # before the first episode (the dev stack's demo catalogue is young)
            continue
        new = np.where(live, pod_w * np.exp(-np.maximum(age, 0) / 5.0), 0.0)
        old = np.where(live, interest, 0.0)
        w = ((1 - cfg.browse_back_catalogue_share) * new / new.sum()
             + cfg.browse_back_catalogue_share * old / old.sum())
        e = rng.choice(len(cat), p=w / w.sum())
        c = rng.geometric(0.5) - 1 if rng.random() < 0.6 else rng.integers(chunks[e])
        out.append((t, e, min(int(c), chunks[e] - 1), d))
    return out


def _with_continuations(cfg, rng, plays, chunks):
    out, queue = [], list(plays)
    while queue:
        t, e, c, d = queue.pop()
        out.append((t, e, c, d))
        if c + 1 < chunks[e] and rng.random() < cfg.continue_prob:
            queue.append((t + d + rng.uniform(1, 6), e, c + 1, d))
    return out


def generate_world(cfg: SyntheticConfig = SyntheticConfig()) -> SyntheticWorld:
    rng = np.random.default_rng(cfg.seed)
    cat = _catalogue(cfg, rng)
    return SyntheticWorld(cfg, cat, generate_log(cfg, cat, rng, _podcast_names(cfg)))


def generate_log(cfg: SyntheticConfig, cat: pd.DataFrame, rng: np.random.Generator | None = None,
                 podcasts: list[str] | None = None) -> pd.DataFrame:
    """The search/play log of `cfg`'s window over any catalogue (a generated one, or the
    demo episodes of the dev stack), in the replay log format. `podcasts`: most popular
    first (default: the catalogue's, in name order)."""
    rng = np.random.default_rng(cfg.seed) if rng is None else rng
    start = pd.Timestamp(cfg.start)
    pub_s = ((pd.to_datetime(cat["published_at"], utc=True) - start).dt.total_seconds()).to_numpy()
    podcasts = _Podcasts(podcasts or sorted(set(cat["podcast"])), cat, cfg.podcast_zipf)
    interest = _episode_interest(cfg, rng, podcasts, pub_s)
    impressions, plays = _search_events(cfg, rng, cat, pub_s, interest)
    plays += _browse_plays(cfg, rng, cat, podcasts, pub_s, interest,
                           rng.poisson(cfg.browse_plays_per_search_play * len(plays)))
    plays = _with_continuations(cfg, rng, plays, cat["chunks"].to_numpy())
    plays.sort(key=lambda p: p[0])
    n_share = rng.poisson(cfg.share_plays_per_search_play * len(plays))
    for i in rng.integers(0, len(plays), n_share):
        t, e, c, d = plays[i]
        plays.append((t + rng.lognormal(math.log(6 * 3600), 1.0), e, c, d))

    imp = np.array(impressions, dtype=float).reshape(-1, 5)
    ply = np.array(plays, dtype=float).reshape(-1, 4)
    t = np.concatenate([imp[:, 0], ply[:, 0]])
    frame = pd.DataFrame({
        "t": t,
        "order": np.concatenate([np.zeros(len(imp)), np.ones(len(ply))]),
        "type": np.array(["impression"] * len(imp) + ["play"] * len(ply), dtype=object),
        "episode": np.concatenate([imp[:, 1], ply[:, 1]]).astype(int),
        "chunk_index": np.concatenate([imp[:, 2], ply[:, 2]]).astype(int),
        "rank": np.concatenate([imp[:, 3], np.full(len(ply), np.nan)]),
        "duration": np.concatenate([imp[:, 4], ply[:, 3]]).astype(int),
    })
    frame = frame[frame["t"] < (cfg.warmup_days + cfg.days) * DAY]
    frame = frame.sort_values(["t", "order"], kind="stable").reset_index(drop=True)
    # milliseconds: what the JSON-lines files carry, so a file round-trip is exact
    ts = start + pd.to_timedelta(np.round(frame["t"].to_numpy() * 1000), unit="ms")
    log = pd.DataFrame({
        "ts": ts,
        "type": frame["type"].to_numpy(),
        "episode_id": cat["episode_id"].to_numpy()[frame["episode"].to_numpy()],
        "chunk_index": frame["chunk_index"].to_numpy(),
        "rank": frame["rank"].to_numpy(),
        "duration": frame["duration"].to_numpy(),
    })
    return log
