"""Cut one clip from an episode's audio object, reading only the bytes it needs.

MP3 (most sources): one ranged GET of the window plus pre-roll frames, found
by byte math (regular CBR) or a stored frame index (VBR), piped to FFmpeg,
trimmed sample-exactly. MP4/M4A (AAC): the same, with the byte range taken
from the track's sample table and each access unit given an ADTS header.
Anything else FFmpeg reads (ADTS AAC, Ogg, an MP4 whose table we cannot
use, ...): FFmpeg seeks itself on a presigned URL or path.
The output is always a 128 kbps CBR MP3 written to a file, so it carries the
Xing/LAME header players use for its duration.
"""

from __future__ import annotations

import math
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from podclips_dagster.core.audio.ffmpeg import (
    PIPE_PROTOCOLS,
    URL_PROTOCOLS,
    error_summary,
    input_args,
    run_ffmpeg,
)
from podclips_dagster.core.audio.frame_index import FrameIndex, layout_record
from podclips_dagster.core.audio.mp3 import cbr_offsets_regular, describe_mp3_file
from podclips_dagster.core.audio.sample_table import AdtsWindow, SampleTable, adts_window
from podclips_dagster.core.audio.source import CountingReader, probe_source
from podclips_dagster.core.audio.source_index import (
    FrameIndexStore,
    build_and_store_index,
    check_not_truncated,
    open_source,
    sample_table_or_none,
    store_record,
    stored_record,
)
from podclips_dagster.core.audio.window import (
    IrregularCbr,
    Mp3Window,
    cbr_window,
    ensure_starts_inside,
    indexed_window,
)
from podclips_dagster.core.errors import (
    ChunkOutOfRange,
    CutFailed,
    InvalidClipRequest,
    InvalidDuration,
    SourceUnreadable,
)

if TYPE_CHECKING:
    from podclips_dagster.core.storage.base import Bucket

DEFAULT_FADE_MS = 5  # a 5 ms ramp hides the cut's click and is not heard as silence
MAX_CLIP_SECONDS = 600
OUTPUT_BITRATE_KBPS = 128
SEEK_PREROLL_SECONDS = 0.1  # ffmpeg-seek path: decode ~4 AAC frames early, then trim
# FFmpeg says these when the object is broken rather than when FFmpeg fails.
_UNREADABLE_HINTS = ("moov atom not found", "Invalid data found", "could not find codec",
                     "Failed to read frame size", "invalid frame size", "End of file")

# Bump when a change to cutting changes the clips it makes: it is the `audio_clips` asset's
# code version, so Dagster shows the clips cut before the change as stale.
CUTTER_VERSION = "1"


@dataclass(frozen=True)
class CutClip:
    path: Path                  # finished MP3 in the workdir (the caller moves or deletes it)
    start_time: float           # seconds in the episode
    end_time: float
    duration_seconds: float     # real decoded duration (shorter near the episode's end)
    file_size_bytes: int
    bytes_read: int             # bytes read from the source object (see `strategy`)
    sample_rate: int
    channels: int
    bitrate_kbps: int
    source_format: str          # "mp3-cbr" | "mp3-vbr" | "m4a" | "aac" | "ogg" | "flac" | "wav"
    source_duration_seconds: float | None
    strategy: str  # "ranged-cbr" | "ranged-frame-index" | "mp4-sample-table" | "ffmpeg-seek"


@dataclass(frozen=True)
class _Job:
    start_time: float
    duration: float
    ffmpeg: str
    out: Path
    fade_ms: int


def cut_clip(bucket: Bucket, key: str, start_time: float, duration: float, *, ffmpeg: str,
             workdir: Path, index_store: FrameIndexStore | None = None,
             fade_ms: int = DEFAULT_FADE_MS) -> CutClip:
    """Cut [start_time, start_time + duration) of `key` into an MP3 file in `workdir`.

    `index_store` keeps, per object version, the frame index of a VBR file, the
    layout of a CBR one or the sample table of an MP4, so later cuts of the
    episode skip that work (`index_source` builds it ahead of any cut)."""
    if not math.isfinite(start_time) or start_time < 0:
        raise InvalidClipRequest(f"clip start must be a time >= 0 s, got {start_time!r}")
    if not math.isfinite(duration) or not 0 < duration <= MAX_CLIP_SECONDS:
        raise InvalidDuration(
            f"clip duration must be in (0, {MAX_CLIP_SECONDS}] s, got {duration!r}")
    reader, source_id = open_source(bucket, key)
    workdir.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix="clip-", suffix=".mp3", dir=workdir)
    os.close(fd)
    job = _Job(start_time, duration, ffmpeg, Path(name), fade_ms)
    try:
        return _cut(bucket, reader, source_id, index_store, job)
    except BaseException:
        job.out.unlink(missing_ok=True)
        raise


def _cut(bucket: Bucket, reader: CountingReader, source_id: str, store: FrameIndexStore | None,
         job: _Job) -> CutClip:
    record = stored_record(store, source_id)
    if isinstance(record, FrameIndex):
        return _cut_mp3(reader, indexed_window(reader, record, job.start_time, job.duration),
                        record.layout.vbr, "ranged-frame-index", job)
    if isinstance(record, SampleTable):
        return _cut_m4a(reader, record, job)
    layout, regular = record, record is not None
    if layout is None:
        probe = probe_source(reader)
        if probe.kind == "m4a" and (table := sample_table_or_none(reader, probe, store,
                                                                   source_id)):
            return _cut_m4a(reader, table, job)
        if probe.kind != "mp3":
            return _cut_with_ffmpeg_seek(bucket, reader, probe.kind, job)
        layout = probe.layout
        check_not_truncated(reader, layout)
        if layout.frames is not None:  # fail before streaming a VBR file to index it
            ensure_starts_inside(layout, layout.frames, job.start_time)
        regular = not layout.vbr and cbr_offsets_regular(probe.frames_head, layout,
                                                         layout.audio_start)
        if regular:
            store_record(store, source_id, layout_record(layout))
    if regular:
        try:
            window = cbr_window(reader, layout, job.start_time, job.duration)
            return _cut_mp3(reader, window, False, "ranged-cbr", job)
        except IrregularCbr:
            pass  # drifting padding: only a frame index is exact
    index = build_and_store_index(reader, layout, store, source_id)
    return _cut_mp3(reader, indexed_window(reader, index, job.start_time, job.duration),
                    layout.vbr, "ranged-frame-index", job)


def _cut_mp3(reader: CountingReader, window: Mp3Window, vbr: bool, strategy: str,
             job: _Job) -> CutClip:
    _encode_window(reader, window, "mp3", job)
    return _finished(job, reader.bytes_read, "mp3-vbr" if vbr else "mp3-cbr",
                     window.source_duration, strategy, reader.key)


def _cut_m4a(reader: CountingReader, table: SampleTable, job: _Job) -> CutClip:
    window = adts_window(reader, table, job.start_time, job.duration)
    _encode_window(reader, window, "aac", job)
    return _finished(job, reader.bytes_read, "m4a", window.source_duration, "mp4-sample-table",
                     reader.key)


def _encode_window(reader: CountingReader, window: Mp3Window | AdtsWindow, input_format: str,
                   job: _Job) -> None:
    """Decode the window's frames, keep exactly the clip's samples, encode the MP3."""
    seconds = (window.trim_end - window.trim_start) / window.sample_rate
    trim = (f"asetpts=N/SR/TB,atrim=start_sample={window.trim_start}"
            f":end_sample={window.trim_end},asetpts=PTS-STARTPTS")
    args = ["-loglevel", "error", *input_args("pipe:0", PIPE_PROTOCOLS, input_format),
            *_output_args(trim + _fades(job.fade_ms, seconds), job.out)]
    result = run_ffmpeg(job.ffmpeg, args, stdin=window.data)
    if result.returncode != 0:
        raise CutFailed(f"FFmpeg could not cut {reader.key!r}: {error_summary(result.stderr)}")


def _cut_with_ffmpeg_seek(bucket: Bucket, reader: CountingReader, kind: str, job: _Job) -> CutClip:
    """FFmpeg seeks in the container itself (`-ss` before `-i`: it reads the index,
    wherever it sits, then only the packets it needs)."""
    # Trim on FFmpeg's timestamps after a pre-roll: plain `-ss` was up to 19 ms
    # off on AAC, and `-ss 0` drops the first frame (23 ms late): near the start,
    # decode from the beginning instead.
    start, duration = job.start_time, job.duration
    pre = SEEK_PREROLL_SECONDS if start >= 1.0 else start
    seek = ["-ss", f"{start - pre:.6f}"] if start >= 1.0 else []
    trim = f"atrim=start={pre:.6f}:end={pre + duration:.6f},asetpts=PTS-STARTPTS"
    read_for = pre + duration + SEEK_PREROLL_SECONDS
    args = ["-loglevel", "level+verbose", *seek, "-t", f"{read_for:.6f}",
            *input_args(bucket.media_url(reader.key), URL_PROTOCOLS),
            *_output_args(trim + _fades(job.fade_ms, duration), job.out)]
    result = run_ffmpeg(job.ffmpeg, args)
    log = result.stderr.decode("utf-8", "replace")
    # FFmpeg's I/O layer logs what it consumed from the input ("Statistics: N bytes read").
    reader.bytes_read += sum(int(n) for n in re.findall(r"Statistics: (\d+) bytes read", log))
    source_duration = _logged_duration(log)
    if source_duration is not None and start >= source_duration:
        raise ChunkOutOfRange(f"clip start {start:.3f} s is at or after the end of the "
                              f"audio ({source_duration:.3f} s)")
    if result.returncode != 0:
        error = SourceUnreadable if any(h in log for h in _UNREADABLE_HINTS) else CutFailed
        raise error(f"FFmpeg could not read {reader.key!r} ({kind}): "
                    f"{error_summary(result.stderr)}")
    return _finished(job, reader.bytes_read, kind, source_duration, "ffmpeg-seek", reader.key)


def _output_args(filters: str, out: Path) -> list[str]:
    # Audio only (no cover art), no copied tags; rate and channels stay the source's.
    return ["-map", "0:a:0", "-vn", "-map_metadata", "-1", "-af", filters,
            "-c:a", "libmp3lame", "-b:a", f"{OUTPUT_BITRATE_KBPS}k", "-f", "mp3", "-y", str(out)]


def _fades(fade_ms: int, seconds: float) -> str:
    fade = min(fade_ms / 1000, seconds / 4)
    if fade <= 0:
        return ""
    return f",afade=t=in:d={fade:.4f},afade=t=out:st={max(0.0, seconds - fade):.6f}:d={fade:.4f}"


def _logged_duration(log: str) -> float | None:
    match = re.search(r"Duration: (\d+):(\d\d):(\d\d(?:\.\d+)?)", log)
    if not match:
        return None
    hours, minutes, seconds = match.groups()
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def _finished(job: _Job, bytes_read: int, source_format: str, source_duration: float | None,
              strategy: str, key: str) -> CutClip:
    described = describe_mp3_file(job.out)
    if described is None or described.duration_seconds <= 0:
        raise CutFailed(f"FFmpeg wrote no audio for {key!r} at {job.start_time:.3f} s")
    return CutClip(
        path=job.out, start_time=job.start_time,
        end_time=job.start_time + described.duration_seconds,
        duration_seconds=described.duration_seconds, file_size_bytes=job.out.stat().st_size,
        bytes_read=bytes_read, sample_rate=described.sample_rate, channels=described.channels,
        bitrate_kbps=described.bitrate_kbps, source_format=source_format,
        source_duration_seconds=source_duration, strategy=strategy,
    )
