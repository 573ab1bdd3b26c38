"""Replay a request log against a pre-cut strategy, and the log's file formats.

The replay walks the log in time order. At every hour boundary the
strategy's `plan` sees only the events before that moment and cuts within
the budget; if it has a sidecar pre-cut, each impression may queue a cut at once.
A play is a hit when its clip (episode, chunk, duration) is ready: cut
earlier by a pre-cut, or by an earlier play (a miss cuts the clip, and
that cut is not a pre-cut, so it does not use the budget).

The budget is `budget_fraction` of all catalogue chunks for the measured
window, paced evenly over it (an hour's worth is available at the start).
Events before `eval_start` are history: strategies see them, and clips
played then exist, but nothing is measured or pre-cut.

File formats (JSON lines, docs/architecture.md "Demand replay files"):
catalogue `{"episode_id", "podcast", "published_at", "chunks", "duration_s"}`,
log `{"ts", "type": "impression"|"play", "episode_id", "chunk_index",
"rank" (impressions), "duration"}`.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from podclips_dagster.core.demand.offline.strategies import Strategy
from podclips_dagster.core.spec import ClipSpec

HOUR = 3600.0


def _iso(ts: pd.Series) -> pd.Series:
    return ts.dt.tz_convert("UTC").dt.strftime("%Y-%m-%dT%H:%M:%S.%f").str[:-3] + "Z"


def write_catalogue(catalogue: pd.DataFrame, path) -> None:
    published = _iso(pd.to_datetime(catalogue["published_at"], utc=True))
    with open(path, "w") as out:
        for row, pub in zip(catalogue.itertuples(index=False), published, strict=False):
            out.write(json.dumps({"episode_id": row.episode_id, "podcast": row.podcast,
                                  "published_at": pub, "chunks": int(row.chunks),
                                  "duration_s": float(row.duration_s)}) + "\n")


def write_log(log: pd.DataFrame, path) -> None:
    stamps = _iso(pd.to_datetime(log["ts"], utc=True))
    with open(path, "w") as out:
        for row, ts in zip(log.itertuples(index=False), stamps, strict=False):
            doc = {"ts": ts, "type": row.type, "episode_id": row.episode_id,
                   "chunk_index": int(row.chunk_index)}
            if row.type == "impression":
                doc["rank"] = int(row.rank)
            doc["duration"] = int(row.duration)
            out.write(json.dumps(doc) + "\n")


def _read_lines(path, required: tuple[str, ...]) -> list[dict]:
    docs = []
    with open(path) as f:
        for n, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                doc = json.loads(line)
            except json.JSONDecodeError as e:
                raise ValueError(f"{path}:{n}: not JSON ({e.msg})") from None
            missing = [k for k in required if k not in doc]
            if missing:
                raise ValueError(f"{path}:{n}: missing {', '.join(missing)}")
            docs.append(doc)
    return docs


def read_catalogue(path) -> pd.DataFrame:
    frame = pd.DataFrame(_read_lines(path, ("episode_id", "chunks")))
    for col, default in (("podcast", "unknown"), ("published_at", None), ("duration_s", np.nan)):
        if col not in frame:
            frame[col] = default
    frame["podcast"] = frame["podcast"].fillna("unknown")
    frame["published_at"] = pd.to_datetime(frame["published_at"], utc=True, format="ISO8601")
    frame["chunks"] = frame["chunks"].astype(np.int64)
    return frame[["episode_id", "podcast", "published_at", "chunks", "duration_s"]]


def read_log(path) -> pd.DataFrame:
    frame = pd.DataFrame(_read_lines(path, ("ts", "type", "episode_id", "chunk_index")))
    bad = ~frame["type"].isin(["impression", "play"])
    if bad.any():
        raise ValueError(f"{path}: unknown event type {frame['type'][bad].iloc[0]!r}")
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True, format="ISO8601")
    frame["rank"] = frame["rank"].astype(float) if "rank" in frame else np.nan
    frame["duration"] = frame["duration"].fillna(30).astype(np.int64) if "duration" in frame else 30
    frame["chunk_index"] = frame["chunk_index"].astype(np.int64)
    frame = frame.sort_values("ts", kind="stable").reset_index(drop=True)
    return frame[["ts", "type", "episode_id", "chunk_index", "rank", "duration"]]


@dataclass
class ReplayResult:
    strategy: str
    plays: int
    first_plays: int
    hits: int
    first_play_hits: int
    precut: int  # clips cut ahead of demand (the budgeted ones)
    precut_by_sidecar: int
    precut_played: int  # pre-cut clips that someone played later
    cut_on_miss: int
    missed_unseen: int  # first plays missed whose clip was never shown before
    missed_late: int  # ... whose pre-cut was queued but not ready yet
    budget: int
    total_chunks: int

    def metrics(self) -> dict:
        """The four numbers of the benchmark's JSON line."""
        return {
            "first_play_hit_rate": (self.first_play_hits / self.first_plays
                                    if self.first_plays else 0.0),
            "overall_hit_rate": self.hits / self.plays if self.plays else 0.0,
            "clips_cut": int(self.precut),
            "chunks_fraction": self.precut / self.total_chunks if self.total_chunks else 0.0,
        }

    def as_dict(self) -> dict:
        return {**asdict(self), **self.metrics()}


class PreparedLog:
    """A log turned into arrays once, so every strategy replays it cheaply."""

    def __init__(self, catalogue: pd.DataFrame, log: pd.DataFrame):
        log = log.sort_values("ts", kind="stable").reset_index(drop=True)
        self.catalogue = catalogue
        self.events = log
        ts = pd.to_datetime(log["ts"], utc=True)
        self.ts = ts
        self.t = ts.dt.as_unit("ns").astype("int64").to_numpy() / 1e9  # seconds since the epoch
        self.is_play = (log["type"] != "impression").to_numpy()
        self.rank = log["rank"].fillna(0).to_numpy(dtype=float)
        self.keys = [ClipSpec(e, int(c), int(d)) for e, c, d in
                     zip(log["episode_id"], log["chunk_index"], log["duration"], strict=False)]
        played: set = set()
        shown: set = set()
        self.first = np.zeros(len(log), dtype=bool)  # the first play of its clip
        self.first_after_impression = np.zeros(len(log), dtype=bool)  # ... shown before
        for i, (key, is_play) in enumerate(zip(self.keys, self.is_play, strict=False)):
            if not is_play:
                shown.add(key)
            elif key not in played:
                played.add(key)
                self.first[i] = True
                self.first_after_impression[i] = key in shown
        self.total_chunks = int(catalogue["chunks"].sum())
        self.chunks = dict(zip(catalogue["episode_id"], catalogue["chunks"].astype(int),
                               strict=False))


def replay(prepared: PreparedLog, strategy: Strategy, eval_start=None,
           budget_fraction: float = 0.05,
           lookback_hours: float = 72.0, sidecar_precut_latency_s: float = 1.0,
           schedule_latency_s: float = 300.0) -> ReplayResult:
    """Replay `prepared` from `eval_start` (default: its first event) to its end.

    A pre-cut becomes playable `sidecar_precut_latency_s` after the impression that
    queued it, or `schedule_latency_s` after the hour boundary that planned it;
    a play before then is a miss.
    """
    t = prepared.t
    start = t[0] if eval_start is None else pd.Timestamp(eval_start).value / 1e9
    end = t[-1]
    span = max(end - start, HOUR)
    budget = int(budget_fraction * prepared.total_chunks)
    fast = strategy.sidecar_precut

    def allowance(now: float) -> float:
        return min(budget, budget * (now - start + HOUR) / span)

    hourly = budget * HOUR / span  # clips of budget per hour
    reserve = fast.budget_share * hourly if fast else 0.0
    ready: dict = {}
    precut: set = set()
    r = dict.fromkeys(("plays", "first_plays", "hits", "first_play_hits", "precut",
                       "precut_by_sidecar", "precut_played", "cut_on_miss",
                       "missed_unseen", "missed_late"), 0)
    i = int(np.searchsorted(t, start))
    for j in np.flatnonzero(prepared.is_play[:i]):
        ready.setdefault(prepared.keys[j], t[j])

    boundary = start
    while boundary <= end:
        allowed = int(math.floor(allowance(boundary) - reserve)) - r["precut"]
        if allowed > 0:
            lo = int(np.searchsorted(t, boundary - lookback_hours * HOUR))
            now = pd.Timestamp(int(boundary * 1e9), tz="UTC")
            for key in strategy.plan(prepared.events.iloc[lo:i], prepared.catalogue, now, ready,
                                     allowed):
                ready[key] = boundary + schedule_latency_s
                precut.add(key)
                r["precut"] += 1
        stop = int(np.searchsorted(t, boundary + HOUR))
        for j in range(i, stop):
            key = prepared.keys[j]
            if not prepared.is_play[j]:
                spare = allowance(t[j]) - r["precut"]
                if fast and spare > 0 and key not in ready \
                        and fast.wants(prepared.rank[j], spare / hourly):
                    ready[key] = t[j] + sidecar_precut_latency_s
                    precut.add(key)
                    r["precut"] += 1
                    r["precut_by_sidecar"] += 1
                continue
            at = ready.get(key)
            hit = at is not None and bool(at <= t[j])
            r["plays"] += 1
            r["hits"] += hit
            if prepared.first[j]:
                r["first_plays"] += 1
                r["first_play_hits"] += hit
                if not hit:
                    r["missed_late"] += at is not None
                    r["missed_unseen"] += at is None and not prepared.first_after_impression[j]
            if key in precut:
                precut.discard(key)
                r["precut_played"] += 1
            if at is None:
                r["cut_on_miss"] += 1
            if not hit:
                ready[key] = t[j]
            if fast:
                spare = allowance(t[j]) - r["precut"]
                after = ClipSpec(key.episode_id, key.chunk_index + 1, key.duration_seconds)
                if spare > 0 and fast.wants_next_chunk(spare / hourly) and after not in ready \
                        and after.chunk_index < prepared.chunks.get(key.episode_id, 0):
                    ready[after] = t[j] + sidecar_precut_latency_s
                    precut.add(after)
                    r["precut"] += 1
                    r["precut_by_sidecar"] += 1
        i = stop
        boundary += HOUR
    return ReplayResult(strategy.name, budget=budget, total_chunks=prepared.total_chunks, **r)
