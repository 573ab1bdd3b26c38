"""Proof that a stored clip is what its record says (used by Dagster's asset checks)."""

from __future__ import annotations

from podclips_dagster.core.audio.mp3 import mp3_duration_from_header
from podclips_dagster.core.spec import ClipSpec

# A clip may be shorter than asked only at the episode's end; never longer than one frame more.
DURATION_TOLERANCE_S = 0.05
HEADER_BYTES = 8192


def audit_clip(service, spec: ClipSpec) -> list[str]:
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
        if duration > spec.duration_seconds + DURATION_TOLERANCE_S:
            problems.append(f"object lasts {duration:.3f} s, longer than {spec.duration_seconds} s")
        if abs(duration - record.get("clip_duration_seconds", -1)) > DURATION_TOLERANCE_S:
            problems.append(f"object lasts {duration:.3f} s, record says "
                            f"{record.get('clip_duration_seconds')} s")
    return problems
