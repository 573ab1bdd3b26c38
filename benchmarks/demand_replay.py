"""Demand replay benchmark: how many first plays find their clip already cut.

    python benchmarks/demand_replay.py [--seed N] [--catalogue FILE --log FILE]
                                       [--budget-fraction 0.05]

With --seed (default 1) it generates a synthetic catalogue and log
(podclips_dagster.devstack.demand_world); the learned model is trained on a
*different* world (--train-seed, default seed + 1000) and evaluated on this
one. With --catalogue/--log it replays those files (formats in docs/architecture.md):
the model is trained on the first --train-fraction of the log's time span and
every strategy is measured on the rest (the earlier part is history they may
look at). Either way no decision sees an event from its future.

Prints a table, then as its last line one JSON object:
{"strategies": {"none": M, "recent": M, "decay": M, "model": M, ...}}.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pandas as pd  # noqa: E402

from podclips_dagster.core.demand.offline.model import train_demand_model  # noqa: E402
from podclips_dagster.core.demand.offline.strategies import (  # noqa: E402
    DecayScore,
    LearnedModel,
    RecentEpisodes,
    Strategy,
)
from podclips_dagster.core.demand.online.sidecar_precut import SidecarPrecut  # noqa: E402
from podclips_dagster.devstack.demand_world import SyntheticConfig, generate_world  # noqa: E402
from simulation.replay import (  # noqa: E402
    PreparedLog,
    read_catalogue,
    read_log,
    replay,
    write_catalogue,
    write_log,
)

CLIP_MB = 0.5  # a 30 s clip at 128 kbps
# One cut: Lambda 1 GB x 0.5 s ($0.0000166667/GB-s) + invoke ($0.20/M) + S3 PUT
# ($0.005/1k) + one ranged GET of the source ($0.0004/1k).
CUT_USD = 0.5 * 0.0000166667 + 0.0000002 + 0.000005 + 0.0000004
STORAGE_USD_PER_GB_MONTH = 0.023  # S3 Standard; one month of storage counted
MISS_WAIT_S = 2.1  # today's cache-miss p50 (docs/architecture.md)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seed", type=int, default=None,
                   help="generate the evaluation world from this seed (default 1)")
    p.add_argument("--train-seed", type=int, default=None,
                   help="world the model trains on (default seed + 1000)")
    p.add_argument("--catalogue", type=Path, help="catalogue JSON lines to replay")
    p.add_argument("--log", type=Path, help="request log JSON lines to replay")
    p.add_argument("--budget-fraction", type=float, default=0.05,
                   help="pre-cut clips allowed, as a fraction of all catalogue chunks "
                   "(default 0.05)")
    p.add_argument("--train-fraction", type=float, default=0.5,
                   help="with --log: share of its time span used to train the model (default 0.5)")
    p.add_argument("--days", type=float, default=None,
                   help="generated log: measured days (default 14)")
    p.add_argument("--searches-per-day", type=float, default=None,
                   help="generated log: traffic (default 2000)")
    p.add_argument("--back-catalogue-days", type=float, default=None,
                   help="generated log: days of episodes published before it starts (default 730)")
    p.add_argument("--sidecar-precut-latency", type=float, default=1.0,
                   help="seconds from an impression to its pre-cut being playable (default 1: the "
                   "sidecar cuts in 0.31 s, a Lambda cold start adds 1.6 s now and then; 5 is the "
                   "Dagster sensor's p50, PRECUT_MODE=queue, see benchmarks/on_demand.py)")
    p.add_argument("--write-catalogue", type=Path, help="save the generated catalogue here")
    p.add_argument("--write-log", type=Path, help="save the generated log here")
    args = p.parse_args(argv)
    if (args.catalogue is None) != (args.log is None):
        p.error("--catalogue and --log go together")
    if args.catalogue and args.seed is not None:
        p.error("give either --seed or --catalogue/--log, not both")
    if not 0 < args.budget_fraction <= 1:
        p.error("--budget-fraction must be in (0, 1]")
    return args


def _config(args, seed: int) -> SyntheticConfig:
    cfg = SyntheticConfig(seed=seed)
    if args.days is not None:
        cfg = replace(cfg, days=args.days)
    if args.searches_per_day is not None:
        cfg = replace(cfg, searches_per_day=args.searches_per_day)
    if args.back_catalogue_days is not None:
        cfg = replace(cfg, back_catalogue_days=args.back_catalogue_days)
    return cfg


def load_inputs(args):
    """(catalogue, log, eval_start, model, description of the split)."""
    if args.catalogue:
        catalogue, log = read_catalogue(args.catalogue), read_log(args.log)
        first, last = log["ts"].iloc[0], log["ts"].iloc[-1]
        split = (first + (last - first) * args.train_fraction).ceil("h")
        model = train_demand_model(log[log["ts"] < split], catalogue,
                                   first + pd.Timedelta(days=1), split)
        how = (f"model trained on {args.log.name} before {split:%Y-%m-%d %H:%M}Z "
               f"({args.train_fraction:.0%} of its span); measured on the rest")
        return catalogue, log, split, model, how
    seed = 1 if args.seed is None else args.seed
    train_seed = seed + 1000 if args.train_seed is None else args.train_seed
    if train_seed == seed:
        sys.exit("--train-seed must differ from --seed: the model must not train on the log "
                 "it is measured on")
    world = generate_world(_config(args, seed))
    if args.write_catalogue:
        write_catalogue(world.catalogue, args.write_catalogue)
    if args.write_log:
        write_log(world.log, args.write_log)
    train = generate_world(_config(args, train_seed))
    model = train_demand_model(train.log, train.catalogue, train.eval_start,
                               train.log["ts"].iloc[-1])
    how = f"model trained on seed {train_seed}, measured on held-out seed {seed}"
    return world.catalogue, world.log, world.eval_start, model, how


def strategies(model, fast: SidecarPrecut) -> list[Strategy]:
    return [
        Strategy(),
        RecentEpisodes(),
        DecayScore(),
        Strategy(name="sidecar_precut_only", sidecar_precut=fast),
        DecayScore(name="decay+sidecar_precut", sidecar_precut=fast),
        LearnedModel(name="model_hourly_only", model=model, min_score=0.0),
        LearnedModel(name="model", model=model, sidecar_precut=fast),
    ]


def table(results) -> str:
    head = (f"{'strategy':<18} {'1st-play hit':>12} {'overall hit':>11} {'pre-cut':>8} "
            f"{'of chunks':>9} {'sidecar':>8} {'played':>7} {'miss cuts':>9} {'unseen':>6} "
            f"{'late':>5} {'storage':>9} {'$/1k plays':>10} {'wait/play':>9}")
    lines = [head, "-" * len(head)]
    for r in results:
        m = r.metrics()
        cuts = r.precut + r.cut_on_miss
        gb = cuts * CLIP_MB / 1024
        usd = (cuts * CUT_USD + gb * STORAGE_USD_PER_GB_MONTH) / max(r.plays, 1) * 1000
        wait = (r.plays - r.hits) * MISS_WAIT_S / max(r.plays, 1)
        lines.append(
            f"{r.strategy:<18} {m['first_play_hit_rate']:>12.1%} {m['overall_hit_rate']:>11.1%} "
            f"{r.precut:>8} {m['chunks_fraction']:>9.2%} {r.precut_by_sidecar:>8} "
            f"{r.precut_played:>7} {r.cut_on_miss:>9} {r.missed_unseen:>6} {r.missed_late:>5} "
            f"{gb:>7.2f}GB {usd:>10.4f} {wait:>8.2f}s")
    return "\n".join(lines)


def main(argv=None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    try:
        catalogue, log, eval_start, model, how = load_inputs(args)
    except (OSError, ValueError) as e:
        print(f"demand_replay: {e}", file=sys.stderr)
        return 2
    prepared = PreparedLog(catalogue, log)
    measured = (log["ts"] >= eval_start).to_numpy()
    firsts = prepared.first & measured
    print(f"catalogue: {len(catalogue)} episodes, {prepared.total_chunks} chunks; "
          f"log: {len(log)} events, {int(prepared.is_play.sum())} plays "
          f"({int((prepared.is_play & measured).sum())} in the measured window from "
          f"{pd.Timestamp(eval_start):%Y-%m-%d %H:%M}Z to {log['ts'].iloc[-1]:%Y-%m-%d %H:%M}Z)")
    after_impression = (prepared.first_after_impression & measured).sum() / max(firsts.sum(), 1)
    print(f"first plays in the window: {int(firsts.sum())} "
          f"({firsts.sum() / prepared.total_chunks:.2%} of chunks); {after_impression:.1%} of "
          f"them follow an impression of the same clip")
    print(f"split: {how}")
    mm = model.metrics
    print(f"model: {model.version} (hold-out AUC {mm['holdout_auc']:.3f}, lift in top 5% "
          f"{mm['holdout_lift_top_5pct']:.1f}x, {mm['trained_rows']} rows)")
    fast = SidecarPrecut()
    print(f"budget: {args.budget_fraction:.1%} of chunks over the window, paced hourly; "
          f"sidecar pre-cut: rank <= {fast.max_rank} (<= {fast.spare_max_rank}, and the chunk "
          f"after a play, while over {fast.spare_hours:g} h of budget is unspent), playable "
          f"{args.sidecar_precut_latency:g} s after the event; hourly plans playable 5 min "
          f"after the hour")
    results = [replay(prepared, s, eval_start, args.budget_fraction,
                      sidecar_precut_latency_s=args.sidecar_precut_latency)
               for s in strategies(model, fast)]
    print()
    print(table(results))
    print(f"\nstorage at {CLIP_MB} MB/clip (pre-cuts + miss cuts); cost = "
          f"${CUT_USD * 1000:.4f} per 1,000 cuts (Lambda 1 GB x 0.5 s, invoke, PUT, ranged GET) "
          f"+ ${STORAGE_USD_PER_GB_MONTH}/GB-month for one month; wait/play = misses x "
          f"{MISS_WAIT_S} s (today's miss p50) / plays. 'played' = pre-cut clips someone "
          f"played; first plays missed: 'unseen' = never shown before, 'late' = queued but not "
          f"ready yet, the rest shown but not cut. {time.perf_counter() - started:.0f} s in all.")
    print(json.dumps({"strategies": {r.strategy: r.metrics() for r in results}}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
