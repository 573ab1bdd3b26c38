"""Sidecar latency through HTTP: cache hits, cache misses, and 100 concurrent clients.

    .venv/bin/python -m benchmarks.api_latency [--hits N] [--misses N] [--media-dir DIR]

Starts SecantusDB, moto's S3 server and the sidecar (uvicorn, the same app the
Lambda runs) as separate processes on loopback, seeds a 1 h CBR episode (300
KB cover art) with its transcript chunks, and measures through HTTP:
- misses: distinct clips requested one after another (each is cut);
- hits: those clips requested again, on both clip routes;
- 100 concurrent clients over 20 clips never cut before (5 clients per
  clip, released together, as the dashboard's prefetch does): errors, cuts
  (answers with `cached: false`; exactly one per clip is the goal), p95.
The production rate limits stay on (10 per minute per IP, 100 per hour per
key): requests come from many simulated clients, each bound to its own
loopback address (127.0.x.y) with one of several keys and each within its
limits, so the limits' MongoDB work is in every figure at its real size. It
compares with the running system's figures (docs/architecture.md, "The
system it replaces") and with a baseline measured in the same run: the naive
cut of today's system (download the whole source, then FFmpeg), which
leaves out its HTTP and lookup costs and so flatters it. Prints a table and,
as its last line, one JSON object.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import httpx

os.environ.setdefault("AWS_ACCESS_KEY_ID", "benchmark")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "benchmark")

from benchmarks.clip_latency import cached_episode, cut_naive, percentile  # noqa: E402
from podclips_dagster.core.api_keys import ApiKeys  # noqa: E402
from podclips_dagster.core.audio.ffmpeg import find_ffmpeg  # noqa: E402
from podclips_dagster.core.storage import S3Storage  # noqa: E402
from podclips_dagster.core.stores.client import mongo_client  # noqa: E402
from podclips_dagster.devstack.mongo_server import free_port, start_mongo  # noqa: E402
from podclips_dagster.devstack.synthetic_audio import make_transcript_chunks  # noqa: E402

GUID = "bench-0000-4000-8000-api-latency"
SOURCE = "cbr-1h"  # from benchmarks.clip_latency: 1 h CBR MP3 with a 300 KB cover
RUNNING_SYSTEM_MS = {"hit_p50": 250, "hit_p95": 450, "miss_p50": 2100, "miss_p95": 3500}
GOALS = {"hit_p50_ms": 15, "concurrent_cuts": 20, "concurrent_errors": 0}
SEQUENTIAL_CLIENTS, SEQUENTIAL_KEYS = 100, 10  # ~650 requests: under 10/min/IP and 100/h/key


class ClientPool:
    """HTTP clients, each from its own loopback address and with one of `keys`."""

    def __init__(self, base_url: str, keys: list[str], count: int, subnet: int):
        self.clients = [httpx.Client(
            base_url=base_url, headers={"X-API-Key": keys[i % len(keys)]}, timeout=60,
            transport=httpx.HTTPTransport(local_address=f"127.0.{subnet}.{i + 1}"))
            for i in range(count)]
        self._turn = 0

    def next(self) -> httpx.Client:
        self._turn += 1
        return self.clients[self._turn % len(self.clients)]

    def close(self) -> None:
        for client in self.clients:
            client.close()


def wait_http(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


def _spawn(args: list[str], env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, *args], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


def _stats(latencies: list[float], points=(50, 95, 99)) -> dict:
    return {f"p{p}_ms": _ms(percentile(latencies, p)) for p in points} | {"n": len(latencies)}


def seed(db, storage, bucket: str, media: Path) -> list[dict]:
    key = f"bench/{GUID}/audio/{media.name}"
    storage.client.create_bucket(Bucket=bucket)
    storage.client.upload_file(str(media), bucket, key)
    chunks = make_transcript_chunks(3600, seed=7)
    db["transcript_chunks_768d"].insert_many([{**c, "episode_id": GUID} for c in chunks])
    db["transcript_chunks_768d"].create_index([("episode_id", 1), ("chunk_index", 1)])
    db["episode_metadata"].insert_one({"guid": GUID, "episode_title": "API benchmark",
                                       "feed_slug": "bench", "duration": 3600,
                                       "s3_audio_path": f"s3://{bucket}/{key}"})
    db["episode_metadata"].create_index("guid", unique=True)
    return chunks


def timed_post(client: httpx.Client, chunk_index: int, duration: int = 30):
    began = time.perf_counter()
    response = client.post("/api/generate-audio-clip",
                           json={"episode_id": GUID, "chunk_index": chunk_index,
                                 "duration": duration})
    return time.perf_counter() - began, response


def measure_misses_and_hits(pool: ClientPool, chunks, misses: int, hits: int) -> dict:
    cut = [c["chunk_index"] for c in chunks[5:5 + misses * 4:4]][:misses]
    miss_times = []
    for index in cut:
        elapsed, response = timed_post(pool.next(), index)
        assert response.status_code == 200 and not response.json()["cached"], response.text
        miss_times.append(elapsed)
    for index in cut:  # the first hit of a clip also HEADs it (then it is vouched for)
        timed_post(pool.next(), index)
    post_times, get_times = [], []
    for n in range(hits):
        elapsed, response = timed_post(pool.next(), cut[n % len(cut)])
        assert response.status_code == 200 and response.json()["cached"], response.text
        post_times.append(elapsed)
        chunk = chunks[cut[n % len(cut)]]
        began = time.perf_counter()
        answer = pool.next().get(f"/api/v1/audio_clips/{GUID}",
                                 params={"start_time_ms": round(chunk["start_time"] * 1000)})
        assert answer.status_code == 200 and answer.json()["cache_hit"], answer.text
        get_times.append(time.perf_counter() - began)
    return {"miss": _stats(miss_times, (50, 95)), "hit_post": _stats(post_times),
            "hit_dashboard_get": _stats(get_times), "miss_chunks": cut}


def measure_concurrency(pool: ClientPool, chunks: list[int]) -> dict:
    clients = len(pool.clients)
    barrier = threading.Barrier(clients)
    results: list = [None] * clients

    def one(slot: int) -> None:
        barrier.wait()
        try:
            results[slot] = timed_post(pool.clients[slot], chunks[slot % len(chunks)])
        except httpx.HTTPError as err:
            results[slot] = (float("nan"), err)

    began = time.perf_counter()
    threads = [threading.Thread(target=one, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - began
    ok = [(t, r) for t, r in results if isinstance(r, httpx.Response) and r.status_code == 200]
    statuses = Counter(r.status_code if isinstance(r, httpx.Response) else type(r).__name__
                       for _, r in results)
    cuts = Counter(r.json()["partition_key"] for _, r in ok if not r.json()["cached"])
    return {"clients": clients, "distinct_clips": len(chunks), "errors": clients - len(ok),
            "statuses": dict(statuses), "cuts": sum(cuts.values()),
            "clips_cut_more_than_once": sum(1 for n in cuts.values() if n > 1),
            "p50_ms": _ms(percentile([t for t, _ in ok], 50)),
            "p95_ms": _ms(percentile([t for t, _ in ok], 95)), "wall_s": round(wall, 2)}


def measure_naive(storage, bucket: str, key: str, chunks, indexes, ffmpeg) -> dict:
    times = []
    with tempfile.TemporaryDirectory() as tmp:
        for index in indexes:
            elapsed, _ = cut_naive(storage.client, bucket, key, chunks[index]["start_time"],
                                   ffmpeg, Path(tmp))
            times.append(elapsed)
    return _stats(times, (50, 95))


def print_table(figures: dict) -> None:
    hit, get, miss = figures["hit_post"], figures["hit_dashboard_get"], figures["miss"]
    naive, running, conc = figures["naive_cut"], RUNNING_SYSTEM_MS, figures["concurrency"]
    rows = [
        ("cache hit p50 (POST)", hit["p50_ms"], running["hit_p50"], None),
        ("cache hit p99 (POST)", hit["p99_ms"], None, None),
        ("cache hit p50 (dashboard GET)", get["p50_ms"], running["hit_p50"], None),
        ("cache hit p99 (dashboard GET)", get["p99_ms"], None, None),
        ("cache miss p50", miss["p50_ms"], running["miss_p50"], naive["p50_ms"]),
        ("cache miss p95", miss["p95_ms"], running["miss_p95"], naive["p95_ms"]),
        ("100 concurrent / 20 clips p95", conc["p95_ms"], None, None),
    ]
    print(f"{'ms':<32} {'podclips':>9} {'running':>9} {'x':>6} {'naive cut':>10} {'x':>6}")
    for name, ours, theirs, base in rows:
        print(f"{name:<32} {ours:>9.1f} {theirs or '':>9} "
              f"{(f'{theirs / ours:.1f}' if theirs else ''):>6} "
              f"{(f'{base:.1f}' if base else ''):>10} {(f'{base / ours:.1f}' if base else ''):>6}")
    print(f"\n100 concurrent clients over 20 clips: {conc['errors']} errors, {conc['cuts']} cuts "
          f"({conc['clips_cut_more_than_once']} clips cut twice), statuses {conc['statuses']}, "
          f"wall {conc['wall_s']} s")
    print("running = the system in production today (docs/architecture.md, a Lambda over a real "
          "network); naive cut = download the whole 1 h source + FFmpeg, in this run, "
          "without any HTTP or lookup cost")
    print(f"goals: {GOALS}: " + ("met" if figures["goals_met"] else "NOT met") + "\n")


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hits", type=int, default=300,
                        help="hit requests per route (the clients' limits allow up to ~320)")
    parser.add_argument("--misses", type=int, default=20, help="distinct clips cut in sequence")
    parser.add_argument("--naive", type=int, default=5, help="naive baseline cuts")
    parser.add_argument("--media-dir", type=Path,
                        default=Path(tempfile.gettempdir()) / "podclips-bench-media")
    args = parser.parse_args(argv)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    ffmpeg = find_ffmpeg()
    args.media_dir.mkdir(parents=True, exist_ok=True)
    media, _ = cached_episode(args.media_dir, SOURCE, ffmpeg)
    mongo = start_mongo(":memory:")
    s3_port, api_port = free_port(), free_port()
    moto = _spawn(["-m", "moto.server", "-H", "127.0.0.1", "-p", str(s3_port)])
    api = None
    try:
        s3_url, api_url = f"http://127.0.0.1:{s3_port}", f"http://127.0.0.1:{api_port}"
        wait_http(s3_url)
        storage, db = S3Storage(endpoint_url=s3_url), mongo_client(mongo.uri)["bench"]
        chunks = seed(db, storage, "raw-bench", media)
        storage.client.create_bucket(Bucket="clips-bench")
        keys = [ApiKeys(db["api_keys"]).create(f"bench-{n}") for n in range(SEQUENTIAL_KEYS + 2)]
        env = {**os.environ, "MONGODB_URI": mongo.uri, "MONGODB_DB": "bench",
               "PODCLIPS_STORAGE": "s3", "S3_ENDPOINT_URL": s3_url,
               "S3_SOURCE_BUCKET": "raw-bench", "S3_CLIPS_BUCKET": "clips-bench",
               "PODCLIPS_HOME": tempfile.mkdtemp(prefix="podclips-bench-"),
               "RATE_LIMIT_PER_IP_PER_MINUTE": "10", "RATE_LIMIT_PER_KEY_PER_HOUR": "100",
               # cuts on the clip routes only: a pre-cut of the next chunk would turn misses
               # into hits
               "PRECUT_MODE": "queue"}
        api = _spawn(["-m", "uvicorn", "--factory", "podclips_dagster.sidecar.app:create_app",
                      "--host", "127.0.0.1", "--port", str(api_port), "--no-proxy-headers",
                      "--lifespan", "off", "--log-level", "warning"], env)
        wait_http(f"{api_url}/health")
        sequential = ClientPool(api_url, keys[:SEQUENTIAL_KEYS], SEQUENTIAL_CLIENTS, subnet=0)
        timed_post(sequential.next(), 1)  # warm-up: imports, pools, the episode's layout
        figures = measure_misses_and_hits(sequential, chunks, args.misses, args.hits)
        sequential.close()
        fresh = [c["chunk_index"] for c in chunks[2:] if c["chunk_index"] not in
                 figures["miss_chunks"]][1::5][:20]
        concurrent = ClientPool(api_url, keys[SEQUENTIAL_KEYS:], 100, subnet=1)
        figures["concurrency"] = measure_concurrency(concurrent, fresh)
        concurrent.close()
        figures["naive_cut"] = measure_naive(storage, "raw-bench",
                                             f"bench/{GUID}/audio/{media.name}", chunks,
                                             figures["miss_chunks"][:args.naive], ffmpeg)
    finally:
        for process in (api, moto):
            if process is not None:
                process.terminate()
                process.wait(10)
        mongo.stop()
    conc = figures["concurrency"]
    figures["goals_met"] = (figures["hit_post"]["p50_ms"] <= GOALS["hit_p50_ms"]
                            and conc["cuts"] == GOALS["concurrent_cuts"]
                            and conc["errors"] == GOALS["concurrent_errors"])
    figures["running_system_ms"] = RUNNING_SYSTEM_MS
    figures["ratios"] = {
        "running_hit_p50_over_ours": round(RUNNING_SYSTEM_MS["hit_p50"]
                                           / figures["hit_post"]["p50_ms"], 1),
        "running_miss_p50_over_ours": round(RUNNING_SYSTEM_MS["miss_p50"]
                                            / figures["miss"]["p50_ms"], 1),
        "naive_cut_p50_over_our_miss_p50": round(figures["naive_cut"]["p50_ms"]
                                                 / figures["miss"]["p50_ms"], 2),
    }
    del figures["miss_chunks"]
    print_table(figures)
    print(json.dumps(figures))
    return figures


if __name__ == "__main__":
    main()
