"""A clip's share assets: waveform peaks (JSON), waveform picture (PNG), transcript (WebVTT).

They are stored beside the clip (`audio_clips/{episode}/{chunk}.waveform.json`,
`.waveform.png`, `.vtt`) and recorded on the clip's `audio_clips` document
under `share`, with the clip's `generated_at` they were made from: a clip cut
again makes them stale, and the next `ensure_share_assets` remakes them.

Why after the cut rather than in the same pass: the cut is on the sidecar's
synchronous path (p50 budget of a few hundred ms) and is shared by every
door; decoding for peaks, drawing the PNG and three more PUTs would add to
every clip while only a clip someone shares needs them. Made afterwards they
never fail or slow a cut, can be backfilled for clips that already exist
without cutting again, and are computed from the stored clip (what listeners
hear). In Dagster this is the `clip_share_assets` asset, partitioned like
`audio_clips` and following it automatically; the share page makes them on
first view if Dagster has not yet (about 0.1 s for 30 s of audio).
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from podclips_dagster.core.errors import PodclipsError
from podclips_dagster.core.media.transcript import ClipTranscript, clip_transcript
from podclips_dagster.core.media.waveform import (
    decode_mono_pcm,
    render_waveform_png,
    waveform_peaks,
)
from podclips_dagster.core.spec import ClipSpec
from podclips_dagster.core.stores.clip_records import is_ready

if TYPE_CHECKING:
    from podclips_dagster.core.service import ClipService

log = logging.getLogger("podclips.media")

SHARE_FIELD = "share"
SHARE_VERSION = 1  # bump when the assets' format changes: older ones are remade on demand
ASSETS = {  # kind: (key suffix, content type)
    "waveform_json": (".waveform.json", "application/json"),
    "waveform_png": (".waveform.png", "image/png"),
    "transcript_vtt": (".vtt", "text/vtt; charset=utf-8"),
}


class ClipNotCut(PodclipsError):
    """Media derived from a clip was asked for before the clip exists."""

    kind = "not_found"
    code = "clip_not_cut"


@dataclass(frozen=True)
class ShareAssets:
    spec: ClipSpec
    record: dict  # the clip's audio_clips document, `share` included
    transcript: ClipTranscript
    created: bool  # made by this call (False: they existed and were current)

    @property
    def share(self) -> dict:
        return self.record[SHARE_FIELD]

    def key(self, kind: str) -> str:
        return self.share[kind]["key"]


def asset_key(spec: ClipSpec, kind: str) -> str:
    return spec.object_key.removesuffix(".mp3") + ASSETS[kind][0]


def clip_record(service: ClipService, spec: ClipSpec) -> dict:
    record = service.records.find(spec)
    if not is_ready(record):
        raise ClipNotCut(f"{spec.describe()} has not been cut yet; make the clip first")
    return record


def download_clip(service: ClipService, spec: ClipSpec, workdir: Path) -> Path:
    path = workdir / "clip.mp3"
    with open(path, "wb") as out:
        for block in service.clips_bucket.iter_chunks(spec.object_key):
            out.write(block)
    return path


def transcript_for(service: ClipService, spec: ClipSpec, record: dict) -> ClipTranscript:
    episode = service.catalogue.episode(spec.episode_id)
    start, length = record["start_time"], record["clip_duration_seconds"]
    chunks = service.catalogue.chunks_around(episode.guid, spec.chunk_index, start + length)
    return clip_transcript(chunks, start, length, episode.duration)


def is_current(derived: dict | None, record: dict) -> bool:
    return bool(derived) and derived.get("clip_generated_at") == record.get("generated_at")


def ensure_share_assets(service: ClipService, spec: ClipSpec, *,
                        force: bool = False) -> ShareAssets:
    """The clip's share assets, made and recorded if missing or stale. Raises ClipNotCut."""
    record = clip_record(service, spec)
    transcript = transcript_for(service, spec, record)
    share = record.get(SHARE_FIELD)
    if not force and is_current(share, record) and share.get("version") == SHARE_VERSION:
        return ShareAssets(spec, record, transcript, created=False)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="podclips-share-") as workdir:
        peaks = waveform_peaks(decode_mono_pcm(download_clip(service, spec, Path(workdir)),
                                               service.ffmpeg))
    bodies = {
        "waveform_json": json.dumps(peaks, separators=(",", ":")).encode(),
        "waveform_png": render_waveform_png(peaks),
        "transcript_vtt": transcript.to_vtt().encode(),
    }
    share = {"version": SHARE_VERSION}
    for kind, body in bodies.items():
        key = asset_key(spec, kind)
        service.clips_bucket.put_bytes(key, body, ASSETS[kind][1])
        share[kind] = stored_object(service, key, len(body))
    share.update(
        transcript_timing=transcript.timing, transcript_cues=len(transcript.cues),
        waveform_points=peaks["length"], clip_generated_at=record["generated_at"],
        generated_at=datetime.now(UTC),
        processing_time_ms=round((time.perf_counter() - started) * 1000),
    )
    record_derived(service, spec, record, {SHARE_FIELD: share})
    return ShareAssets(spec, {**record, SHARE_FIELD: share}, transcript, created=True)


def stored_object(service: ClipService, key: str, size: int) -> dict:
    """How a derived object is recorded: a stable s3:// name, and the CDN URL if there is one."""
    bucket = service.clips_bucket
    public = service.settings.clips_public_base_url
    return {"key": key, "s3_url": bucket.s3_url(key), "public_url": public and bucket.url(key),
            "size_bytes": size}


def record_derived(service: ClipService, spec: ClipSpec, record: dict, fields: dict) -> None:
    if not service.records.update_unchanged(spec, record, fields):
        # Cut again meanwhile: what we stored is for the old audio and is remade on next use.
        log.warning("%s was cut again while its media were made; they will be remade",
                    spec.describe())
