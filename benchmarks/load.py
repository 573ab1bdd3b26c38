"""The sidecar under mixed load: 50 clients for 2 minutes against `podclips api`.

    .venv/bin/python -m benchmarks.load [--clients 50] [--seconds 120] [--quick]

Starts SecantusDB and `podclips api` (uvicorn, the Lambda's app) as separate
processes on the embedded stack (the local object store), seeds synthetic
CBR episodes (benchmarks.on_demand's seed) and cuts the clips the hits will
ask for. Then closed-loop clients, each sending one request after another,
pick every request at random from this mix:
- 70 % cache hits (half on the POST route, half on the dashboard's GET);
- 10 % misses (a clip never cut, so the request cuts it with FFmpeg);
- 10 % lookups (20 search results, some cut, some not);
- 10 % bad input: an unknown episode, malformed JSON, no API key, and a
  1.5 MB body, in turn.
The rate limits are set high (they still run, with their MongoDB work, on
every clip request) so that no 429 distorts the mix: none of the bad inputs
is meant to hit them. Pre-cuts are queued for Dagster (`PRECUT_MODE=queue`),
so the misses are the only cuts. Reports requests/s, p50/p99 per kind, every
status code, the 5xx (goal 0) and the server's resident memory (VmRSS from
/proc) after warm-up and at the end (goal: growth <= 10 %). The baseline,
measured in the same run on the same server: cache hits from one client
with nothing else running. Also the CPU seconds the API, its FFmpeg cuts and
the MongoDB server spent (from /proc), to show where the time goes. Prints a
table and, as its last line, one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

import httpx

from benchmarks.api_latency import wait_http
from benchmarks.clip_latency import percentile
from benchmarks.on_demand import EPISODE_MINUTES, seed
from podclips_dagster.config import Settings
from podclips_dagster.core.api_keys import ApiKeys
from podclips_dagster.core.service import ClipService
from podclips_dagster.devstack.mongo_server import free_port, start_mongo

MIX = {"hit": 70, "miss": 10, "lookup": 10, "bad_input": 10}
BAD_INPUTS = ("unknown_episode", "malformed_json", "no_key", "oversized_body")
DURATIONS = (15, 30, 60)
HIT_CLIPS = 24
GOALS = {"server_errors": 0, "rss_growth_pct": 10.0}
OVERSIZED = b'{"items": [' + b" " * (1536 * 1024) + b"]}"  # 1.5 MB of JSON


def server_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    raise RuntimeError(f"no VmRSS for process {pid}")


def cpu_seconds(pid: int) -> tuple[float, float]:
    """(the process's own CPU seconds, its waited-for children's: FFmpeg for the API)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / tick, (int(fields[13]) + int(fields[14])) / tick


def runqueue_wait_seconds(pid: int) -> float:
    """Seconds the process's threads waited for a CPU while runnable (schedstat): how much
    of its latency the machine's other work caused."""
    waited = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            waited += int((task / "schedstat").read_text().split()[1])
        except (OSError, IndexError, ValueError):  # a thread that ended meanwhile
            pass
    return waited / 1e9


class Traffic:
    """What the clients ask for: clips already cut (hits) and clips never asked for (misses)."""

    def __init__(self, chunk_counts: dict[str, int], chunk_starts_ms: list[int], seed_value: int):
        self.random = random.Random(seed_value)
        clips = [(g, c, d) for d in DURATIONS for g, n in chunk_counts.items() for c in range(n)]
        self.random.shuffle(clips)
        self.hits, self.fresh = clips[:HIT_CLIPS], clips[HIT_CLIPS:]
        self.chunk_starts_ms = chunk_starts_ms
        self.bad_turn = 0

    def kind(self) -> str:
        return self.random.choices(list(MIX), weights=list(MIX.values()))[0]

    def request(self, kind: str, key: str) -> tuple[str, dict]:
        """(sub-kind, httpx request arguments) for one request of `kind`."""
        auth = {"X-API-Key": key}
        if kind == "hit":
            guid, chunk, duration = self.random.choice(self.hits)
            if self.random.random() < 0.5:
                return "hit", {"method": "POST", "url": "/api/generate-audio-clip", "headers": auth,
                               "json": {"episode_id": guid, "chunk_index": chunk,
                                        "duration": duration}}
            return "hit", {"method": "GET", "url": f"/api/v1/audio_clips/{guid}", "headers": auth,
                           "params": {"start_time_ms": self.chunk_starts_ms[chunk],
                                      "duration_ms": duration * 1000}}
        if kind == "miss":
            if not self.fresh:
                raise SystemExit("every seeded clip has been cut: seed more episodes (--episodes)")
            guid, chunk, duration = self.fresh.pop()
            return "miss", {"method": "POST", "url": "/api/generate-audio-clip", "headers": auth,
                            "json": {"episode_id": guid, "chunk_index": chunk,
                                     "duration": duration}}
        if kind == "lookup":
            shown = self.random.sample(self.hits, 10) + self.random.sample(self.fresh, 10)
            self.random.shuffle(shown)
            return "lookup", {"method": "POST", "url": "/api/audio-clips/lookup", "headers": auth,
                              "json": {"items": [{"episode_id": g, "chunk_index": c, "duration": d}
                                                 for g, c, d in shown]}}
        bad = BAD_INPUTS[self.bad_turn % len(BAD_INPUTS)]
        self.bad_turn += 1
        post = {"method": "POST", "url": "/api/generate-audio-clip"}
        json_type = {"Content-Type": "application/json"}
        return bad, {
            "unknown_episode": {**post, "headers": auth,
                                "json": {"episode_id": "no-such-episode", "chunk_index": 0}},
            "malformed_json": {**post, "headers": {**auth, **json_type},
                               "content": b'{"episode_id": "x", "chunk_index": '},
            "no_key": {**post, "json": {"episode_id": "no-such-episode", "chunk_index": 0}},
            "oversized_body": {**post, "headers": {**auth, **json_type}, "content": OVERSIZED},
        }[bad]


async def run_clients(url: str, keys: list[str], traffic: Traffic, clients: int,
                      seconds: float, kinds: tuple[str, ...] | None = None) -> dict:
    """Closed-loop clients until `seconds` pass: latencies and statuses per (sub-)kind."""
    latencies: dict[str, list[float]] = defaultdict(list)
    statuses: dict[str, Counter] = defaultdict(Counter)
    deadline = time.perf_counter() + seconds

    async def client(n: int) -> None:
        async with httpx.AsyncClient(base_url=url, timeout=60) as http:
            while time.perf_counter() < deadline:
                kind = traffic.random.choice(kinds) if kinds else traffic.kind()
                sub, args = traffic.request(kind, keys[n % len(keys)])
                began = time.perf_counter()
                try:
                    status = (await http.request(**args)).status_code
                except httpx.HTTPError as err:  # counted, and the client carries on
                    status = type(err).__name__
                latencies[kind].append(time.perf_counter() - began)
                statuses[kind][status] += 1
                if sub != kind:
                    statuses[sub][status] += 1

    began = time.perf_counter()
    await asyncio.gather(*(client(n) for n in range(clients)))
    return {"latencies": latencies, "statuses": statuses, "wall_s": time.perf_counter() - began}


def summarize(run: dict) -> dict:
    total = sum(len(v) for v in run["latencies"].values())
    kinds = {kind: {"n": len(times), "p50_ms": round(percentile(times, 50) * 1000, 1),
                    "p99_ms": round(percentile(times, 99) * 1000, 1),
                    "statuses": {str(k): v for k, v in sorted(run["statuses"][kind].items(),
                                                              key=str)}}
             for kind, times in sorted(run["latencies"].items())}
    for sub in BAD_INPUTS:
        if sub in run["statuses"]:
            kinds["bad_input"].setdefault("by_input", {})[sub] = {
                str(k): v for k, v in run["statuses"][sub].items()}
    every = Counter()
    for kind in run["latencies"]:
        every.update(run["statuses"][kind])
    return {"requests": total, "requests_per_s": round(total / run["wall_s"], 1),
            "wall_s": round(run["wall_s"], 1), "kinds": kinds,
            "statuses": {str(k): v for k, v in sorted(every.items(), key=str)},
            "server_errors": sum(v for k, v in every.items()
                                 if not isinstance(k, int) or k >= 500)}


def start_api(env: dict, port: int, log_path: Path) -> subprocess.Popen:
    podclips = shutil.which("podclips", path=str(Path(sys.executable).parent)) or "podclips"
    process = subprocess.Popen([podclips, "api", "--host", "127.0.0.1", "--port", str(port)],
                               env=env, stdout=subprocess.DEVNULL, stderr=open(log_path, "wb"))
    try:
        wait_http(f"http://127.0.0.1:{port}/health", timeout=60)
    except RuntimeError:
        process.kill()
        raise SystemExit(f"`podclips api` did not start: see {log_path}") from None
    return process


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--warmup-seconds", type=float, default=15.0,
                        help="mixed traffic before the first memory reading")
    parser.add_argument("--episodes", type=int, default=12,
                        help=f"synthetic {EPISODE_MINUTES}-minute episodes (misses need clips)")
    parser.add_argument("--quick", action="store_true",
                        help="about 15 s of load after a 5 s warm-up, for a quick check")
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args(argv)
    if args.quick:
        args.seconds, args.warmup_seconds, args.episodes = 15.0, 5.0, 4

    tmp = Path(tempfile.mkdtemp(prefix="podclips-load-"))
    mongo = start_mongo(":memory:")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "PODCLIPS_HOME": str(tmp / "home"), "MONGODB_URI": mongo.uri,
           "MONGODB_DB": "bench", "PODCLIPS_STORAGE": "local", "PODCLIPS_API_URL": url,
           "RATE_LIMIT_PER_IP_PER_MINUTE": "1000000", "RATE_LIMIT_PER_KEY_PER_HOUR": "1000000",
           "PRECUT_MODE": "queue"}
    api = None
    try:
        service = ClipService.from_settings(Settings.from_env(env))
        counts = seed(service, [f"load-{n:02d}" for n in range(args.episodes)], tmp)
        starts = [round(c["start_time"] * 1000) for c in service.catalogue.chunks.find(
            {"episode_id": "load-00"}, {"start_time": 1}).sort("chunk_index", 1)]
        keys = [ApiKeys(service.db["api_keys"]).create(f"load-{n}") for n in range(5)]
        api = start_api(env, port, tmp / "api.log")
        traffic = Traffic(counts, starts, args.seed)
        for guid, chunk, duration in traffic.hits:  # the clips the hits ask for
            service.ensure_clip(guid, chunk, duration, requested_by="benchmark")
        baseline = summarize(asyncio.run(run_clients(url, keys, traffic, 1, 5, ("hit",))))
        asyncio.run(run_clients(url, keys, traffic, args.clients, args.warmup_seconds))
        rss_warm = server_rss_mb(api.pid)
        cpu_before = (*cpu_seconds(api.pid), cpu_seconds(mongo.process.pid)[0],
                      runqueue_wait_seconds(api.pid))
        figures = summarize(asyncio.run(run_clients(url, keys, traffic, args.clients,
                                                    args.seconds)))
        rss_end = server_rss_mb(api.pid)
        cpu_after = (*cpu_seconds(api.pid), cpu_seconds(mongo.process.pid)[0],
                     runqueue_wait_seconds(api.pid))
    finally:
        if api is not None:
            api.terminate()
            api.wait(30)
        mongo.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    figures.update(
        clients=args.clients, seconds=args.seconds, warmup_seconds=args.warmup_seconds,
        mix_pct=MIX, rss_mb={"after_warmup": rss_warm, "end": rss_end,
                             "growth_pct": round((rss_end / rss_warm - 1) * 100, 1)},
        cpu_s=dict(zip(("api", "ffmpeg", "mongodb", "api_waiting_for_a_cpu"),
                       (round(b - a, 1) for a, b in zip(cpu_before, cpu_after, strict=True)),
                       strict=True)),
        baseline_hit_one_client=baseline["kinds"]["hit"],
        hit_p50_over_baseline=round(figures["kinds"]["hit"]["p50_ms"]
                                    / max(baseline["kinds"]["hit"]["p50_ms"], 0.1), 1))
    figures["goals_met"] = (figures["server_errors"] <= GOALS["server_errors"]
                            and figures["rss_mb"]["growth_pct"] <= GOALS["rss_growth_pct"])
    print_table(figures)
    print(json.dumps(figures))
    return figures


def print_table(f: dict) -> None:
    print(f"{args_line(f)}\n")
    print(f"{'kind':<10} {'n':>7} {'p50 ms':>9} {'p99 ms':>9}  statuses")
    for kind, k in f["kinds"].items():
        print(f"{kind:<10} {k['n']:>7} {k['p50_ms']:>9.1f} {k['p99_ms']:>9.1f}  {k['statuses']}")
    for sub, statuses in f["kinds"].get("bad_input", {}).get("by_input", {}).items():
        print(f"  {sub:<18} {statuses}")
    base = f["baseline_hit_one_client"]
    print(f"\nbaseline (same run): hits from 1 client p50 {base['p50_ms']} ms, p99 "
          f"{base['p99_ms']} ms; under load the hit p50 is x{f['hit_p50_over_baseline']}")
    rss = f["rss_mb"]
    print(f"requests/s {f['requests_per_s']}; statuses {f['statuses']}; 5xx {f['server_errors']}")
    print(f"server RSS {rss['after_warmup']} MB after warm-up, {rss['end']} MB at the end "
          f"({rss['growth_pct']:+.1f} %)")
    cpu = f["cpu_s"]
    print(f"CPU seconds in the {f['wall_s']} s: API {cpu['api']}, its FFmpeg cuts "
          f"{cpu['ffmpeg']}, MongoDB server {cpu['mongodb']}; the API's threads waited "
          f"{cpu['api_waiting_for_a_cpu']} s for a CPU (2 cores shared with other work)")
    print(f"goals: {GOALS}: " + ("met" if f["goals_met"] else "NOT met") + "\n")


def args_line(f: dict) -> str:
    return (f"{f['clients']} clients, {f['seconds']:.0f} s after {f['warmup_seconds']:.0f} s of "
            f"warm-up; mix {f['mix_pct']} (%)")


if __name__ == "__main__":
    main()
