"""What a source object is, from its first bytes, and a reader that counts bytes.

The first read is small (HEAD_BYTES). An ID3v2 tag says its own size in its
10-byte header, so a 300 KB+ cover is skipped with a second ranged read,
never downloaded.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from podclips_dagster.core.audio.mp3 import Mp3Layout, find_frame, id3v2_size, parse_layout
from podclips_dagster.core.errors import SourceUnreadable

if TYPE_CHECKING:
    from podclips_dagster.core.storage.base import Bucket

HEAD_BYTES = 16 * 1024  # Info frame + ~30 frames at 128 kbps: enough to judge CBR regularity

_MAGIC = (  # (offset, bytes, what) of formats FFmpeg can read but we do not cut by range
    (4, b"ftyp", "m4a"), (0, b"OggS", "ogg"), (0, b"fLaC", "flac"), (8, b"WAVE", "wav"),
)
_NOT_AUDIO = (  # common non-audio files, named in the error
    (b"\x89PNG", "a PNG image"), (b"\xff\xd8\xff", "a JPEG image"), (b"%PDF", "a PDF"),
    (b"PK\x03\x04", "a ZIP archive"), (b"<?xml", "XML"), (b"<!DOCTYPE", "HTML"),
    (b"<html", "HTML"), (b"{", "JSON or text"),
)


@dataclass
class CountingReader:
    """Reads one object through a Bucket and counts every byte it returns."""

    bucket: Bucket
    key: str
    size: int
    bytes_read: int = field(default=0)

    def read(self, start: int, end: int) -> bytes:
        data = self.bucket.read_range(self.key, max(0, start), min(end, self.size))
        self.bytes_read += len(data)
        return data

    def stream(self) -> Iterator[bytes]:
        for chunk in self.bucket.iter_chunks(self.key):
            self.bytes_read += len(chunk)
            yield chunk


@dataclass(frozen=True)
class SourceProbe:
    kind: str                     # "mp3" or an FFmpeg-readable container ("m4a", "aac", ...)
    layout: Mp3Layout | None = None
    frames_head: bytes = b""      # bytes from layout.audio_start on (MP3 only)
    head: bytes = b""             # the object's first bytes (containers: an MP4's box headers)


def probe_source(reader: CountingReader) -> SourceProbe:
    """Identify the object from its first bytes; SourceUnreadable if it is not audio."""
    buf = reader.read(0, HEAD_BYTES)
    if len(buf) < 4:
        raise SourceUnreadable(f"{_name(reader)} is only {len(buf)} bytes: too short to be audio")
    base = 0
    while tag := id3v2_size(buf):  # some files carry two tags in a row
        if base + tag > reader.size:
            raise SourceUnreadable(
                f"{_name(reader)} is truncated: its ID3 tag declares {base + tag} bytes, "
                f"the object has {reader.size}")
        buf_end, base = base + len(buf), base + tag
        # A big tag (cover art) is skipped, not downloaded: read again just after it.
        if buf_end - base >= HEAD_BYTES // 2 or buf_end >= reader.size:
            buf = buf[tag:]
        else:
            buf = reader.read(base, base + HEAD_BYTES)
    if not buf:
        raise SourceUnreadable(f"{_name(reader)} is truncated: it holds an ID3 tag and no audio")
    container = _container(buf)
    if container:
        return SourceProbe(container, head=buf if base == 0 else b"")
    first = find_frame(buf, 0)
    if first is None:
        raise SourceUnreadable(f"{_name(reader)} is not audio: {_describe(buf)}")
    layout = parse_layout(buf, first, base)
    if layout.audio_start - base + 4 > len(buf):
        base = layout.audio_start
        buf = reader.read(base, base + HEAD_BYTES)
    return SourceProbe("mp3", layout, buf[layout.audio_start - base:])


def _container(data: bytes) -> str | None:
    for offset, magic, kind in _MAGIC:
        if data[offset:offset + len(magic)] == magic:
            return kind
    if len(data) >= 2 and data[0] == 0xFF and (data[1] & 0xF6) == 0xF0:
        return "aac"  # ADTS: sync word, MPEG-4/2 AAC, layer 00
    return None


def _describe(data: bytes) -> str:
    for magic, what in _NOT_AUDIO:
        if data.lstrip()[:len(magic)] == magic:
            return f"it looks like {what}"
    sample = data[:512]
    printable = sum(32 <= b < 127 or b in b"\r\n\t" for b in sample)
    if sample and printable / len(sample) > 0.95:
        text = sample[:40].decode("ascii", "replace").strip()
        return f"it looks like text ({text!r}...)"
    return f"no MP3 frames or known audio container (first bytes {data[:8].hex(' ')})"


def _name(reader: CountingReader) -> str:
    return f"source {reader.key!r}"
