"""Audiogram render time: a 30 s clip to a 1080x1080 MP4 (goal: under 10 s on 2 cores).

    .venv/bin/python -m benchmarks.audiogram_render [--reps N] [--sizes 1080x1080,1920x1080]

Makes a tone-coded 60 s episode, cuts a 30 s clip from it with the real
cutter (a local-directory bucket) and renders it N times, interleaved with
two baselines measured in the same run: the audio-only cut, and a static
video (one flat frame + the same audio, same H.264/AAC settings) so the
ratio shows what the animated waveform, title and captions cost. Wall time
depends on what else the machine runs, so CPU seconds (FFmpeg's user + sys)
and the load average are printed too. Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import tempfile
import time
from pathlib import Path

from podclips_dagster.core.audio.cutter import cut_clip
from podclips_dagster.core.audio.ffmpeg import find_ffmpeg, run_ffmpeg
from podclips_dagster.core.media.audiogram import BACKGROUND, FPS, render_audiogram
from podclips_dagster.core.media.transcript import clip_transcript
from podclips_dagster.core.storage import LocalStorage
from podclips_dagster.core.stores.catalogue import Chunk
from podclips_dagster.devstack.synthetic_audio import make_episode, make_transcript_chunks

CLIP_START, CLIP_SECONDS = 12.0, 30
GOAL_SECONDS = 10.0


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(fn) -> tuple[float, float]:
    """(wall seconds, CPU seconds of child processes) of one call."""
    cpu, began = children_cpu(), time.perf_counter()
    fn()
    return time.perf_counter() - began, children_cpu() - cpu


def static_video(audio: Path, out: Path, size: str, ffmpeg: str) -> None:
    proc = run_ffmpeg(ffmpeg, [
        "-y", "-v", "error", "-f", "lavfi", "-i", f"color=c={BACKGROUND}:s={size}:r={FPS}",
        "-i", str(audio), "-map", "0:v", "-map", "1:a", "-c:v", "libx264", "-preset", "veryfast",
        "-crf", "23", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "128k", "-shortest",
        str(out)], timeout=300)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr.decode(errors="replace")[-500:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--sizes", default="1080x1080,1920x1080")
    args = parser.parse_args()
    ffmpeg, sizes = find_ffmpeg(), args.sizes.split(",")
    with tempfile.TemporaryDirectory(prefix="podclips-bench-") as tmp:
        work = Path(tmp)
        bucket = LocalStorage(work / "objects").bucket("raw")
        make_episode(work / "episode.mp3", 60, "mp3-cbr")
        bucket.put_file("episode.mp3", work / "episode.mp3", "audio/mpeg", {})
        chunks = [Chunk("bench", c["chunk_index"], c["start_time"], c["end_time"], c["text"])
                  for c in make_transcript_chunks(60, seed=7)]
        vtt = clip_transcript(chunks, CLIP_START, CLIP_SECONDS, 60).to_vtt()
        clip = cut_clip(bucket, "episode.mp3", CLIP_START, CLIP_SECONDS, ffmpeg=ffmpeg,
                        workdir=work).path

        def cut():
            cut_dir = Path(tempfile.mkdtemp(dir=work))
            cut_clip(bucket, "episode.mp3", CLIP_START, CLIP_SECONDS, ffmpeg=ffmpeg,
                     workdir=cut_dir)

        def render(size: str):
            render_dir = Path(tempfile.mkdtemp(dir=work))
            render_audiogram(clip, render_dir / "a.mp4", size=size, title="Building Search "
                             "That Listens: exact clips from any episode", podcast="The Signal "
                             "Path", captions_vtt=vtt, ffmpeg=ffmpeg, workdir=render_dir)

        runs: dict[str, list[tuple[float, float]]] = {}
        for _ in range(args.reps):  # interleaved, so load changes hit every method alike
            runs.setdefault("audio cut (30 s MP3)", []).append(timed(cut))
            for size in sizes:
                runs.setdefault(f"static video {size}", []).append(
                    timed(lambda size=size: static_video(clip, work / "s.mp4", size, ffmpeg)))
                runs.setdefault(f"audiogram {size}", []).append(
                    timed(lambda size=size: render(size)))

    median = {name: (statistics.median(w for w, _ in r), statistics.median(c for _, c in r))
              for name, r in runs.items()}
    fastest = {name: min(w for w, _ in r) for name, r in runs.items()}
    print(f"{'method':<28}{'wall s median':>14}{'min':>7}{'CPU s':>8}   reps={args.reps}, "
          f"cores={os.cpu_count()}, load={os.getloadavg()[0]:.1f}")
    for name, (wall, cpu) in median.items():
        print(f"{name:<28}{wall:>14.2f}{fastest[name]:>7.2f}{cpu:>8.2f}")
    result = {"clip_seconds": CLIP_SECONDS, "reps": args.reps, "cores": os.cpu_count(),
              "load_average_1m": round(os.getloadavg()[0], 2), "goal_seconds": GOAL_SECONDS}
    for size in sizes:
        wall, cpu = median[f"audiogram {size}"]
        static_wall, _ = median[f"static video {size}"]
        result[size] = {"render_s": round(wall, 2),
                        "render_min_s": round(fastest[f"audiogram {size}"], 2),
                        "cpu_s": round(cpu, 2),
                        "static_video_s": round(static_wall, 2),
                        "ratio_vs_static": round(wall / static_wall, 2),
                        "realtime_factor": round(CLIP_SECONDS / wall, 2)}
        print(f"{size}: {wall:.2f} s for {CLIP_SECONDS} s of clip "
              f"({wall / static_wall:.2f}x a static video)")
    result["audio_cut_s"] = round(median["audio cut (30 s MP3)"][0], 3)
    result["meets_goal"] = result.get("1080x1080", {}).get("render_s", 1e9) < GOAL_SECONDS
    print(json.dumps(result))


if __name__ == "__main__":
    main()
