"""On-demand clips through Dagster: `podclips request` -> sensor -> run -> `done`.

    .venv/bin/python -m benchmarks.on_demand [--latency N] [--episodes E] [--per-episode K]

Starts an embedded SecantusDB, a temporary DAGSTER_HOME with the repo's
dagster.yaml, the local object store, seeds tone-coded episodes, and runs
a code server and `podclips-daemon` on it, as `podclips dev` runs them (sensors
on by default, the queued run coordinator and run launcher of `make dev`).
Then measures, in order:
- latency: N requests one after another, from `request_clip` (what
  `podclips request` calls) to `done` (p50/p95), and one real CLI call;
- throughput: E x K requests written at once, until every one is final
  (clips/s), with the runs launched, the batches (run keys) and duplicate cuts;
- baseline in the same run: `ensure_clip` called directly (no orchestration);
- the sidecar pre-cut: a search result shown (`POST /api/audio-clips/lookup` on a
  sidecar) until its pre-cut clip exists, with `PRECUT_MODE=direct` (the
  sidecar cuts it after answering) and `PRECUT_MODE=queue` (the sensor makes
  a run of it). This is the replay benchmark's `--sidecar-precut-latency`.
Prints a table and, as the last line, one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import yaml

from benchmarks.api_latency import wait_http
from podclips_dagster.config import Settings
from podclips_dagster.core.api_keys import ApiKeys
from podclips_dagster.core.requests import FINAL, ClipRequests, request_clip
from podclips_dagster.core.service import ClipService
from podclips_dagster.core.spec import ClipSpec
from podclips_dagster.devstack.dagster_processes import running_code_server, running_daemon
from podclips_dagster.devstack.mongo_server import free_port, start_mongo
from podclips_dagster.devstack.synthetic_audio import make_episode, make_transcript_chunks

REPO = Path(__file__).resolve().parents[1]
EPISODE_MINUTES = 8  # 17 chunks: room for latency, throughput and warm-up clips
TIMEOUT_S = 600


def seed(service: ClipService, guids: list[str], workdir: Path) -> dict[str, int]:
    """One synthetic CBR episode stored under every guid; returns guid -> chunk count."""
    audio = make_episode(workdir / "episode.mp3", EPISODE_MINUTES * 60, "mp3-cbr")
    source = service.storage.bucket(service.settings.source_bucket)
    chunks = make_transcript_chunks(EPISODE_MINUTES * 60, seed=7)
    service.catalogue.chunks.create_index([("episode_id", 1), ("chunk_index", 1)])
    service.catalogue.episodes.create_index([("guid", 1)], unique=True)
    for guid in guids:
        key = f"bench/{guid}/audio/{guid}.mp3"
        source.put_file(key, audio, "audio/mpeg", {})
        service.catalogue.episodes.insert_one({
            "guid": guid, "episode_title": guid, "podcast_name": "Bench", "feed_slug": "bench",
            "s3_audio_path": f"s3://{source.name}/{key}", "duration": EPISODE_MINUTES * 60})
        service.catalogue.chunks.insert_many([{**c, "episode_id": guid} for c in chunks])
    return {guid: len(chunks) for guid in guids}


def embedded_stack(tmp: Path, mongo_uri: str, overrides: list[str]) -> dict:
    """The env of a benchmark's embedded stack under `tmp` (local objects, its own
    DAGSTER_HOME with the repo's dagster.yaml plus `overrides`), applied to this process too."""
    dagster_home = tmp / "dagster"
    dagster_home.mkdir()
    (dagster_home / "dagster.yaml").write_text(instance_config(overrides))
    env = {**os.environ, "PODCLIPS_HOME": str(tmp / "home"), "MONGODB_URI": mongo_uri,
           "MONGODB_DB": "bench", "PODCLIPS_STORAGE": "local", "DAGSTER_HOME": str(dagster_home),
           "PYTHONPATH": str(REPO)}
    os.environ.update(env)
    return env


def wait_final(store: ClipRequests, ids: list, timeout: float = TIMEOUT_S) -> list[dict]:
    """Poll until every request is final; returns their documents."""
    began, pending, done = time.perf_counter(), set(ids), []
    while pending and time.perf_counter() - began < timeout:
        for doc in store.collection.find({"_id": {"$in": list(pending)},
                                          "status": {"$in": list(FINAL)}}):
            done.append(doc)
            pending.discard(doc["_id"])
        time.sleep(0.05)
    if pending:
        raise SystemExit(f"{len(pending)} request(s) not final after {timeout} s (see daemon.log)")
    return done


def request(service, guid, chunk):
    return request_clip(service, guid, chunk, 30, source="benchmark")["_id"]


def measure_latency(service, store, instance, guids, count) -> tuple[list[float], dict]:
    """Sequential requests: seconds to done, and where they went (p50 of each stage)."""
    seconds, stages = [], {"sensor_pickup": [], "queued_to_run_start": [], "run_start_to_done": []}
    for i in range(count):
        began = time.perf_counter()
        (doc,) = wait_final(store, [request(service, guids[i % len(guids)], i // len(guids))])
        assert doc["status"] == "done", doc
        seconds.append(time.perf_counter() - began)
        run = instance.get_run_record_by_id(doc["run_id"])
        at = {k: doc[k].timestamp() for k in ("requested_at", "queued_at", "finished_at")}
        stages["sensor_pickup"].append(at["queued_at"] - at["requested_at"])
        stages["queued_to_run_start"].append(run.start_time - at["queued_at"])
        stages["run_start_to_done"].append(at["finished_at"] - run.start_time)
    return seconds, {k: pct(v, 0.5) for k, v in stages.items()}


def measure_cli(env, guid, chunk) -> tuple[float, dict]:
    began = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "podclips_dagster.cli", "request", guid,
                          str(chunk), "--wait", "120"], env=env, cwd=REPO, check=True,
                         capture_output=True, text=True).stdout
    return time.perf_counter() - began, json.loads(out)


def measure_throughput(service, store, instance, guids, per_episode, first_chunk, order):
    began = time.perf_counter()
    pairs = [(g, first_chunk + k) for k in range(per_episode) for g in guids]
    if order == "episode":  # an episode's chunks together, as a dashboard prefetches them
        pairs.sort()
    ids = [request(service, guid, chunk) for guid, chunk in pairs]
    docs = wait_final(store, ids)
    elapsed = time.perf_counter() - began
    run_keys = {d["run_key"] for d in docs if d.get("run_key")}
    runs = [r for key in run_keys for r in instance.get_runs(
        filters=_runs_filter(key))]
    keys = {d["partition_key"] for d in docs}
    cuts = Counter(m.partition_key for m in _materializations(instance)
                   if m.partition_key in keys and not _reused(m))
    return {"requests": len(ids), "seconds": round(elapsed, 2),
            "clips_per_s": round(len(keys) / elapsed, 2),
            "statuses": dict(Counter(d["status"] for d in docs)),
            "runs": len(runs), "batches": len(run_keys),
            "duplicate_cuts": sum(n - 1 for n in cuts.values() if n > 1),
            "clips_cut": len(cuts)}


def _runs_filter(run_key):
    import dagster as dg

    return dg.RunsFilter(tags={"dagster/run_key": run_key})


def _materializations(instance):
    import dagster as dg

    return instance.fetch_materializations(dg.AssetKey("audio_clips"), limit=10_000).records


def _reused(record) -> bool:
    meta = record.asset_materialization.metadata
    return bool(meta.get("reused_existing_clip") and meta["reused_existing_clip"].value)


def start_sidecar(env: dict, precut_mode: str, log_path: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "podclips_dagster.sidecar.app:create_app",
         "--host", "127.0.0.1", "--port", str(port), "--lifespan", "off", "--log-level", "warning"],
        cwd=REPO, env={**env, "PRECUT_MODE": precut_mode, "RATE_LIMIT_PER_IP_PER_MINUTE": "100000",
                       "RATE_LIMIT_PER_KEY_PER_HOUR": "100000"},
        stdout=open(log_path, "wb"), stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{url}/health", timeout=60)
    except RuntimeError:
        raise SystemExit(f"the sidecar ({precut_mode}) did not start: see {log_path}") from None
    return process, url


def measure_sidecar_precut(service, url: str, key: str, pairs) -> list[float]:
    """Seconds from a lookup showing one uncut result to its clip's record existing."""
    seconds = []
    for guid, chunk in pairs:
        began = time.perf_counter()
        answer = httpx.post(f"{url}/api/audio-clips/lookup", headers={"X-API-Key": key},
                            json={"items": [{"episode_id": guid, "chunk_index": chunk}]})
        answer.raise_for_status()
        while service.records.find(ClipSpec(guid, chunk)) is None:
            if time.perf_counter() - began > 120:
                raise SystemExit(f"{guid}/{chunk} was not pre-cut within 120 s")
            time.sleep(0.02)
        seconds.append(time.perf_counter() - began)
    return seconds


def measure_baseline(service, guids, latency_count, throughput_count, workers):
    """ensure_clip in this process: the cost of a clip without Dagster."""
    specs = [(guids[i % len(guids)], i // len(guids)) for i in range(
        latency_count + throughput_count)]
    seconds = []
    for guid, chunk in specs[:latency_count]:
        began = time.perf_counter()
        service.ensure_clip(guid, chunk, 30, requested_by="benchmark")
        seconds.append(time.perf_counter() - began)
    began = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(lambda s: service.ensure_clip(*s, 30, requested_by="benchmark"),
                      specs[latency_count:]))
    return seconds, throughput_count / (time.perf_counter() - began)


def instance_config(overrides: list[str]) -> str:
    """The repo's dagster.yaml with `a.b.c=value` overrides applied."""
    config = yaml.safe_load((REPO / "dagster.yaml").read_text())
    for override in overrides:
        path, value = override.split("=", 1)
        *parents, leaf = path.split(".")
        node = config
        for name in parents:
            node = node.setdefault(name, {})
        node[leaf] = yaml.safe_load(value)
    return yaml.safe_dump(config)


def finish(result: dict, tmp: Path, keep: bool) -> None:
    """A benchmark's last words: keep or remove its temp dir, then its JSON line."""
    if keep:
        print(f"kept {tmp}", file=sys.stderr)
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(result))


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))], 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--latency", type=int, default=20, help="sequential requests timed")
    parser.add_argument("--episodes", type=int, default=20)
    parser.add_argument("--per-episode", type=int, default=10)
    parser.add_argument("--baseline", type=int, default=60, help="clips in the baseline run")
    parser.add_argument("--sidecar-precut", type=int, default=10,
                        help="lookups timed per pre-cut mode (at most --episodes)")
    parser.add_argument("--set", action="append", default=[], metavar="PATH=VALUE",
                        help="override the repo's dagster.yaml for this run, e.g. "
                        "run_queue.dequeue_interval_seconds=1 (repeatable)")
    parser.add_argument("--order", choices=("interleaved", "episode"), default="interleaved",
                        help="throughput requests round-robin over episodes, or episode by "
                        "episode (default interleaved)")
    parser.add_argument("--keep", action="store_true",
                        help="keep the temp dir (daemon.log, DAGSTER_HOME) and print its path")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="podclips-on-demand-"))
    mongo = start_mongo(":memory:")
    env = embedded_stack(tmp, mongo.uri, args.set)
    service = ClipService.from_settings(Settings.from_env())
    store = ClipRequests(service.db)
    guids = [f"bench-{i:02d}" for i in range(args.episodes)]
    base_guids = [f"base-{i:02d}" for i in range(args.episodes)]
    seed(service, guids + base_guids, tmp)
    from dagster import DagsterInstance

    instance = DagsterInstance.get()
    instance.get_runs(limit=1)  # create the SQLite storage before other processes race to
    try:
        with running_code_server(env, tmp, tmp / "daemon.log") as code, \
                running_daemon(env, code, tmp / "daemon.log"):
            began = time.perf_counter()
            wait_final(store, [request(service, guids[0], 16)])  # daemon + code server up
            warmup = time.perf_counter() - began
            latency, stages = measure_latency(service, store, instance, guids, args.latency)
            cli_seconds, cli_out = measure_cli(env, guids[-1], 15)
            runs_before = len(instance.get_runs())
            repeat = request_clip(service, guids[0], 0, 30, source="benchmark")
            time.sleep(6)  # a sensor tick: a repeated request must not launch a run
            repeat_new_runs = len(instance.get_runs()) - runs_before
            first = args.latency // args.episodes + 1
            throughput = measure_throughput(service, store, instance, guids, args.per_episode,
                                            first, args.order)
            base_latency, base_rate = measure_baseline(service, base_guids, args.latency,
                                                       args.baseline, workers=2)
            key = ApiKeys(service.db["api_keys"]).create("bench-sidecar-precut")
            sidecar_precut = {}
            for mode, chunk in (("direct", 13), ("queue", 14)):  # chunks no other part cuts
                sidecar, url = start_sidecar(env, mode, tmp / f"sidecar-{mode}.log")
                try:
                    sidecar_precut[mode] = measure_sidecar_precut(
                        service, url, key, [(g, chunk) for g in guids[:args.sidecar_precut]])
                finally:
                    os.killpg(sidecar.pid, 15)
                    sidecar.wait(30)
    finally:
        mongo.stop()
    result = {
        "dagster_yaml_overrides": args.set, "order": args.order,
        "latency_s": {"p50": pct(latency, 0.5), "p95": pct(latency, 0.95), "n": len(latency),
                      "stages_p50": stages},
        "cli_request_wait_s": round(cli_seconds, 3), "cli_status": cli_out["status"],
        "repeat_request": {"status": repeat["status"], "new_runs": repeat_new_runs},
        "warmup_s": round(warmup, 2), "throughput": throughput,
        "baseline": {"latency_s": {"p50": pct(base_latency, 0.5), "p95": pct(base_latency, 0.95)},
                     "clips_per_s": round(base_rate, 2)},
        "sidecar_precut_s": {mode: {"p50": pct(v, 0.5), "p95": pct(v, 0.95), "n": len(v)}
                        for mode, v in sidecar_precut.items()},
    }
    result["overhead"] = {
        "latency_p50_ratio": round(result["latency_s"]["p50"] / max(pct(base_latency, 0.5),
                                                                     1e-3), 1),
        "throughput_ratio": round(throughput["clips_per_s"] / max(base_rate, 1e-3), 2),
        "sidecar_precut_queue_over_direct_p50": round(
            result["sidecar_precut_s"]["queue"]["p50"]
            / max(result["sidecar_precut_s"]["direct"]["p50"], 1e-3), 1)}
    print_table(result)
    finish(result, tmp, args.keep)


def print_table(r: dict) -> None:
    t, b = r["throughput"], r["baseline"]
    rows = [
        ("request -> done, p50 / p95 (s)", f"{r['latency_s']['p50']} / {r['latency_s']['p95']}",
         f"{b['latency_s']['p50']} / {b['latency_s']['p95']}"),
        *((f"  p50 {stage.replace('_', ' ')} (s)", v, "-")
          for stage, v in r["latency_s"]["stages_p50"].items()),
        ("`podclips request --wait` (s)", r["cli_request_wait_s"], "-"),
        (f"{t['requests']} requests: clips/s", t["clips_per_s"], b["clips_per_s"]),
        ("runs / batches", f"{t['runs']} / {t['batches']}", "-"),
        ("duplicate cuts", t["duplicate_cuts"], "-"),
        ("final statuses", ", ".join(f"{k}={v}" for k, v in t["statuses"].items()), "-"),
        ("repeat request", f"{r['repeat_request']['status']}, "
         f"{r['repeat_request']['new_runs']} new run(s)", "-"),
        ("sidecar pre-cut: shown -> cut, p50 / p95 (s)",
         f"{r['sidecar_precut_s']['queue']['p50']} / {r['sidecar_precut_s']['queue']['p95']}",
         f"{r['sidecar_precut_s']['direct']['p50']} / "
         f"{r['sidecar_precut_s']['direct']['p95']} (sidecar)"),
    ]
    print(f"{'on-demand via Dagster':36} {'dagster':>22} {'ensure_clip direct':>20}")
    for name, ours, base in rows:
        print(f"{name:36} {str(ours):>22} {str(base):>20}")


if __name__ == "__main__":
    main()
