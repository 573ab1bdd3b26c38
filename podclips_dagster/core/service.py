"""The one place a clip is made: look it up, confirm it, else cut, store, record.

Every door (Dagster asset, sidecar API, CLI) resolves its input once
(`core/resolve.py`) and calls `ClipService.ensure`.
"""

from __future__ import annotations

import logging
import tempfile
import time
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from pathlib import Path

from podclips_dagster.core.audio.cutter import cut_clip
from podclips_dagster.core.audio.ffmpeg import find_ffmpeg
from podclips_dagster.core.leases import Leases, confirm_lease
from podclips_dagster.core.resolve import ResolvedClip, resolve, resolve_at
from podclips_dagster.core.spec import ClipSpec
from podclips_dagster.core.storage import open_storage
from podclips_dagster.core.stores.catalogue import Catalogue
from podclips_dagster.core.stores.client import database_for
from podclips_dagster.core.stores.clip_records import READY, ClipRecords, is_ready
from podclips_dagster.core.stores.frame_indexes import MongoFrameIndexStore

log = logging.getLogger("podclips.service")

# A HEAD per hit costs more than the rest of a hit; objects vanish rarely (a person, the
# lifecycle), so one confirmation vouches for a clip this long.
CONFIRMATION_TTL = timedelta(minutes=5)


@dataclass(frozen=True)
class ClipResult:
    """A clip that exists in storage, and how this call got it."""

    spec: ClipSpec
    audio_url: str
    s3_url: str
    public_url: str | None
    start_time: float
    end_time: float
    duration: float
    file_size_bytes: int
    processing_time_ms: int
    generated_at: datetime
    cached: bool
    bytes_read: int = 0  # from the source, by this call (0 on a hit)
    source_format: str | None = None
    strategy: str | None = None

    @property
    def partition_key(self) -> str:
        return self.spec.partition_key

    def to_dict(self) -> dict:
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "spec"}
        out.update(self.spec._asdict(), partition_key=self.partition_key,
                   generated_at=self.generated_at.isoformat())
        return out


class ClipService:
    def __init__(self, settings, db, storage, ffmpeg: str | None = None):
        self.settings = settings
        self.db = db
        self.storage = storage
        self.catalogue = Catalogue(db, settings.episodes_collection, settings.chunks_collection)
        self.records = ClipRecords.in_db(db)
        self.frame_indexes = MongoFrameIndexStore.in_db(db)
        self.leases = Leases.in_db(db, settings.lease_ttl_seconds)
        self.clips_bucket = storage.bucket(settings.clips_bucket, public=True)
        self._ffmpeg = ffmpeg or settings.ffmpeg_binary

    @classmethod
    def from_settings(cls, settings) -> ClipService:
        return cls(settings, database_for(settings), open_storage(settings))

    def ensure_indexes(self) -> None:
        self.records.ensure_indexes()

    @property
    def ffmpeg(self) -> str:
        if self._ffmpeg is None or "/" not in self._ffmpeg:
            self._ffmpeg = find_ffmpeg(self._ffmpeg)
        return self._ffmpeg

    def resolve(self, episode_id, chunk_index, duration=30) -> ResolvedClip:
        """Validate a request against the catalogue; the spec uses the episode's guid."""
        return resolve(self.catalogue, episode_id, chunk_index, duration)

    def resolve_at(self, episode_id, time_s: float, duration=30) -> ResolvedClip:
        """The clip of the chunk that contains `time_s` seconds of the episode."""
        return resolve_at(self.catalogue, episode_id, time_s, duration)

    def find_clip(self, spec: ClipSpec, confirm: bool = True) -> ClipResult | None:
        """The existing clip, or None. With `confirm`, a record whose object is gone is None."""
        record = self.records.find(spec)
        if not is_ready(record):
            return None
        if confirm and not _recently_confirmed(record):
            if self.clips_bucket.head(spec.object_key) is None:
                log.warning("record of %s points at a missing object; it will be cut again",
                            spec.describe())
                return None
            self.records.mark_confirmed(spec)
        if confirm and record.get("retired_at"):
            self.records.revive(spec)
        return self._result(spec, record, cached=True, processing_ms=record.get(
            "processing_time_ms", 0))

    def ensure_clip(self, episode_id: str, chunk_index: int, duration: int = 30, *,
                    force: bool = False, requested_by: str = "cli",
                    logger: logging.Logger | None = None) -> ClipResult:
        """`ensure` for plain input (the CLI, Dagster partitions): resolves it first."""
        return self.ensure(self.resolve(episode_id, chunk_index, duration), force=force,
                           requested_by=requested_by, logger=logger)

    def ensure(self, resolved: ResolvedClip, *, force: bool = False, requested_by: str = "cli",
               logger: logging.Logger | None = None) -> ClipResult:
        """The clip, found or cut now, of a request a door has already resolved."""
        logger = logger or log
        started = time.perf_counter()
        self.ensure_indexes()
        spec = resolved.spec
        if not force and (hit := self.find_clip(spec)):
            logger.info("%s already exists at %s", spec.describe(), hit.s3_url)
            return hit
        # One cut per clip across every door and process: the lease holder cuts, the
        # others wait for it and reuse its clip (or take over if it failed).
        return self.leases.make_once(
            spec.partition_key,
            find=lambda: self.find_clip(spec),
            make=lambda: self._cut_and_store(resolved, requested_by, logger, started),
            on_wait=lambda: logger.info("%s is being cut by another caller; waiting for it",
                                        spec.describe()),
            recheck=not force,
        )

    def _cut_and_store(self, resolved: ResolvedClip, requested_by: str, logger, started: float):
        spec, episode, chunk = resolved.spec, resolved.episode, resolved.chunk
        source_bucket, source_key = self.catalogue.source_location(
            episode, self.storage, self.settings.source_bucket)
        logger.info("cutting %s from s3://%s/%s at %.3f s", spec.describe(), source_bucket,
                    source_key, chunk.start_time)
        with tempfile.TemporaryDirectory(prefix="podclips-cut-") as workdir:
            cut = cut_clip(self.storage.bucket(source_bucket), source_key, chunk.start_time,
                           spec.duration_seconds, ffmpeg=self.ffmpeg, workdir=Path(workdir),
                           index_store=self.frame_indexes)
            # The object is complete before the record exists; neither is written by a
            # holder whose lease was taken over (it would overwrite the new holder's).
            confirm_lease()
            self.clips_bucket.put_file(spec.object_key, cut.path, "audio/mpeg", {
                "episode-id": spec.episode_id.encode("ascii", "backslashreplace").decode(),
                "chunk-index": str(spec.chunk_index),
                "duration-seconds": f"{cut.duration_seconds:.3f}",
            })
        processing_ms = round((time.perf_counter() - started) * 1000)
        confirm_lease()
        record = self.records.save(spec, {
            "s3_url": self.clips_bucket.s3_url(spec.object_key),
            "public_url": self.settings.clips_public_base_url
            and self.clips_bucket.url(spec.object_key),
            "object_key": spec.object_key,
            "partition_key": spec.partition_key,
            "start_time": cut.start_time,
            "end_time": cut.end_time,
            "clip_duration_seconds": cut.duration_seconds,
            "file_size_bytes": cut.file_size_bytes,
            "processing_time_ms": processing_ms,
            "bytes_read": cut.bytes_read,
            "generated_at": datetime.now(UTC),
            "format": "mp3",
            "bitrate_kbps": cut.bitrate_kbps,
            "sample_rate": cut.sample_rate,
            "channels": cut.channels,
            "source_format": cut.source_format,
            "source_s3_url": f"s3://{source_bucket}/{source_key}",
            "strategy": cut.strategy,
            "requested_by": requested_by,
            "status": READY,
        })
        logger.info("stored %s: %.2f s, %d bytes, read %d source bytes, %d ms",
                    spec.describe(), cut.duration_seconds, cut.file_size_bytes, cut.bytes_read,
                    processing_ms)
        return self._result(spec, record, cached=False, processing_ms=processing_ms,
                            bytes_read=cut.bytes_read, source_format=cut.source_format,
                            strategy=cut.strategy)

    def _result(self, spec: ClipSpec, record: dict, cached: bool, processing_ms: int,
                **extra) -> ClipResult:
        generated_at = record.get("generated_at") or datetime.now(UTC)
        return ClipResult(
            spec=spec,
            audio_url=self.clips_bucket.url(spec.object_key),
            s3_url=record["s3_url"],
            public_url=record.get("public_url"),
            start_time=record["start_time"],
            end_time=record["end_time"],
            duration=record["clip_duration_seconds"],
            file_size_bytes=record["file_size_bytes"],
            processing_time_ms=processing_ms,
            generated_at=generated_at,
            cached=cached,
            **extra,
        )


def _recently_confirmed(record: dict) -> bool:
    confirmed = record.get("confirmed_at")  # aware: mongo_client() reads tz_aware
    return confirmed is not None and datetime.now(UTC) - confirmed < CONFIRMATION_TTL
