"""An MP4 audio track's sample table, stored per object version, and the bytes a clip needs.

Sample positions here count decoded samples from the first sample of AAC
access unit 0. Episode time t sits at position t * rate + priming, because
FFmpeg drops the priming (the `elst` media_time, or `iTunSMPB`) when it
decodes the whole file, and transcript times come from such a decode.

The stored form keeps the tables as the file has them (run-length `stts` and
`stsc`, one size per sample, one offset per chunk), zlib-compressed: a 3 h
AAC track (~466k samples at 44.1 kHz) takes ~0.6 MB, well under MongoDB's
16 MB document limit. Offsets and times per sample are derived on load.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from podclips_dagster.core.audio.source import CountingReader
from podclips_dagster.core.errors import ChunkOutOfRange, SourceUnreadable

# numpy is imported where it is used: the sidecar's cold start (a Lambda's first answer)
# imports this module but needs no numpy until it cuts an M4A.
if TYPE_CHECKING:
    import numpy as np

SAMPLE_TABLE_MAGIC = b"PCST1"
# Decoding starts this many access units early: an AAC frame's output overlaps
# half of the previous frame's (MDCT), so the first decoded frame is wrong.
PREROLL_FRAMES = 2
# ADTS can carry only these sampling frequency indexes and AAC Main/LC/SSR/LTP.
_ADTS_RATES = (96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025,
               8000, 7350)
_HEADER = struct.Struct("<IIqIIIIBB")  # timescale, priming, content, counts x4, size width, ASC len


class UnsupportedTable(Exception):
    """The track cannot be cut from its sample table: FFmpeg must seek itself."""


@dataclass(frozen=True)
class AdtsWindow:
    data: bytes          # ADTS frames to pipe to FFmpeg (`-f aac`)
    trim_start: int      # decoded samples (of `data`) to drop before the clip
    trim_end: int        # decoded sample (of `data`) where the clip ends
    sample_rate: int
    source_duration: float


@dataclass(frozen=True)
class SampleTable:
    asc: bytes                # AudioSpecificConfig from esds
    timescale: int            # mdhd: stts deltas count in these units
    stts: np.ndarray          # (count, delta) runs
    stsc: np.ndarray          # (first chunk, 1-based; samples per chunk) runs
    sizes: np.ndarray         # bytes per sample
    chunk_offsets: np.ndarray
    priming: int              # decoded samples before the content (encoder delay)
    content_samples: int      # decoded samples of content (priming and padding excluded)
    object_type: int = field(init=False)
    sample_rate: int = field(init=False)
    channels: int = field(init=False)

    def __post_init__(self):
        object_type, rate_index, channels = _parse_asc(self.asc)
        rate = _ADTS_RATES[rate_index]
        if self.timescale != rate:
            raise UnsupportedTable(f"timescale {self.timescale} is not the sample rate {rate}")
        object.__setattr__(self, "object_type", object_type)
        object.__setattr__(self, "sample_rate", rate)
        object.__setattr__(self, "channels", channels)

    @classmethod
    def build(cls, *, asc: bytes, timescale: int, stts: np.ndarray, stsc: np.ndarray,
              sizes: np.ndarray, chunk_offsets: np.ndarray, priming: int,
              content_samples: int | None) -> SampleTable:
        import numpy as np
        total = int(np.sum(stts[:, 0] * stts[:, 1]))
        if int(np.sum(stts[:, 0])) != len(sizes):
            raise ValueError(f"stts covers {int(np.sum(stts[:, 0]))} samples, stsz {len(sizes)}")
        content = total - priming if content_samples is None else min(content_samples,
                                                                       total - priming)
        return cls(asc, timescale, stts, stsc, sizes, chunk_offsets, priming, content)

    @property
    def duration_seconds(self) -> float:
        return self.content_samples / self.sample_rate

    def sample_offsets(self, first: int = 0, end: int | None = None) -> np.ndarray:
        """Byte offsets of samples first..end-1: the chunk's offset plus the sizes before
        each sample in its chunk. (Only the range asked for: all 465k of a 3 h track took
        30-100 ms a cut.)"""
        import numpy as np
        chunks = len(self.chunk_offsets)
        firsts = np.append(self.stsc[:, 0] - 1, chunks)
        ends = np.cumsum(np.repeat(self.stsc[:, 1], np.diff(firsts).clip(min=0)))
        if len(ends) == 0 or ends[-1] < len(self.sizes):
            raise ValueError(f"stsc places {ends[-1] if len(ends) else 0} samples, stsz has "
                             f"{len(self.sizes)}")
        index = np.arange(first, len(self.sizes) if end is None else end)
        chunk_of = np.searchsorted(ends, index, side="right")
        before = np.concatenate(([0], np.cumsum(self.sizes)))
        chunk_first = np.concatenate(([0], ends[:-1]))[chunk_of]
        return self.chunk_offsets[chunk_of] + before[index] - before[chunk_first]

    def decode_times(self) -> np.ndarray:
        """Decode time of every sample, and the end of the last, in samples."""
        import numpy as np
        deltas = np.repeat(self.stts[:, 1], self.stts[:, 0])
        return np.concatenate(([0], np.cumsum(deltas)))

    def to_bytes(self) -> bytes:
        import numpy as np
        width = 2 if self.sizes.max(initial=0) < 1 << 16 else 4
        head = _HEADER.pack(self.timescale, self.priming, self.content_samples, len(self.stts),
                            len(self.stsc), len(self.sizes), len(self.chunk_offsets), width,
                            len(self.asc))
        body = b"".join((
            self.stts.astype("<u4").tobytes(), self.stsc.astype("<u4").tobytes(),
            self.sizes.astype(f"<u{width}").tobytes(),
            np.diff(self.chunk_offsets, prepend=0).astype("<i8").tobytes()))
        return SAMPLE_TABLE_MAGIC + head + self.asc + zlib.compress(body, 6)

    @classmethod
    def from_bytes(cls, data: bytes) -> SampleTable:
        if not data.startswith(SAMPLE_TABLE_MAGIC):
            raise ValueError("not a podclips sample table")
        try:
            return cls._decode(data)
        except (struct.error, zlib.error, TypeError, UnsupportedTable) as err:
            raise ValueError(f"sample table is corrupt: {err}") from None

    @classmethod
    def _decode(cls, data: bytes) -> SampleTable:
        import numpy as np
        at = len(SAMPLE_TABLE_MAGIC)
        (timescale, priming, content, n_stts, n_stsc, n_sizes, n_chunks, width,
         asc_len) = _HEADER.unpack_from(data, at)
        at += _HEADER.size
        asc, body = data[at:at + asc_len], zlib.decompress(data[at + asc_len:])
        parts, pos = [], 0
        for count, dtype in ((n_stts * 2, "<u4"), (n_stsc * 2, "<u4"), (n_sizes, f"<u{width}"),
                             (n_chunks, "<i8")):
            parts.append(np.frombuffer(body, dtype, count, pos).astype(np.int64))
            pos += count * np.dtype(dtype).itemsize
        if pos != len(body):
            raise TypeError("tables do not add up to the stored body")
        stts, stsc, sizes, deltas = parts
        return cls(asc, timescale, stts.reshape(-1, 2), stsc.reshape(-1, 2), sizes,
                   np.cumsum(deltas), priming, content)


def _parse_asc(asc: bytes) -> tuple[int, int, int]:
    """(audio object type, ADTS sampling frequency index, channels) of an AudioSpecificConfig."""
    if len(asc) < 2:
        raise UnsupportedTable("AudioSpecificConfig shorter than 2 bytes")
    bits = int.from_bytes(asc[:2], "big")
    object_type, rate_index, channels = bits >> 11, (bits >> 7) & 0xF, (bits >> 3) & 0xF
    if not 1 <= object_type <= 4:
        raise UnsupportedTable(f"AAC object type {object_type} (only Main/LC/SSR/LTP fit ADTS)")
    if rate_index >= len(_ADTS_RATES):
        raise UnsupportedTable(f"sampling frequency index {rate_index} (explicit rate)")
    if not 1 <= channels <= 7:
        raise UnsupportedTable(f"channel configuration {channels} (layout in a PCE)")
    return object_type, rate_index, channels


def adts_header(object_type: int, rate_index: int, channels: int, payload: int) -> bytes:
    """The 7-byte ADTS header (no CRC) of one access unit of `payload` bytes."""
    length = payload + 7
    return bytes((
        0xFF, 0xF1,  # sync word, MPEG-4, layer 0, no CRC
        ((object_type - 1) << 6) | (rate_index << 2) | (channels >> 2),
        ((channels & 3) << 6) | (length >> 11),
        (length >> 3) & 0xFF,
        ((length & 7) << 5) | 0x1F,  # buffer fullness 0x7FF: variable rate
        0xFC,  # ... and one raw data block
    ))


def adts_window(reader: CountingReader, table: SampleTable, start_time: float,
                duration: float) -> AdtsWindow:
    """One ranged read of the access units the clip needs (pre-roll included), as ADTS."""
    import numpy as np
    rate = table.sample_rate
    first = round(start_time * rate)
    if first >= table.content_samples:
        raise ChunkOutOfRange(f"clip start {start_time:.3f} s is at or after the end of the "
                              f"audio ({table.duration_seconds:.3f} s)")
    end = min(round((start_time + duration) * rate), table.content_samples) + table.priming
    first += table.priming
    times = table.decode_times()
    count = len(table.sizes)
    read_from = max(0, int(np.searchsorted(times, first, "right")) - 1 - PREROLL_FRAMES)
    # One access unit past the clip: harmless after the trim, and it flushes the last one.
    read_to = min(count, int(np.searchsorted(times, end - 1, "right")) + 1)
    offsets = table.sample_offsets(read_from, read_to)
    sizes = table.sizes[read_from:read_to]
    lo, hi = int(offsets.min()), int((offsets + sizes).max())
    data = reader.read(lo, hi)
    if len(data) < hi - lo:
        raise SourceUnreadable(f"source {reader.key!r} is truncated: its sample table points "
                               f"at byte {hi}, the object has {reader.size} bytes")
    _, rate_index, _ = _parse_asc(table.asc)
    frames = bytearray()
    for offset, size in zip((offsets - lo).tolist(), sizes.tolist(), strict=True):
        frames += adts_header(table.object_type, rate_index, table.channels, size)
        frames += data[offset:offset + size]
    origin = int(times[read_from])
    return AdtsWindow(bytes(frames), first - origin, end - origin, rate, table.duration_seconds)
