"""Clips/s through a Dagster backfill against `ensure_clip` directly, on the same clips.

    .venv/bin/python -m benchmarks.backfill_throughput [--clips 200] [--episodes 20] [--keep]

Starts an embedded SecantusDB, the local object store and a temporary
DAGSTER_HOME with the repo's dagster.yaml (see benchmarks/on_demand.py), and
seeds tone-coded CBR episodes twice over, under two sets of ids, so the two
passes cut the same clips (same audio, same chunks) without either one being
a cache hit of the other:
- direct: `ensure_clip` over the clips with the asset's worker count, once
  before and once after the Dagster pass (on a third copy of the episodes),
  averaged: the machine's load moves between passes;
- Dagster: a code server and `podclips-daemon` on it (as `podclips dev` runs
  them), and a partition backfill of the `audio_clips` partitions launched as
  the UI launches it (GraphQL `launchPartitionBackfill`); timed from launch to
  the last partition's materialization. Sensors and schedules are stopped first, so only the
  backfill uses the cores.
Then it takes the backfill's runs apart by their event timestamps (backfill
pickup, queue, process start, code load, resource init, cuts, per-partition
events and checks) and times the pieces a run repeats in isolation. Prints a
table and, as the last line, one JSON object.
"""

from __future__ import annotations

import argparse
import math
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import dagster as dg
import psutil
from dagster._core.events import DagsterEventType
from dagster._core.execution.backfill import BulkActionStatus
from dagster._core.workspace.context import WorkspaceProcessContext
from dagster._core.workspace.load_target import WorkspaceFileTarget
from dagster_graphql.client.query import LAUNCH_PARTITION_BACKFILL_MUTATION
from dagster_graphql.test.utils import execute_dagster_graphql

from benchmarks.on_demand import REPO, embedded_stack, finish, pct, seed
from podclips_dagster.config import Settings
from podclips_dagster.core.clip_audit import audit_clip, audit_made_clip
from podclips_dagster.core.service import ClipService
from podclips_dagster.core.spec import ClipSpec
from podclips_dagster.defs.clips.assets import CUT_WORKERS
from podclips_dagster.defs.clips.registration import register_clip_partitions
from podclips_dagster.devstack.dagster_processes import (
    DEFINITIONS_MODULE,
    running_code_server,
    running_daemon,
)
from podclips_dagster.devstack.mongo_server import start_mongo

AUDIO_CLIPS = dg.AssetKey("audio_clips")
TIMEOUT_S = 900


def clip_keys(prefix: str, episodes: int, clips: int) -> tuple[list[str], list[ClipSpec]]:
    """`clips` clips spread over `episodes` ids, episode by episode (as a backfill orders them)."""
    guids = [f"{prefix}-{i:02d}" for i in range(episodes)]
    per_episode = math.ceil(clips / episodes)
    specs = [ClipSpec(g, k) for g in guids for k in range(per_episode)][:clips]
    return guids, specs


def cut_directly(service: ClipService, specs: list[ClipSpec]) -> float:
    began = time.perf_counter()
    with ThreadPoolExecutor(CUT_WORKERS) as pool:
        list(pool.map(lambda s: service.ensure_clip(s.episode_id, s.chunk_index,
                                                    requested_by="benchmark"), specs))
    return time.perf_counter() - began


def stop_instigators(instance, workspace) -> None:
    for location in workspace.code_locations:
        for repo in location.get_repositories().values():
            for sensor in repo.get_sensors():
                instance.stop_sensor(sensor.get_remote_origin_id(), sensor.selector_id, sensor)
            for schedule in repo.get_schedules():
                instance.stop_schedule(schedule.get_remote_origin_id(), schedule.selector_id,
                                       schedule)


def launch_backfill(request_context, keys: list[str]) -> str:
    result = execute_dagster_graphql(request_context, LAUNCH_PARTITION_BACKFILL_MUTATION, {
        "backfillParams": {"partitionNames": keys,
                           "assetSelection": [{"path": AUDIO_CLIPS.path}]}})
    answer = result.data["launchPartitionBackfill"]
    if answer["__typename"] != "LaunchBackfillSuccess":
        raise SystemExit(f"backfill not launched: {answer}")
    return answer["backfillId"]


def materialized_at(instance, keys: set[str]) -> dict[str, float]:
    records = instance.fetch_materializations(AUDIO_CLIPS, limit=10_000).records
    return {r.partition_key: r.timestamp for r in records if r.partition_key in keys}


def wait_backfill(instance, backfill_id: str, keys: list[str]) -> dict[str, float]:
    wanted, began = set(keys), time.monotonic()
    while time.monotonic() - began < TIMEOUT_S:
        done = wanted & instance.get_materialized_partitions(AUDIO_CLIPS)
        if done == wanted:
            return materialized_at(instance, wanted)
        status = instance.get_backfill(backfill_id).status
        if status in (BulkActionStatus.FAILED, BulkActionStatus.CANCELED,
                      BulkActionStatus.COMPLETED_FAILED):
            raise SystemExit(f"backfill {backfill_id} ended {status}: {len(done)} of "
                             f"{len(wanted)} partitions materialized")
        time.sleep(2)  # the figures come from event timestamps, not from this loop
    raise SystemExit(f"backfill {backfill_id} not done after {TIMEOUT_S} s (see daemon.log)")


def run_timeline(instance, run) -> dict[str, float]:
    """Seconds between the milestones of one run, from its event log."""
    at: dict[str, float] = {"created": run.create_timestamp.timestamp()}
    mats, checks, writes = [], [], []
    for entry in instance.all_logs(run.dagster_run.run_id):
        kind = entry.dagster_event_type
        if kind is None:
            continue
        if kind == DagsterEventType.ASSET_MATERIALIZATION:
            mats.append(entry.timestamp)
        elif kind == DagsterEventType.ASSET_CHECK_EVALUATION:
            checks.append(entry.timestamp)
            if len(checks) == len(mats):  # logged right after its clip's materialization
                writes.append(entry.timestamp - mats[-1])
        elif kind == DagsterEventType.ENGINE_EVENT and entry.message.startswith(
                "Started process for run"):
            at.setdefault("process_started", entry.timestamp)
        else:
            at.setdefault(kind.value, entry.timestamp)
    at["first_materialization"], at["last_materialization"] = min(mats), max(mats)

    def gap(a: str, b: str) -> float:
        return at[b] - at[a] if a in at and b in at else 0.0

    return {
        "partitions": len(mats), "check_evaluations": len(checks),
        "planned_events": gap("created", "PIPELINE_ENQUEUED"),
        "queued": gap("PIPELINE_ENQUEUED", "PIPELINE_STARTING"),
        "process_start": gap("PIPELINE_STARTING", "process_started"),
        "code_load": gap("process_started", "PIPELINE_START"),
        "resource_init": gap("RESOURCE_INIT_STARTED", "RESOURCE_INIT_SUCCESS"),
        "resources_and_pool_wait": gap("PIPELINE_START", "STEP_START"),
        "step_start_to_first_clip": gap("STEP_START", "first_materialization"),
        "first_to_last_clip": gap("first_materialization", "last_materialization"),
        "last_clip_to_run_end": gap("last_materialization", "PIPELINE_SUCCESS"),
        "materialization_write_ms": 1000 * sorted(writes)[len(writes) // 2] if writes else 0.0,
        "run_start_s": at.get("PIPELINE_STARTING", at["created"]),
    }


def python_startup(code: str, repeat: int = 3) -> float:
    """Median seconds for a fresh interpreter to run `code` (what a run worker pays)."""
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True)
        times.append(time.perf_counter() - began)
    return sorted(times)[len(times) // 2]


def isolated_costs(service: ClipService, specs: list[ClipSpec]) -> dict:
    """What a run repeats, timed alone: start-up, service init, the check (re-read or not)."""
    bare = python_startup("pass")
    with_dagster = python_startup("import dagster")
    with_defs = python_startup(f"import {DEFINITIONS_MODULE}")
    began = time.perf_counter()
    fresh = ClipService.from_settings(Settings.from_env())
    fresh.ensure_indexes()
    service_init = time.perf_counter() - began
    sample = specs[:20]
    began = time.perf_counter()
    for spec in sample:
        audit_clip(service, spec)
    reread = (time.perf_counter() - began) / len(sample)
    clips = [service.find_clip(spec, confirm=False) for spec in sample]
    began = time.perf_counter()
    for clip in clips:
        audit_made_clip(clip)
    at_cut = (time.perf_counter() - began) / len(sample)
    return {"python_start_s": round(bare, 3), "import_dagster_s": round(with_dagster - bare, 3),
            "import_definitions_s": round(with_defs - with_dagster, 3),
            "service_init_s": round(service_init, 3),
            "check_reread_ms": round(reread * 1000, 2), "check_at_cut_ms": round(at_cut * 1000, 3)}


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its threads so far (the daemon: not its runs)."""
    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


def dagster_pass(instance, env: dict, tmp: Path, warm: list[str], keys: list[str]) -> dict:
    register_clip_partitions(instance, warm + keys)
    log = tmp / "daemon.log"
    with running_code_server(env, tmp, log) as code, \
            WorkspaceProcessContext(instance, WorkspaceFileTarget([str(code.workspace)])) as ws:
        request_context = ws.create_request_context()
        stop_instigators(instance, request_context)
        with running_daemon(env, code, log) as daemon:
            warm_id = launch_backfill(request_context, warm)  # daemon and run workers warm
            wait_backfill(instance, warm_id, warm)
            daemon_cpu = cpu_seconds(daemon.pid)
            launched = time.time()
            backfill_id = launch_backfill(request_context, keys)
            done = wait_backfill(instance, backfill_id, keys)
            daemon_cpu = cpu_seconds(daemon.pid) - daemon_cpu
    runs = instance.get_run_records(dg.RunsFilter(tags={"dagster/backfill": backfill_id}))
    timelines = sorted((run_timeline(instance, r) for r in runs), key=lambda t: t["run_start_s"])
    first_run = min(r.create_timestamp.timestamp() for r in runs)
    return {"seconds": max(done.values()) - launched, "runs": timelines,
            "daemon_cpu_s": round(daemon_cpu, 2),
            "backfill_pickup_s": round(first_run - launched, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clips", type=int, default=200)
    parser.add_argument("--episodes", type=int, default=20)
    parser.add_argument("--keep", action="store_true",
                        help="keep the temp dir (daemon.log, DAGSTER_HOME) and print its path")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="podclips-backfill-"))
    mongo = start_mongo(":memory:")
    env = embedded_stack(tmp, mongo.uri, [])
    try:
        service = ClipService.from_settings(Settings.from_env())
        direct_guids, direct_specs = clip_keys("direct", args.episodes, args.clips)
        after_guids, after_specs = clip_keys("after", args.episodes, args.clips)
        dagster_guids, dagster_specs = clip_keys("dagster", args.episodes, args.clips)
        warm_guids, warm_specs = clip_keys("warm", 1, 2)
        seed(service, direct_guids + after_guids + dagster_guids + warm_guids, tmp)
        service.ensure_clip("warm-00", 5, requested_by="benchmark")  # imports, FFmpeg, indexes
        direct_s = cut_directly(service, direct_specs)
        instance = dg.DagsterInstance.get()
        dagster = dagster_pass(instance, env, tmp, [s.partition_key for s in warm_specs],
                               [s.partition_key for s in dagster_specs])
        direct_after_s = cut_directly(service, after_specs)
        isolated = isolated_costs(service, dagster_specs)
    finally:
        mongo.stop()
    result = summarize(args, (direct_s, direct_after_s), dagster, isolated)
    print_table(result)
    finish(result, tmp, args.keep)


def summarize(args, direct_passes: tuple[float, float], dagster: dict, isolated: dict) -> dict:
    direct_s = sum(direct_passes) / len(direct_passes)
    runs = dagster["runs"]
    stages = ("planned_events", "queued", "process_start", "code_load", "resource_init",
              "resources_and_pool_wait", "step_start_to_first_clip", "first_to_last_clip",
              "last_clip_to_run_end")
    direct_rate, dagster_rate = args.clips / direct_s, args.clips / dagster["seconds"]
    return {
        "clips": args.clips, "episodes": args.episodes, "cut_workers": CUT_WORKERS,
        "direct_clips_per_s": round(direct_rate, 2),
        "dagster_clips_per_s": round(dagster_rate, 2),
        "ratio": round(dagster_rate / direct_rate, 2),
        # podclips-daemon looks for new backfills every BACKFILL_DAEMON_INTERVAL_SECONDS:
        # part of the wall time is when the launch fell in that cycle, whatever the size.
        "dagster_clips_per_s_after_pickup": round(
            args.clips / (dagster["seconds"] - dagster["backfill_pickup_s"]), 2),
        "direct_s": round(direct_s, 2),
        "direct_before_after_s": [round(p, 2) for p in direct_passes],
        "dagster_s": round(dagster["seconds"], 2),
        "runs": len(runs),
        "daemon_cpu_s": dagster["daemon_cpu_s"],
        "partitions_per_run": [r["partitions"] for r in runs],
        "check_evaluations": sum(r["check_evaluations"] for r in runs),
        "breakdown": {
            "backfill_pickup_s": dagster["backfill_pickup_s"],
            **{f"{stage}_s_p50": pct([r[stage] for r in runs], 0.5) for stage in stages},
            "materialization_write_ms_p50": pct([r["materialization_write_ms"] for r in runs], 0.5),
            "per_clip_in_step_ms_p50": pct([1000 * r["first_to_last_clip"]
                                            / max(r["partitions"] - 1, 1) for r in runs], 0.5),
            "direct_per_clip_ms": round(1000 * direct_s / args.clips, 1),
            "isolated": isolated,
        },
    }


def print_table(r: dict) -> None:
    b, iso = r["breakdown"], r["breakdown"]["isolated"]
    rows = [
        (f"{r['clips']} clips over {r['episodes']} episodes: clips/s",
         r["dagster_clips_per_s"], r["direct_clips_per_s"]),
        ("wall seconds (launch -> last clip)", r["dagster_s"], r["direct_s"]),
        ("  direct before / after the Dagster pass (s)", "-",
         " / ".join(map(str, r["direct_before_after_s"]))),
        ("runs / partitions per run", f"{r['runs']} / {r['partitions_per_run']}", "-"),
        ("per clip while cutting (ms)", b["per_clip_in_step_ms_p50"], b["direct_per_clip_ms"]),
        ("backfill launch -> first run (s)", b["backfill_pickup_s"], "-"),
        ("daemon CPU while the backfill ran (s)", r["daemon_cpu_s"], "-"),
        *((f"  run p50: {k[:-6].replace('_', ' ')} (s)", v, "-")
          for k, v in b.items() if k.endswith("_s_p50")),
        ("isolated: python / +dagster / +definitions (s)",
         f"{iso['python_start_s']} / {iso['import_dagster_s']} / {iso['import_definitions_s']}",
         "-"),
        ("isolated: service init (s)", iso["service_init_s"], "-"),
        ("  run p50: materialization event write (ms)", b["materialization_write_ms_p50"], "-"),
        ("isolated: check re-reading the object / at the cut (ms)",
         f"{iso['check_reread_ms']} / {iso['check_at_cut_ms']}", "-"),
    ]
    print(f"{'backfill throughput':48} {'dagster':>22} {'direct':>10}")
    for name, ours, base in rows:
        print(f"{name:48} {str(ours):>22} {str(base):>10}")
    print(f"ratio dagster/direct: {r['ratio']} (goal >= 0.6); after the daemon's pickup: "
          f"{r['dagster_clips_per_s_after_pickup']} clips/s, "
          f"{r['dagster_clips_per_s_after_pickup'] / r['direct_clips_per_s']:.2f}x")


if __name__ == "__main__":
    main()
