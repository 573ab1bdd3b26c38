"""Scale-out: Dagster's storage on PostgreSQL against SQLite, measured in the same run.

    .venv/bin/python -m benchmarks.scale_out [--partitions 100000] [--pending 500] [--ticks 10]
        [--batch 1000] [--requests 1000] [--per-episode 10] [--keep]

For each backend, a fresh instance: PostgreSQL is deploy/dagster/dagster.yaml (minus the
ECS launcher and S3 compute logs) on a server of our own from Debian's binaries, fsync on;
SQLite is the repo's dagster.yaml. Then, in order:
- registers --partitions audio_clips partitions (batches of 10,000);
- times clip_request_sensor's evaluation with --pending pending requests (half for
  registered partitions, half for new ones), p50/p95 over --ticks ticks, the requests
  put back to pending between ticks;
- times registering --batch new partitions the way the sensor daemon applies a
  sensor's request (one has_dynamic_partition per key, then one insert);
- sends --requests on-demand requests at once through `podclips-daemon run` on that
  instance (local object store, embedded SecantusDB): request -> done p50/p95, runs
  launched, every request final, no clip cut twice. --requests 0 skips it.
Prints a table and, as the last line, one JSON object.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
from bson import ObjectId

from benchmarks.on_demand import finish, pct, request, seed, wait_final
from podclips_dagster.config import Settings
from podclips_dagster.core.requests import ClipRequests
from podclips_dagster.core.service import ClipService
from podclips_dagster.defs.clips.partitions import AUDIO_CLIPS_PARTITIONS_NAME
from podclips_dagster.defs.requests.sensors import clip_request_sensor
from podclips_dagster.defs.resources import ClipServiceResource
from podclips_dagster.devstack.dagster_processes import running_code_server, running_daemon
from podclips_dagster.devstack.mongo_server import start_mongo
from podclips_dagster.devstack.postgres_server import (
    create_dagster_schema,
    local_instance_yaml,
    start_postgres,
)

REPO = Path(__file__).resolve().parents[1]
BACKENDS = ("postgres", "sqlite")
REGISTER_BATCH = 10_000


def registered_key(i: int) -> str:
    return f"scale-{i // 50:05d}/{i % 50}"


def register(instance, count: int) -> float:
    began = time.perf_counter()
    for start in range(0, count, REGISTER_BATCH):
        instance.add_dynamic_partitions(AUDIO_CLIPS_PARTITIONS_NAME, [
            registered_key(i) for i in range(start, min(count, start + REGISTER_BATCH))])
    return time.perf_counter() - began


def pending_requests(partitions: int, count: int) -> list[dict]:
    """Half for partitions registered mid-way through the list, half for new ones."""
    at = datetime.now(UTC)
    old = [registered_key(partitions // 2 + i) for i in range(count // 2)]
    new = [f"new-{i // 25:03d}/{i % 25}" for i in range(count - len(old))]
    return [{"_id": ObjectId(), "episode_id": key.split("/")[0],
             "chunk_index": int(key.split("/")[1]), "duration_seconds": 30,
             "partition_key": key, "status": "pending", "attempts": 0, "source": "benchmark",
             "requested_at": at + timedelta(milliseconds=i),
             "updated_at": at} for i, key in enumerate(old + new)]


def measure_ticks(instance, resource, store: ClipRequests, docs: list[dict],
                  ticks: int) -> tuple[list[float], list[float], int]:
    """Seconds per tick, seconds of its part that loads every registered key, runs asked."""
    seconds, load_all, runs = [], [], 0
    for _ in range(ticks):
        began = time.perf_counter()
        instance.get_dynamic_partitions(AUDIO_CLIPS_PARTITIONS_NAME)  # what plan_batches needs
        load_all.append(time.perf_counter() - began)
        store.collection.delete_many({})
        store.collection.insert_many([dict(doc) for doc in docs])
        context = dg.build_sensor_context(instance=instance,
                                          resources={"clip_service": resource})
        began = time.perf_counter()
        result = clip_request_sensor(context)
        seconds.append(time.perf_counter() - began)
        runs = len(result.run_requests)
        if not runs:
            raise SystemExit("the sensor launched nothing: the benchmark measures no work")
    store.collection.delete_many({})
    return seconds, load_all, runs


def measure_registration(instance, count: int, tag: str) -> tuple[float, float]:
    """Seconds to register `count` new keys as the sensor daemon applies a sensor's
    AddDynamicPartitionsRequest (one has_dynamic_partition query per key, then one insert),
    and as one add_dynamic_partitions call (one query for the existing, one insert)."""
    keys = [f"batch-{tag}/{i}" for i in range(count)]
    began = time.perf_counter()
    new = [k for k in keys if not instance.has_dynamic_partition(AUDIO_CLIPS_PARTITIONS_NAME, k)]
    instance.add_dynamic_partitions(AUDIO_CLIPS_PARTITIONS_NAME, new)
    as_daemon = time.perf_counter() - began
    began = time.perf_counter()
    instance.add_dynamic_partitions(AUDIO_CLIPS_PARTITIONS_NAME,
                                    [f"batch-{tag}-call/{i}" for i in range(count)])
    return as_daemon, time.perf_counter() - began


def _runs(instance, run_keys) -> list:
    return [r for key in run_keys
            for r in instance.get_runs(filters=dg.RunsFilter(tags={"dagster/run_key": key}))]


def through_daemon(env: dict, instance, service, guids: list[str], per_episode: int,
                   workdir: Path, timeout: float) -> dict:
    store = ClipRequests(service.db)
    with running_code_server(env, workdir, workdir / "daemon.log") as code, \
            running_daemon(env, code, workdir / "daemon.log"):
        began = time.perf_counter()
        wait_final(store, [request(service, guids[0], per_episode)], timeout=timeout)  # warm-up
        warmup = time.perf_counter() - began
        began = time.perf_counter()
        ids = [request(service, guid, chunk) for chunk in range(per_episode) for guid in guids]
        docs = wait_final(store, ids, timeout=timeout)
        elapsed = time.perf_counter() - began
        run_keys = {d["run_key"] for d in docs if d.get("run_key")}
        # A run settles its requests before it ends: let the runs finish before counting.
        deadline = time.perf_counter() + 300
        while time.perf_counter() < deadline and not all(
                r.is_finished for r in _runs(instance, run_keys)):
            time.sleep(1)
    latency = [(d["finished_at"] - d["requested_at"]).total_seconds() for d in docs
               if d.get("finished_at")]
    runs = _runs(instance, run_keys)
    keys = {d["partition_key"] for d in docs}
    cuts = Counter(
        r.partition_key for r in instance.fetch_materializations(
            dg.AssetKey("audio_clips"), limit=len(keys) * 3).records
        if r.partition_key in keys
        and not r.asset_materialization.metadata["reused_existing_clip"].value)
    return {"requests": len(ids), "warmup_s": round(warmup, 1), "seconds": round(elapsed, 1),
            "clips_per_s": round(len(keys) / elapsed, 2),
            "latency_s": {"p50": pct(latency, 0.5), "p95": pct(latency, 0.95)},
            "statuses": dict(Counter(d["status"] for d in docs)),
            "all_final": len(docs) == len(ids), "runs": len(runs),
            "runs_succeeded": sum(r.status == dg.DagsterRunStatus.SUCCESS for r in runs),
            "duplicate_cuts": sum(n - 1 for n in cuts.values() if n > 1),
            "clips_cut": len(cuts)}


def run_backend(backend: str, args, mongo, tmp: Path) -> dict:
    work = tmp / backend
    dagster_home = work / "dagster"
    dagster_home.mkdir(parents=True)
    env = {**os.environ, "PODCLIPS_HOME": str(work / "home"), "MONGODB_URI": mongo.uri,
           "MONGODB_DB": f"scale_{backend}", "PODCLIPS_STORAGE": "local",
           "DAGSTER_HOME": str(dagster_home), "PYTHONPATH": str(REPO)}
    server = None
    if backend == "postgres":
        server = start_postgres(durable=True)
        env["DAGSTER_PG_URL"] = server.url
        (dagster_home / "dagster.yaml").write_text(local_instance_yaml())
    else:
        shutil.copyfile(REPO / "dagster.yaml", dagster_home / "dagster.yaml")
    os.environ.clear()
    os.environ.update(env)
    try:
        create_dagster_schema(dagster_home)
        instance = dg.DagsterInstance.from_config(str(dagster_home))
        service = ClipService.from_settings(Settings.from_env())
        resource = ClipServiceResource(mongodb_uri=mongo.uri, mongodb_db=env["MONGODB_DB"],
                                       storage="local")
        store = ClipRequests(service.db)
        store.ensure_indexes()
        result = {"register_partitions_s": round(register(instance, args.partitions), 1)}
        ticks, load_all, runs = measure_ticks(
            instance, resource, store, pending_requests(args.partitions, args.pending), args.ticks)
        result["tick_s"] = {"p50": pct(ticks, 0.5), "p95": pct(ticks, 0.95), "n": len(ticks),
                            "runs_per_tick": runs, "load_all_keys_p50": pct(load_all, 0.5)}
        as_daemon, one_call = measure_registration(instance, args.batch, backend)
        result["register_batch_s"] = round(as_daemon, 3)
        result["register_batch_one_call_s"] = round(one_call, 3)
        if args.requests:
            episodes = math.ceil(args.requests / args.per_episode)
            guids = [f"{backend}-{i:03d}" for i in range(episodes)]
            seed(service, guids, work)
            result["on_demand"] = through_daemon(env, instance, service, guids, args.per_episode,
                                                 work, args.timeout)
        instance.dispose()
        return result
    finally:
        if server:
            server.stop()


def print_table(r: dict, args) -> None:
    pg, lite = r["postgres"], r["sqlite"]
    rows = [
        (f"register {args.partitions:,} partitions (s)", "register_partitions_s"),
        (f"sensor tick, {args.pending} pending: p50 (s)", ("tick_s", "p50")),
        ("sensor tick: p95 (s)", ("tick_s", "p95")),
        ("  of which loading every key, p50 (s)", ("tick_s", "load_all_keys_p50")),
        (f"register {args.batch:,} new keys, as the daemon (s)", "register_batch_s"),
        (f"register {args.batch:,} new keys, one call (s)", "register_batch_one_call_s"),
    ]
    if args.requests:
        rows += [(f"{args.requests} requests: request -> done p50 (s)",
                  ("on_demand", "latency_s", "p50")),
                 ("  request -> done p95 (s)", ("on_demand", "latency_s", "p95")),
                 ("  clips/s", ("on_demand", "clips_per_s")),
                 ("  runs launched / succeeded", None),
                 ("  every request final / statuses", None),
                 ("  duplicate cuts", ("on_demand", "duplicate_cuts"))]

    def value(side, path, name):
        if path is None and name.strip().startswith("runs"):
            return f"{side['on_demand']['runs']} / {side['on_demand']['runs_succeeded']}"
        if path is None:
            o = side["on_demand"]
            return f"{o['all_final']} / " + ",".join(f"{k}={v}" for k, v in o["statuses"].items())
        for part in (path,) if isinstance(path, str) else path:
            side = side[part]
        return side

    print(f"{'scale out':44} {'PostgreSQL':>22} {'SQLite (baseline)':>22}")
    for name, path in rows:
        print(f"{name:44} {str(value(pg, path, name)):>22} {str(value(lite, path, name)):>22}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--partitions", type=int, default=100_000)
    parser.add_argument("--pending", type=int, default=500)
    parser.add_argument("--ticks", type=int, default=10)
    parser.add_argument("--batch", type=int, default=1_000)
    parser.add_argument("--requests", type=int, default=1_000,
                        help="on-demand requests through the daemon per backend (0: skip)")
    parser.add_argument("--per-episode", type=int, default=10,
                        help="requests per episode (at most 16: 8-minute episodes)")
    parser.add_argument("--timeout", type=float, default=3600)
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (daemon logs)")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="podclips-scale-out-"))
    saved = dict(os.environ)
    mongo = start_mongo(":memory:")
    try:
        result = {backend: run_backend(backend, args, mongo, tmp) for backend in BACKENDS}
    finally:
        mongo.stop()
        os.environ.clear()
        os.environ.update(saved)
    result["settings"] = {k: getattr(args, k) for k in
                          ("partitions", "pending", "ticks", "batch", "requests", "per_episode")}
    result["ratio_sqlite_over_postgres"] = {
        "tick_p95": round(result["sqlite"]["tick_s"]["p95"] /
                          max(result["postgres"]["tick_s"]["p95"], 1e-3), 2),
        "register_batch": round(result["sqlite"]["register_batch_s"] /
                                max(result["postgres"]["register_batch_s"], 1e-3), 2)}
    print_table(result, args)
    finish(result, tmp, args.keep)


if __name__ == "__main__":
    main()
