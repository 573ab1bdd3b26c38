"""Clip latency and bytes read: our ranged cutter vs downloading the whole source.

    .venv/bin/python -m benchmarks.clip_latency [--quick] [--reps N] [--media-dir DIR]

Starts its own moto S3 server on loopback, uploads tone-coded CBR episodes of
5 min, 1 h and 3 h (300 KB cover art, as real feeds have), a 1 h VBR one and
M4A (AAC 96k, `moov` at the end) of 10 min and 3 h, then cuts 30 s clips at
the start, middle and end of each, N times, with `cut_clip` and with the
baseline the running system uses today (boto3 downloads the object to a temp
file, FFmpeg `-ss/-t` encodes MP3 128k), both in the same run, interleaved.
Per episode it first reports the cut made with nothing stored (a VBR file is
streamed to build its frame index), then indexes it as `audio_frame_indexes`
does and reports the first cut after that; the timed cuts share that store,
as in production. Prints a table, the
ratios (baseline / ours) and, as the last line, one JSON object with every
figure. Loopback S3 flatters the baseline: over a real network its download
time grows with the file. moto in turn handicaps big files for both methods:
it reads the whole object to serve a range (its cost is printed per source).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("AWS_ACCESS_KEY_ID", "benchmark")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "benchmark")

from moto.server import ThreadedMotoServer  # noqa: E402

from podclips_dagster.core.audio.cutter import cut_clip  # noqa: E402
from podclips_dagster.core.audio.ffmpeg import find_ffmpeg, run_ffmpeg  # noqa: E402
from podclips_dagster.core.audio.mp3 import describe_mp3_file  # noqa: E402
from podclips_dagster.core.audio.source_index import (  # noqa: E402
    MemoryFrameIndexStore,
    index_source,
)
from podclips_dagster.core.storage import S3Storage  # noqa: E402
from podclips_dagster.devstack.mongo_server import free_port  # noqa: E402
from podclips_dagster.devstack.synthetic_audio import make_episode  # noqa: E402

CLIP_SECONDS = 30
# name: (kind, seconds)
SOURCES = {"cbr-5min": ("mp3-cbr", 300), "cbr-1h": ("mp3-cbr", 3600),
           "cbr-3h": ("mp3-cbr", 10800), "vbr-1h": ("mp3-vbr", 3600),
           "m4a-10min": ("m4a", 600), "m4a-3h": ("m4a", 10800)}
QUICK = ("cbr-5min", "cbr-1h", "vbr-1h", "m4a-10min")
COVER_KB = 300


def cached_episode(media_dir: Path, name: str, ffmpeg: str) -> tuple[Path, float]:
    """The source file, made once per media dir; (path, seconds spent making it)."""
    kind, seconds = SOURCES[name]
    if kind == "m4a":  # written whole by a rename: if it exists, it is complete
        path = media_dir / f"{name}.m4a"
        if not path.exists():
            began = time.perf_counter()
            make_episode(path, seconds, kind, ffmpeg=ffmpeg)
            return path, time.perf_counter() - began
        return path, 0.0
    path = media_dir / f"{name}.mp3"
    info = describe_mp3_file(path) if path.exists() else None
    if info is not None and abs(info.duration_seconds - seconds) < 0.1:
        return path, 0.0
    began = time.perf_counter()
    make_episode(path, seconds, kind, cover_kb=COVER_KB, ffmpeg=ffmpeg)
    return path, time.perf_counter() - began


def offsets_for(seconds: int) -> dict[str, float]:
    return {"start": 12.3, "middle": seconds / 2 + 0.7, "end": seconds - CLIP_SECONDS - 4.1}


def cut_ours(bucket, key, start, ffmpeg, workdir, store) -> tuple[float, int]:
    began = time.perf_counter()
    clip = cut_clip(bucket, key, start, CLIP_SECONDS, ffmpeg=ffmpeg, workdir=workdir,
                    index_store=store)
    elapsed = time.perf_counter() - began
    clip.path.unlink()
    return elapsed, clip.bytes_read


def cut_naive(client, bucket_name, key, start, ffmpeg, workdir) -> tuple[float, int]:
    """Today's path: download everything, then FFmpeg on the local file."""
    began = time.perf_counter()
    source, out = workdir / f"download{Path(key).suffix}", workdir / "naive.mp3"
    client.download_file(bucket_name, key, str(source))
    result = run_ffmpeg(ffmpeg, ["-loglevel", "error", "-ss", f"{start:.3f}",
                                 "-t", str(CLIP_SECONDS), "-i", str(source), "-map", "0:a",
                                 "-vn", "-c:a", "libmp3lame", "-b:a", "128k", "-y", str(out)])
    elapsed = time.perf_counter() - began
    if result.returncode != 0:
        raise RuntimeError(result.stderr.decode()[-500:])
    size = source.stat().st_size
    source.unlink()
    out.unlink()
    return elapsed, size


def range_get_seconds(bucket, key: str, size: int) -> float:
    """Median time of a bare 520 KB ranged GET: the S3 server's share of a cut.
    (moto reads the whole object to serve a range, so this grows with the file.)"""
    times = []
    for _ in range(5):
        began = time.perf_counter()
        bucket.read_range(key, size // 2, size // 2 + 520_000)
        times.append(time.perf_counter() - began)
    return round(statistics.median(times), 4)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    rank = q / 100 * (len(ordered) - 1)
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summarize(times: list[float], sizes: list[int]) -> dict:
    return {"p50_s": round(percentile(times, 50), 4), "p95_s": round(percentile(times, 95), 4),
            "bytes_read": int(statistics.median(sizes)), "n": len(times)}


def bench_source(name, path, storage, bucket_name, ffmpeg, workdir, reps) -> dict:
    key = f"feed/{name}/audio/{path.name}"
    storage.client.upload_file(str(path), bucket_name, key)
    bucket, store = storage.bucket(bucket_name), MemoryFrameIndexStore()
    figures = {"size_bytes": path.stat().st_size, "seconds": SOURCES[name][1], "offsets": {},
               "s3_range_get_520kb_s": range_get_seconds(bucket, key, path.stat().st_size)}
    first_at = SOURCES[name][1] / 3
    # Nothing stored: the cut probes the file and builds its record (streams a VBR file).
    elapsed, size = cut_ours(bucket, key, first_at, ffmpeg, workdir, MemoryFrameIndexStore())
    figures["cold_first_cut"] = {"s": round(elapsed, 4), "bytes_read": size}
    indexed = index_source(bucket, key, store)
    figures["index"] = {"kind": indexed.kind, "s": indexed.seconds,
                        "bytes_read": indexed.bytes_read, "stored_bytes": indexed.stored_bytes}
    elapsed, size = cut_ours(bucket, key, first_at, ffmpeg, workdir, store)
    figures["first_cut_after_indexing"] = {"s": round(elapsed, 4), "bytes_read": size}
    cut_ours(bucket, key, 60.0, ffmpeg, workdir, store)  # warm-up: client pool, page cache
    everything = {"ours": ([], []), "naive": ([], [])}
    for label, start in offsets_for(SOURCES[name][1]).items():
        runs = {"ours": ([], []), "naive": ([], [])}
        for _ in range(reps):
            for method in ("ours", "naive"):
                if method == "ours":
                    elapsed, size = cut_ours(bucket, key, start, ffmpeg, workdir, store)
                else:
                    elapsed, size = cut_naive(storage.client, bucket_name, key, start, ffmpeg,
                                              workdir)
                for target in (runs[method], everything[method]):
                    target[0].append(elapsed)
                    target[1].append(size)
        figures["offsets"][label] = {m: summarize(*runs[m]) for m in runs}
    figures["all"] = {m: summarize(*everything[m]) for m in everything}
    all_ = figures["all"]
    figures["ratio_naive_over_ours"] = {
        "p50": round(all_["naive"]["p50_s"] / all_["ours"]["p50_s"], 2),
        "p95": round(all_["naive"]["p95_s"] / all_["ours"]["p95_s"], 2),
        "bytes": round(all_["naive"]["bytes_read"] / all_["ours"]["bytes_read"], 1),
    }
    storage.client.delete_object(Bucket=bucket_name, Key=key)
    return figures


def print_table(results: dict) -> None:
    head = (f"{'source':<9} {'offset':<7} | {'ours p50':>8} {'p95':>7} {'bytes':>9} | "
            f"{'naive p50':>9} {'p95':>7} {'bytes':>11} | {'x p50':>6} {'x p95':>6} {'x bytes':>7}")
    print(head)
    print("-" * len(head))
    for name, fig in results.items():
        rows = list(fig["offsets"].items()) + [("ALL", fig["all"])]
        for label, row in rows:
            ours, naive = row["ours"], row["naive"]
            print(f"{name:<9} {label:<7} | {ours['p50_s']:>8.3f} {ours['p95_s']:>7.3f} "
                  f"{ours['bytes_read']:>9,} | {naive['p50_s']:>9.3f} {naive['p95_s']:>7.3f} "
                  f"{naive['bytes_read']:>11,} | {naive['p50_s'] / ours['p50_s']:>6.1f} "
                  f"{naive['p95_s'] / ours['p95_s']:>6.1f} "
                  f"{naive['bytes_read'] / ours['bytes_read']:>7.1f}")
        cold, index, first = (fig["cold_first_cut"], fig["index"],
                              fig["first_cut_after_indexing"])
        print(f"{name:<9} first cut, nothing stored: {cold['s']:.3f} s, "
              f"{cold['bytes_read']:,} bytes read")
        print(f"{name:<9} indexing ({index['kind']}): {index['s']:.3f} s, "
              f"{index['bytes_read']:,} bytes read, {index['stored_bytes']:,} bytes stored")
        print(f"{name:<9} first cut after indexing: {first['s']:.3f} s, "
              f"{first['bytes_read']:,} bytes read")
        print(f"{name:<9} moto's time for one bare 520 KB ranged GET: "
              f"{fig['s3_range_get_520kb_s'] * 1000:.0f} ms")
    print()


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="5 min and 1 h MP3 and 10 min M4A sources only")
    parser.add_argument("--reps", type=int, default=5, help="cuts per offset and method")
    parser.add_argument("--media-dir", type=Path,
                        default=Path(tempfile.gettempdir()) / "podclips-bench-media")
    args = parser.parse_args(argv)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's per-request log lines
    ffmpeg = find_ffmpeg()
    names = QUICK if args.quick else tuple(SOURCES)
    args.media_dir.mkdir(parents=True, exist_ok=True)
    made = {}
    for name in names:
        path, seconds = cached_episode(args.media_dir, name, ffmpeg)
        made[name] = path
        print(f"source {name}: {path.stat().st_size:,} bytes"
              + (f", generated in {seconds:.1f} s" if seconds else " (cached)"), flush=True)
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        storage = S3Storage(endpoint_url=f"http://127.0.0.1:{port}", region="us-east-1")
        bucket_name = "bench-source"
        storage.client.create_bucket(Bucket=bucket_name)
        results = {}
        with tempfile.TemporaryDirectory(prefix="podclips-bench-") as work:
            for name in names:
                results[name] = bench_source(name, made[name], storage, bucket_name, ffmpeg,
                                             Path(work), args.reps)
                print(f"measured {name}", flush=True)
    finally:
        server.stop()
    print()
    print_table(results)
    summary = {"clip_seconds": CLIP_SECONDS, "reps": args.reps, "cpus": os.cpu_count(),
               "load_avg_1m": round(os.getloadavg()[0], 2), "sources": results}
    print(json.dumps(summary, separators=(",", ":")))
    return summary


if __name__ == "__main__":
    main()
