"""What a cut needs to know about a source object, built once and stored per object version.

Three kinds of record, each read back by its magic bytes: the frame index of
a VBR (or irregular CBR) MP3, the layout of a regular CBR MP3, and the sample
table of an MP4/M4A. `index_source` builds the right one ahead of any cut, so
the first person to ask for a clip of a new episode waits for the window only.
"""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Protocol

from podclips_dagster.core.audio.frame_index import (
    FrameIndex,
    build_frame_index,
    layout_record,
    read_source_record,
)
from podclips_dagster.core.audio.mp3 import Mp3Layout, cbr_offsets_regular
from podclips_dagster.core.audio.mp4 import read_sample_table
from podclips_dagster.core.audio.sample_table import (
    SAMPLE_TABLE_MAGIC,
    SampleTable,
    UnsupportedTable,
)
from podclips_dagster.core.audio.source import CountingReader, SourceProbe, probe_source
from podclips_dagster.core.errors import SourceMissing, SourceUnreadable

if TYPE_CHECKING:
    from podclips_dagster.core.storage.base import Bucket

SourceRecord = FrameIndex | Mp3Layout | SampleTable

# Bump when a change to indexing changes the stored records: the `audio_frame_indexes`
# code version.
SOURCE_INDEX_VERSION = "1"


class FrameIndexStore(Protocol):
    def get(self, source_id: str) -> bytes | None: ...

    def put(self, source_id: str, data: bytes) -> None: ...


class MemoryFrameIndexStore:
    """Source records kept in a dict (tests, one-off CLI runs); counts its puts."""

    def __init__(self) -> None:
        self._items: dict[str, bytes] = {}
        self._lock = threading.Lock()
        self.puts = 0

    def get(self, source_id: str) -> bytes | None:
        return self._items.get(source_id)

    def put(self, source_id: str, data: bytes) -> None:
        with self._lock:
            self._items[source_id] = data
            self.puts += 1


def source_id_for(bucket: Bucket, key: str, etag: str, size: int) -> str:
    """Names one version of an object: a replaced object gets a new frame index."""
    return f"{bucket.name}/{key}@{etag}:{size}"


def stored_record(store: FrameIndexStore | None, source_id: str) -> SourceRecord | None:
    data = store.get(source_id) if store is not None else None
    if not data:
        return None
    try:
        if data.startswith(SAMPLE_TABLE_MAGIC):
            return SampleTable.from_bytes(data)
        return read_source_record(data)
    except ValueError:
        return None  # an old or damaged record: rebuild it


def store_record(store: FrameIndexStore | None, source_id: str, data: bytes) -> None:
    if store is not None:
        store.put(source_id, data)


def build_and_store_index(reader: CountingReader, layout: Mp3Layout,
                          store: FrameIndexStore | None, source_id: str) -> FrameIndex:
    """Stream the MP3 once, walk its frames, store the index."""
    index = build_frame_index(reader.stream(), layout)
    if index.frame_count == 0 or (layout.frames and index.frame_count < layout.frames):
        raise SourceUnreadable(
            f"source {reader.key!r} is truncated: {index.frame_count} complete MP3 frames, "
            f"its header declares {layout.frames}")
    store_record(store, source_id, index.to_bytes())
    return index


def sample_table_or_none(reader: CountingReader, probe: SourceProbe,
                         store: FrameIndexStore | None, source_id: str) -> SampleTable | None:
    """The MP4's sample table, parsed and stored; None if only FFmpeg can seek in it."""
    try:
        table = read_sample_table(reader, probe.head)
    except UnsupportedTable:
        return None
    store_record(store, source_id, table.to_bytes())
    return table


def check_not_truncated(reader: CountingReader, layout: Mp3Layout) -> None:
    if layout.stream_end is not None and reader.size < layout.stream_end:
        raise SourceUnreadable(
            f"source {reader.key!r} is truncated: its MP3 header declares audio up to byte "
            f"{layout.stream_end}, the object has {reader.size} bytes")


def open_source(bucket: Bucket, key: str) -> tuple[CountingReader, str]:
    """A counting reader of the object and the id of its current version."""
    info = bucket.head(key)
    if info is None:
        raise SourceMissing(f"no object {key!r} in bucket {bucket.name}")
    if info.size == 0:
        raise SourceUnreadable(f"source {key!r} is empty (0 bytes)")
    return CountingReader(bucket, key, info.size), source_id_for(bucket, key, info.etag, info.size)


def frame_index_for(bucket: Bucket, key: str,
                    index_store: FrameIndexStore | None = None) -> FrameIndex:
    """The frame index of an MP3 object, from the store or built (and stored) now."""
    reader, source_id = open_source(bucket, key)
    record = stored_record(index_store, source_id)
    if isinstance(record, FrameIndex):
        return record
    probe = probe_source(reader)
    if probe.kind != "mp3":
        raise SourceUnreadable(f"source {key!r} is {probe.kind}, not MP3: no frame index")
    check_not_truncated(reader, probe.layout)
    return build_and_store_index(reader, probe.layout, index_store, source_id)


@dataclass(frozen=True)
class IndexSummary:
    """What `index_source` found and stored (the `podclips index` output)."""

    source_id: str
    kind: str            # "frame-index" | "cbr-layout" | "sample-table" | "none"
    strategy: str        # how cuts of this source will read it
    source_format: str   # "mp3-cbr" | "mp3-vbr" | "m4a" | "aac" | ...
    entries: int         # frames or samples the record describes (0 for a layout)
    duration_seconds: float | None
    bytes_read: int      # from the source, by this call
    stored_bytes: int    # size of the stored record
    reused: bool         # the record was already stored: nothing was read
    seconds: float

    def to_dict(self) -> dict:
        return asdict(self)


def index_source(bucket: Bucket, key: str, store: FrameIndexStore, *,
                 force: bool = False) -> IndexSummary:
    """Build and store what cuts of this object need: frame index, layout or sample table."""
    began = time.perf_counter()
    reader, source_id = open_source(bucket, key)
    record = None if force else stored_record(store, source_id)
    reused, kind = record is not None, None
    if record is None:
        record, kind = _build_record(reader, store, source_id)
    stored = len(store.get(source_id) or b"") if record is not None else 0
    return IndexSummary(source_id=source_id, reused=reused, bytes_read=reader.bytes_read,
                        stored_bytes=stored, seconds=round(time.perf_counter() - began, 3),
                        **_describe(record, kind))


def _build_record(reader: CountingReader, store: FrameIndexStore,
                  source_id: str) -> tuple[SourceRecord | None, str]:
    probe = probe_source(reader)
    if probe.kind == "m4a":
        return sample_table_or_none(reader, probe, store, source_id), probe.kind
    if probe.kind != "mp3":
        return None, probe.kind
    layout = probe.layout
    check_not_truncated(reader, layout)
    if not layout.vbr and cbr_offsets_regular(probe.frames_head, layout, layout.audio_start):
        store_record(store, source_id, layout_record(layout))
        return layout, probe.kind
    return build_and_store_index(reader, layout, store, source_id), probe.kind


def _describe(record: SourceRecord | None, source_format: str | None) -> dict:
    if isinstance(record, SampleTable):
        return dict(kind="sample-table", strategy="mp4-sample-table", source_format="m4a",
                    entries=len(record.sizes), duration_seconds=record.duration_seconds)
    if isinstance(record, FrameIndex):
        layout = record.layout
        return dict(kind="frame-index", strategy="ranged-frame-index",
                    source_format="mp3-vbr" if layout.vbr else "mp3-cbr",
                    entries=record.frame_count,
                    duration_seconds=layout.content_samples(record.frame_count)
                    / layout.sample_rate)
    if isinstance(record, Mp3Layout):
        frames = record.frames
        return dict(kind="cbr-layout", strategy="ranged-cbr", source_format="mp3-cbr", entries=0,
                    duration_seconds=frames and record.content_samples(frames) / record.sample_rate)
    # Containers without a table parser (or an MP4 it cannot use): FFmpeg seeks in them.
    return dict(kind="none", strategy="ffmpeg-seek", source_format=source_format, entries=0,
                duration_seconds=None)
