"""Per-episode MP3 frame index: exact byte offsets for VBR (and irregular CBR) files.

Built by streaming the object once and walking its frame headers. Storing
every frame's offset costs ~140,000 numbers per hour; we keep the offset of
every SEEK_STEP-th frame instead (delta-encoded, zlib: ~14 KB per hour). A cut
reads from the seek point at or before its first pre-roll frame, so the
decoder's sample 0 is that seek frame's first sample: exact with no walking.

A regular CBR file needs no index, only its layout (where the frames start,
delays): `layout_record` stores that (~50 bytes) so later cuts skip the
first-bytes read. `read_source_record` reads either kind back.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from podclips_dagster.core.audio.mp3 import (
    STREAM_MASK,
    Mp3Layout,
    find_frame,
    frame_length,
)

# numpy is imported where it is used: the sidecar's cold start (a Lambda's first answer)
# does not need it, and importing it is about a fifth of that start (benchmarks/cold_start.py).
if TYPE_CHECKING:
    import numpy as np

SEEK_STEP = 16  # 16 frames ~ 0.42 s at 44.1 kHz: at most ~23 KB of extra read per cut
_INDEX_MAGIC, _LAYOUT_MAGIC = b"PCFI1", b"PCLY1"
_LAYOUT_FIELDS = ("audio_start", "sample_rate", "channels", "samples_per_frame",
                  "bitrate_kbps", "vbr", "frames", "stream_end", "start_skip", "end_padding")
_LAYOUT = struct.Struct("<QIBIHBqqIi")  # the fields above; -1 stands for None
_INDEX = struct.Struct("<qQII")  # frame count, audio end, step, seek point count


def _pack_layout(layout: Mp3Layout) -> bytes:
    values = [getattr(layout, name) for name in _LAYOUT_FIELDS]
    return _LAYOUT.pack(*[-1 if v is None else int(v) for v in values])


def _unpack_layout(data: bytes, offset: int) -> Mp3Layout:
    fields = dict(zip(_LAYOUT_FIELDS, _LAYOUT.unpack_from(data, offset), strict=False))
    for name in ("frames", "stream_end", "end_padding"):
        fields[name] = None if fields[name] < 0 else fields[name]
    fields["vbr"] = bool(fields["vbr"])
    return Mp3Layout(**fields)


def layout_record(layout: Mp3Layout) -> bytes:
    """What a regular CBR source needs stored: its layout alone."""
    return _LAYOUT_MAGIC + _pack_layout(layout)


def read_source_record(data: bytes) -> FrameIndex | Mp3Layout:
    """A stored record back: a FrameIndex, or the Mp3Layout of a regular CBR file."""
    if data.startswith(_LAYOUT_MAGIC):
        try:
            return _unpack_layout(data, len(_LAYOUT_MAGIC))
        except (struct.error, TypeError) as err:
            raise ValueError(f"layout record is corrupt: {err}") from None
    return FrameIndex.from_bytes(data)


@dataclass(frozen=True)
class FrameIndex:
    layout: Mp3Layout
    frame_count: int        # complete audio frames found by the walk
    audio_end: int          # offset just after the last complete frame
    seek_offsets: np.ndarray  # offset of frame k * step, for k = 0, 1, ...
    step: int = SEEK_STEP

    def byte_span(self, first_frame: int, end_frame: int) -> tuple[int, int, int]:
        """(start, end, frame at start): a byte range starting on a frame boundary
        at or before `first_frame` and holding every frame before `end_frame`."""
        first_frame = max(0, min(first_frame, self.frame_count - 1))
        point = first_frame // self.step
        after = -(-end_frame // self.step)
        end = self.audio_end if after >= len(self.seek_offsets) else int(self.seek_offsets[after])
        return int(self.seek_offsets[point]), end, point * self.step

    def to_bytes(self) -> bytes:
        import numpy as np
        positions = np.concatenate(([self.layout.audio_start], self.seek_offsets, [self.audio_end]))
        deltas = np.diff(positions).astype("<u4")
        counts = _INDEX.pack(self.frame_count, self.audio_end, self.step, len(self.seek_offsets))
        body = zlib.compress(deltas.tobytes(), 9)
        return _INDEX_MAGIC + _pack_layout(self.layout) + counts + body

    @classmethod
    def from_bytes(cls, data: bytes) -> FrameIndex:
        if not data.startswith(_INDEX_MAGIC):
            raise ValueError("not a podclips frame index")
        try:
            return cls._decode(data)
        except (struct.error, zlib.error, TypeError) as err:
            raise ValueError(f"frame index is corrupt: {err}") from None

    @classmethod
    def _decode(cls, data: bytes) -> FrameIndex:
        import numpy as np
        layout = _unpack_layout(data, len(_INDEX_MAGIC))
        at = len(_INDEX_MAGIC) + _LAYOUT.size
        frame_count, audio_end, step, points = _INDEX.unpack_from(data, at)
        deltas = np.frombuffer(zlib.decompress(data[at + _INDEX.size:]), "<u4")
        positions = layout.audio_start + np.cumsum(deltas, dtype=np.int64)
        if len(positions) != points + 1 or positions[-1] != audio_end:
            raise ValueError("frame index is corrupt: its offsets do not add up")
        return cls(layout, frame_count, audio_end, positions[:-1], step)


def build_frame_index(chunks: Iterable[bytes], layout: Mp3Layout,
                      step: int = SEEK_STEP) -> FrameIndex:
    """Walk every frame header of the object streamed as `chunks` (from offset 0).

    Garbage between frames is skipped by resyncing on a chain of valid headers,
    as a decoder would; a trailing ID3v1/APE tag or a cut-off last frame ends it.
    """
    import numpy as np
    ref = None  # STREAM_MASK bits of the first frame
    points: list[int] = []
    count, pos, end = 0, layout.audio_start, layout.audio_start
    resync = False  # searching for the next chain of valid headers
    buf, base = b"", 0  # buf holds object bytes from offset `base`
    for chunk, last in _with_last(chunks):
        buf += chunk
        if pos >= base + len(buf):  # still inside the tags before the audio
            base, buf = base + len(buf), b""
            continue
        buf, base = buf[pos - base:], pos
        p, n = 0, len(buf)
        while p + 4 <= n:
            word = (buf[p] << 24) | (buf[p + 1] << 16) | (buf[p + 2] << 8) | buf[p + 3]
            sizes = frame_length(word) if ref is None or (word & STREAM_MASK) == ref else None
            if sizes is None or resync:
                found = find_frame(buf, p if resync else p + 1)
                # Near the buffer's end a chain cannot be confirmed yet: wait for more bytes.
                if found is None or (not last and n - found < _RESYNC_WINDOW):
                    p, resync = max(p, n - _RESYNC_WINDOW) if found is None else found, True
                    break
                p, resync = found, False
                continue
            if p + sizes[0] > n:
                break
            if ref is None:
                ref = word & STREAM_MASK
            if count % step == 0:
                points.append(base + p)
            count, p = count + 1, p + sizes[0]
            end = base + p
        pos = base + p
    offsets = np.array(points or [layout.audio_start], np.int64)
    return FrameIndex(layout, count, end, offsets, step)


_RESYNC_WINDOW = 4 * 1441  # bytes that hold CHAIN_FRAMES frames of any bitrate


def _with_last(chunks: Iterable[bytes]):
    """Yield (chunk, is_last) pairs."""
    it = iter(chunks)
    previous = next(it, None)
    for chunk in it:
        yield previous, False
        previous = chunk
    if previous is not None:
        yield previous, True
