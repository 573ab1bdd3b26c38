"""Audiogram videos of clips, made on request and stored beside the clip.

`audio_clips/{episode}/{chunk}.audiogram-1080x1080.mp4` (or `-1920x1080`),
recorded on the clip's document under `videos.{size}`. Each door (the
`clip_videos` Dagster asset, `podclips video`, `POST /api/generate-video-clip`)
calls `ensure_video`: reuse a current video, else render and store one.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from podclips_dagster.core.leases import confirm_lease
from podclips_dagster.core.media.audiogram import (
    DEFAULT_VIDEO_SIZE,
    parse_video_size,
    render_audiogram,
)
from podclips_dagster.core.media.probe import probe_media
from podclips_dagster.core.media.share_assets import (
    clip_record,
    download_clip,
    ensure_share_assets,
    is_current,
    record_derived,
    stored_object,
)
from podclips_dagster.core.reporting import MADE_BY_DAGSTER
from podclips_dagster.core.spec import ClipSpec

if TYPE_CHECKING:
    from podclips_dagster.core.service import ClipService

VIDEOS_FIELD = "videos"


@dataclass(frozen=True)
class VideoResult:
    spec: ClipSpec
    size: str
    video_url: str
    s3_url: str
    public_url: str | None
    duration: float
    file_size_bytes: int
    render_time_ms: int
    generated_at: datetime
    cached: bool

    def to_dict(self) -> dict:
        return {"video_url": self.video_url, "s3_url": self.s3_url, "public_url": self.public_url,
                "size": self.size, "duration": self.duration,
                "file_size_bytes": self.file_size_bytes, "render_time_ms": self.render_time_ms,
                "generated_at": self.generated_at.isoformat(), "cached": self.cached,
                "episode_id": self.spec.episode_id, "chunk_index": self.spec.chunk_index,
                "duration_seconds": self.spec.duration_seconds,
                "partition_key": self.spec.partition_key}


def video_key(spec: ClipSpec, size: str) -> str:
    return spec.object_key.removesuffix(".mp3") + f".audiogram-{size}.mp4"


def find_video(service: ClipService, spec: ClipSpec, size: str, record: dict) -> VideoResult | None:
    """The stored video of this size, if it was made from the current clip and still exists."""
    video = record.get(VIDEOS_FIELD, {}).get(size)
    if not is_current(video, record) or service.clips_bucket.head(video["key"]) is None:
        return None
    return _result(service, spec, size, video, cached=True)


def ensure_video(service: ClipService, spec: ClipSpec, size: str = DEFAULT_VIDEO_SIZE, *,
                 force: bool = False, made_by: str = "unknown") -> VideoResult:
    """The clip's audiogram of `size`, rendered and stored if missing. Raises ClipNotCut.

    `made_by` names the door ("cli", "sidecar", or MADE_BY_DAGSTER for the asset,
    whose run reports the video itself; the others are reported by a sensor)."""
    parse_video_size(size)
    record = clip_record(service, spec)
    if not force and (hit := find_video(service, spec, size, record)):
        return hit
    # Rendering takes seconds of both cores: identical requests render once.
    return service.leases.make_once(
        f"video:{spec.partition_key}:{size}",
        find=lambda: find_video(service, spec, size, clip_record(service, spec)),
        make=lambda: _render_and_store(service, spec, size, clip_record(service, spec), made_by),
        recheck=not force,
    )


def _render_and_store(service: ClipService, spec: ClipSpec, size: str, record: dict,
                      made_by: str) -> VideoResult:
    started = time.perf_counter()
    # Captions are the clip's stored transcript: make the share assets first if need be.
    shared = ensure_share_assets(service, spec)
    episode = service.catalogue.episode(spec.episode_id)
    key = video_key(spec, size)
    with tempfile.TemporaryDirectory(prefix="podclips-video-") as tmp:
        workdir = Path(tmp)
        out = workdir / "audiogram.mp4"
        render_audiogram(download_clip(service, spec, workdir), out, size=size,
                         title=episode.title or episode.guid, podcast=episode.podcast_name,
                         captions_vtt=shared.transcript.to_vtt(), ffmpeg=service.ffmpeg,
                         workdir=workdir, font_file=service.settings.font_file)
        duration = probe_media(out, service.ffmpeg).duration or record["clip_duration_seconds"]
        confirm_lease()
        service.clips_bucket.put_file(key, out, "video/mp4", {
            "chunk-index": str(spec.chunk_index), "video-size": size})
        stored_at = datetime.now(UTC)
        video = {
            **stored_object(service, key, out.stat().st_size),
            "duration": round(duration, 3),
            "render_time_ms": round((time.perf_counter() - started) * 1000),
            "clip_generated_at": record["generated_at"],
            "generated_at": stored_at,
            "made_by": made_by,
            # None: a sensor reports it to Dagster (REPORTED_FIELD, core/stores/clip_records.py)
            "dagster_reported_at": stored_at if made_by == MADE_BY_DAGSTER else None,
        }
    confirm_lease()
    record_derived(service, spec, record, {f"{VIDEOS_FIELD}.{size}": video})
    return _result(service, spec, size, video, cached=False)


def _result(service: ClipService, spec: ClipSpec, size: str, video: dict,
            cached: bool) -> VideoResult:
    return VideoResult(
        spec=spec, size=size, video_url=service.clips_bucket.url(video["key"]),
        s3_url=video["s3_url"], public_url=video.get("public_url"), duration=video["duration"],
        file_size_bytes=video["size_bytes"], render_time_ms=video["render_time_ms"],
        generated_at=video["generated_at"], cached=cached,
    )
