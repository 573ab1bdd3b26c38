"""Proof that a stored clip is what its record says (used by Dagster's asset checks)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from podclips_dagster.core.audio.mp3 import find_frame, id3v2_size, parse_layout
from podclips_dagster.core.spec import ClipSpec

if TYPE_CHECKING:
    from podclips_dagster.core.service import ClipService

# A clip may be shorter than asked only at the episode's end; never longer than one frame more.
DURATION_TOLERANCE_S = 0.05
HEADER_BYTES = 8192


def mp3_duration_from_header(head: bytes) -> float | None:
    """Duration an MP3's Info/Xing tag declares (what players show), from its first bytes."""
    first = find_frame(head, id3v2_size(head))
    if first is None:
        return None
    try:
        layout = parse_layout(head, first)
    except ValueError:
        return None
    if layout.frames is None:
        return None
    return layout.content_samples(layout.frames) / layout.sample_rate


def _longer_than_asked(spec: ClipSpec, duration: float) -> list[str]:
    if duration > spec.duration_seconds + DURATION_TOLERANCE_S:
        return [f"object lasts {duration:.3f} s, longer than {spec.duration_seconds} s"]
    return []


def audit_made_clip(clip) -> list[str]:
    """Problems in what ensure_clip just measured and recorded (a ClipResult), no re-read.

    Its duration is the MP3 header of the file it uploaded whole (or, for a reused
    clip, the record of an object it confirmed exists), its size that file's."""
    problems = [] if clip.file_size_bytes > 0 else [f"object is {clip.file_size_bytes} bytes"]
    if clip.duration <= 0:
        problems.append(f"clip lasts {clip.duration} s")
    return problems + _longer_than_asked(clip.spec, clip.duration)


def audit_clip(service: ClipService, spec: ClipSpec) -> list[str]:
    """Problems with one clip; an empty list means it is sound."""
    record = service.records.find(spec)
    if record is None:
        return ["no audio_clips record"]
    info = service.clips_bucket.head(spec.object_key)
    if info is None:
        return [f"object {spec.object_key} is missing"]
    problems = []
    if info.size != record.get("file_size_bytes"):
        problems.append(f"object is {info.size} bytes, record says {record.get('file_size_bytes')}")
    duration = mp3_duration_from_header(
        service.clips_bucket.read_range(spec.object_key, 0, HEADER_BYTES))
    if duration is None:
        problems.append("object has no readable MP3 header")
    else:
        problems += _longer_than_asked(spec, duration)
        if abs(duration - record.get("clip_duration_seconds", -1)) > DURATION_TOLERANCE_S:
            problems.append(f"object lasts {duration:.3f} s, record says "
                            f"{record.get('clip_duration_seconds')} s")
    return problems
