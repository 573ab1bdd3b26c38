"""MP4/M4A boxes: find `moov` with ranged reads and parse the audio track's sample tables.

Only what the ranged cutter needs: where every AAC access unit (sample) of
the first audio track sits in the file (`stsc`, `stsz`, `stco`/`co64`), its
decode time (`stts`, `mdhd` timescale), the AudioSpecificConfig in `esds`
(to build ADTS headers) and the encoder's priming (`elst` media_time, or
iTunes' `iTunSMPB` when there is no edit list), so times line up with what
FFmpeg shows when it decodes the whole file.

`moov` is found by walking the top-level box headers: one small read per
box, never a byte of `mdat`, whether `moov` comes first (faststart) or last.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from podclips_dagster.core.audio.sample_table import SampleTable, UnsupportedTable
from podclips_dagster.core.audio.source import CountingReader
from podclips_dagster.core.errors import SourceUnreadable

# numpy is imported where it is used: the sidecar's cold start (a Lambda's first answer)
# imports this module but needs no numpy until it cuts an M4A.
if TYPE_CHECKING:
    import numpy as np

HEADER_READ = 16  # size + type + 64-bit largesize
MAX_MOOV_BYTES = 64 << 20  # a 3 h AAC track's moov is ~2.5 MB; beyond this it is not audio
MAX_TOP_LEVEL_BOXES = 64
_AUDIO_ENTRY_HEADER = 28  # SampleEntry (8) + AudioSampleEntry v0 fields (20), after box header


def read_sample_table(reader: CountingReader, head: bytes = b"") -> SampleTable:
    """The sample table of the first audio track; `head` is the object's first bytes if
    already read. UnsupportedTable: FFmpeg must seek itself. SourceUnreadable: broken."""
    return parse_moov(find_moov(reader, head), reader.key)


def find_moov(reader: CountingReader, head: bytes = b"") -> bytes:
    """The payload of the top-level `moov` box, read by range wherever it sits."""
    offset = 0
    for _ in range(MAX_TOP_LEVEL_BOXES):
        if offset + 8 > reader.size:
            break
        header = head[offset:offset + HEADER_READ]
        if len(header) < HEADER_READ and offset + len(header) < reader.size:
            header = reader.read(offset, offset + HEADER_READ)
        size, kind, header_len = _box_header(header, reader.size - offset)
        if size is None:
            break
        if kind == b"moov":
            if size > MAX_MOOV_BYTES:
                raise UnsupportedTable(f"moov of {size} bytes")
            if offset + size > reader.size:
                break
            have = head[offset + header_len:offset + size]
            if len(have) == size - header_len:
                return have
            return reader.read(offset + header_len, offset + size)
        offset += size
    raise SourceUnreadable(f"source {reader.key!r} has no complete `moov` box (moov atom not "
                           f"found): the MP4 is truncated or damaged")


def _box_header(data: bytes, remaining: int) -> tuple[int | None, bytes, int]:
    """(box size, type, header length); size None if the header is unusable."""
    if len(data) < 8:
        return None, b"", 0
    size, kind = struct.unpack_from(">I4s", data)
    header_len = 8
    if size == 1:
        if len(data) < 16:
            return None, kind, 0
        size, header_len = struct.unpack_from(">Q", data, 8)[0], 16
    elif size == 0:  # the box runs to the end of the file
        size = remaining
    if size < header_len:
        return None, kind, 0
    return size, kind, header_len


def _children(data: bytes, start: int = 0, end: int | None = None):
    """(type, payload start, payload end) of each box in data[start:end]."""
    end = len(data) if end is None else end
    pos = start
    while pos + 8 <= end:
        size, kind, header_len = _box_header(data[pos:pos + 16], end - pos)
        if size is None or pos + size > end:
            raise ValueError(f"box {kind!r} at {pos} overruns its parent")
        yield kind, pos + header_len, pos + size
        pos += size


def _find(data: bytes, path: tuple[bytes, ...], start: int = 0,
          end: int | None = None) -> tuple[int, int] | None:
    for kind, lo, hi in _children(data, start, end):
        if kind == path[0]:
            if len(path) == 1:
                return lo, hi
            found = _find(data, path[1:], lo + (4 if kind == b"meta" else 0), hi)
            if found:
                return found
    return None


def parse_moov(moov: bytes, key: str) -> SampleTable:
    try:
        return _parse(moov)
    except (ValueError, struct.error, IndexError) as err:
        raise SourceUnreadable(f"source {key!r} has a damaged `moov` box: {err}") from None


def _parse(moov: bytes) -> SampleTable:
    mvhd = _find(moov, (b"mvhd",))
    movie_timescale = _timescale(moov, mvhd) if mvhd else None
    trak = _audio_track(moov)
    mdhd = _find(moov, (b"mdia", b"mdhd"), *trak)
    stbl = _find(moov, (b"mdia", b"minf", b"stbl"), *trak)
    if mdhd is None or stbl is None:
        raise ValueError("audio track without mdhd or stbl")
    timescale = _timescale(moov, mdhd)
    table = {kind: (lo, hi) for kind, lo, hi in _children(moov, *stbl)}
    for needed in (b"stsd", b"stts", b"stsc", b"stsz"):
        if needed not in table:
            raise ValueError(f"no {needed.decode()} box")
    asc = _audio_specific_config(moov, *table[b"stsd"])
    stts = _entries(moov, table[b"stts"], 2)
    stsc = _entries(moov, table[b"stsc"], 3)[:, :2]
    sizes = _sample_sizes(moov, table[b"stsz"])
    if b"co64" in table:
        chunks = _entries(moov, table[b"co64"], 1, ">u8")[:, 0]
    elif b"stco" in table:
        chunks = _entries(moov, table[b"stco"], 1)[:, 0]
    else:
        raise ValueError("no stco or co64 box")
    if len(sizes) == 0:
        raise UnsupportedTable("no samples in moov (a fragmented MP4)")
    priming, content = _edit(moov, trak, timescale, movie_timescale)
    if priming is None:
        priming, content = _itunes_smpb(moov)
    return SampleTable.build(asc=asc, timescale=timescale, stts=stts, stsc=stsc, sizes=sizes,
                             chunk_offsets=chunks, priming=priming or 0, content_samples=content)


def _timescale(data: bytes, box: tuple[int, int]) -> int:
    lo = box[0]
    return struct.unpack_from(">I", data, lo + (20 if data[lo] == 1 else 12))[0]


def _audio_track(moov: bytes) -> tuple[int, int]:
    for kind, lo, hi in _children(moov):
        if kind != b"trak":
            continue
        hdlr = _find(moov, (b"mdia", b"hdlr"), lo, hi)
        if hdlr and moov[hdlr[0] + 8:hdlr[0] + 12] == b"soun":
            return lo, hi
    raise UnsupportedTable("no audio track")


def _entries(data: bytes, box: tuple[int, int], width: int, dtype: str = ">u4") -> np.ndarray:
    import numpy as np
    lo, hi = box
    count = struct.unpack_from(">I", data, lo + 4)[0]
    item = np.dtype(dtype).itemsize * width
    if lo + 8 + count * item > hi:
        raise ValueError("table longer than its box")
    return np.frombuffer(data, dtype, count * width, lo + 8).reshape(count, width).astype(np.int64)


def _sample_sizes(data: bytes, box: tuple[int, int]) -> np.ndarray:
    import numpy as np
    lo, hi = box
    fixed, count = struct.unpack_from(">II", data, lo + 4)
    if fixed:
        return np.full(count, fixed, np.int64)
    if lo + 12 + 4 * count > hi:
        raise ValueError("stsz longer than its box")
    return np.frombuffer(data, ">u4", count, lo + 12).astype(np.int64)


def _audio_specific_config(data: bytes, lo: int, hi: int) -> bytes:
    """The DecoderSpecificInfo (tag 5) inside the mp4a entry's esds descriptor."""
    entry = next(_children(data, lo + 8, hi), None)  # stsd: version/flags, count, entries
    if entry is None or entry[0] != b"mp4a":
        raise UnsupportedTable(f"audio codec {entry[0] if entry else None!r} is not AAC")
    version = struct.unpack_from(">H", data, entry[1] + 8)[0]
    extra = {0: 0, 1: 16, 2: 36}.get(version)
    if extra is None:
        raise UnsupportedTable(f"mp4a sample entry version {version}")
    esds = _find(data, (b"esds",), entry[1] + _AUDIO_ENTRY_HEADER + extra, entry[2])
    if esds is None:
        raise UnsupportedTable("mp4a without esds")
    pos, end = esds[0] + 4, esds[1]
    while pos < end:  # descriptors: tag, 1-4 length bytes (7 bits each), body
        tag, pos = data[pos], pos + 1
        length = 0
        for _ in range(4):
            byte, pos = data[pos], pos + 1
            length = (length << 7) | (byte & 0x7F)
            if not byte & 0x80:
                break
        if tag == 0x05:
            return bytes(data[pos:pos + length])
        # ES_Descriptor (3) and DecoderConfigDescriptor (4) hold the next descriptors.
        pos += _es_descriptor_fields(data, pos) if tag == 0x03 else 13 if tag == 0x04 else length
    raise UnsupportedTable("esds without an AudioSpecificConfig")


def _es_descriptor_fields(data: bytes, pos: int) -> int:
    """Bytes before an ES_Descriptor's sub-descriptors: ES_ID, flags and what they announce."""
    flags = data[pos + 2]
    size = 3 + (2 if flags & 0x80 else 0)
    if flags & 0x40:
        size += 1 + data[pos + size]
    return size + (2 if flags & 0x20 else 0)


def _edit(moov: bytes, trak: tuple[int, int], timescale: int,
          movie_timescale: int | None) -> tuple[int | None, int | None]:
    """(priming samples, content samples) from the first non-empty edit, if any."""
    elst = _find(moov, (b"edts", b"elst"), *trak)
    if elst is None:
        return None, None
    lo = elst[0]
    version, count = moov[lo], struct.unpack_from(">I", moov, lo + 4)[0]
    fmt, pos = (">Qq", lo + 8) if version == 1 else (">Ii", lo + 8)
    step = struct.calcsize(fmt) + 4  # + media rate
    for _ in range(count):
        duration, media_time = struct.unpack_from(fmt, moov, pos)
        pos += step
        if media_time >= 0:
            if not movie_timescale or not duration:
                return media_time, None
            return media_time, round(duration * timescale / movie_timescale)
    return None, None


def _itunes_smpb(moov: bytes) -> tuple[int | None, int | None]:
    """iTunes gapless info: ' 00000000 PRIMING PADDING CONTENT ...' in hex."""
    at = moov.find(b"iTunSMPB")
    if at < 0:
        return None, None
    data_box = moov.find(b"data", at)
    if data_box < 0:
        return None, None
    size = struct.unpack_from(">I", moov, data_box - 4)[0]
    text = moov[data_box + 12:data_box - 4 + size].decode("ascii", "replace").split()
    try:
        priming, content = int(text[1], 16), int(text[3], 16)
    except (IndexError, ValueError):
        return None, None
    return (priming, content or None) if 0 < priming < 16384 else (None, None)
