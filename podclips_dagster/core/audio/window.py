"""Which bytes of an MP3 a clip needs, and where to trim the decoded samples.

Sample positions here count decoded samples from the first sample of audio
frame 0 (the frame after the Info tag). Episode time t sits at position
t * rate + start_skip, because FFmpeg drops the encoder + decoder delay when
it decodes the whole file, and transcript times come from such a decode.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from podclips_dagster.core.audio.frame_index import FrameIndex
from podclips_dagster.core.audio.mp3 import Mp3Layout, find_frame, parse_frame_header, walk_frames
from podclips_dagster.core.audio.source import CountingReader
from podclips_dagster.core.errors import ChunkOutOfRange, SourceUnreadable

# Decoding starts this many frames early. After a cut the decoder mutes every
# frame whose bit reservoir (up to 511 bytes back) lies before the cut, and the
# frame after a muted one is wrong too (its overlap-add half is missing).
# Measured with FFmpeg against a full decode: 2 wrong frames on CBR 128k, up
# to 9 on LAME V4 VBR (~33 kbps, ~100-byte frames). 12 covers a full 511-byte
# reservoir in the smallest MPEG-1 frames (60 bytes of main data) plus overlap.
PREROLL_FRAMES_MPEG1 = 12
PREROLL_FRAMES_MPEG2 = 24  # half-length frames, 255-byte reservoir
CBR_SLACK = 4  # bytes: LAME keeps frame f within a byte of audio_start + f * mean size


class IrregularCbr(Exception):
    """The CBR byte math does not land on the expected frame: use a frame index."""


@dataclass(frozen=True)
class Mp3Window:
    data: bytes          # whole frames to pipe to FFmpeg
    trim_start: int      # decoded samples (of `data`) to drop before the clip
    trim_end: int        # decoded sample (of `data`) where the clip ends
    sample_rate: int
    source_duration: float


def preroll_frames(layout: Mp3Layout) -> int:
    return PREROLL_FRAMES_MPEG1 if layout.samples_per_frame == 1152 else PREROLL_FRAMES_MPEG2


@dataclass(frozen=True)
class _Plan:
    first: int       # stream position of the clip's first sample
    end: int         # stream position after its last sample
    read_from: int   # first frame to read (pre-roll included)
    read_to: int     # frame after the last frame to read
    source_duration: float


def ensure_starts_inside(layout: Mp3Layout, total_frames: int, start_time: float) -> None:
    """ChunkOutOfRange if the clip would start at or after the end of the audio."""
    content = layout.content_samples(total_frames)
    if round(start_time * layout.sample_rate) >= content:
        raise ChunkOutOfRange(
            f"clip start {start_time:.3f} s is at or after the end of the audio "
            f"({content / layout.sample_rate:.3f} s)")


def _plan(layout: Mp3Layout, total_frames: int, start_time: float, duration: float) -> _Plan:
    rate, spf, skip = layout.sample_rate, layout.samples_per_frame, layout.start_skip
    ensure_starts_inside(layout, total_frames, start_time)
    content = layout.content_samples(total_frames)
    first = round(start_time * rate)
    end = min(round((start_time + duration) * rate), content)
    read_from = max(0, (first + skip) // spf - preroll_frames(layout))
    # The decoder outputs frame f's samples once it has frame f: nothing after it is needed.
    read_to = min(total_frames, -(-(end + skip) // spf))
    return _Plan(first + skip, end + skip, read_from, read_to, content / rate)


def cbr_window(reader: CountingReader, layout: Mp3Layout, start_time: float,
               duration: float) -> Mp3Window:
    """One ranged read computed by byte math; resync on the first real header in it."""
    mean = layout.mean_frame_bytes
    total = layout.frames
    if total is None:
        total = int((reader.size - layout.audio_start) / mean)
    plan = _plan(layout, total, start_time, duration)
    lo = max(layout.audio_start, math.floor(layout.audio_start + plan.read_from * mean) - CBR_SLACK)
    hi = math.ceil(layout.audio_start + plan.read_to * mean) + CBR_SLACK
    data = reader.read(lo, hi)
    pos = find_frame(data, 0)
    if pos is None:
        raise SourceUnreadable(f"source {reader.key!r} has no MP3 frame near byte {lo}: damaged")
    exact = (lo + pos - layout.audio_start) / mean
    frame = round(exact)
    if abs(exact - frame) * mean > CBR_SLACK:
        raise IrregularCbr(f"frame at byte {lo + pos} is {exact:.2f} frames in")
    return _window(data, pos, frame, layout, plan, reader.key)


def indexed_window(reader: CountingReader, index: FrameIndex, start_time: float,
                   duration: float) -> Mp3Window:
    """One ranged read from the seek point before the pre-roll to the one after the clip."""
    plan = _plan(index.layout, index.frame_count, start_time, duration)
    start, end, frame = index.byte_span(plan.read_from, plan.read_to)
    data = reader.read(start, end)
    if parse_frame_header(data, 0) is None:
        raise SourceUnreadable(f"source {reader.key!r} has no MP3 frame at byte {start} "
                               "where its frame index expects one: damaged")
    return _window(data, 0, frame, index.layout, plan, reader.key)


def _window(data: bytes, pos: int, frame: int, layout: Mp3Layout, plan: _Plan,
            key: str) -> Mp3Window:
    """Whole frames from data[pos] (frame number `frame`) and the trim points in them."""
    count, stop = walk_frames(data, pos, parse_frame_header(data, pos).word)
    origin = frame * layout.samples_per_frame  # stream position of the data's first sample
    available_end = origin + count * layout.samples_per_frame
    end = min(plan.end, available_end)
    if end <= plan.first:
        raise ChunkOutOfRange(f"source {key!r} ends before the clip start "
                              f"({available_end / layout.sample_rate:.3f} s of audio)")
    return Mp3Window(data[pos:stop], plan.first - origin, end - origin, layout.sample_rate,
                     plan.source_duration)
