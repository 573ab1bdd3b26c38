"""Shape checks for the MongoDB records the sensors read, one record at a time.

Anyone can write to `clip_requests` and `audio_clips` (a service inserting
documents itself, a person fixing one by hand). One record with an object
where a string belongs, or a broken partition key, must not stop a sensor's
every tick: each check names what is wrong with one record, and the sensor
marks that record `rejected` and goes on with the rest.
"""

from __future__ import annotations

from datetime import datetime
from numbers import Real

from podclips_dagster.core.errors import InvalidClipRequest, PodclipsError
from podclips_dagster.core.spec import ClipSpec


class MalformedRecord(InvalidClipRequest):
    code = "malformed_record"


def _int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _number(value) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


def _partition_key_problem(key) -> PodclipsError | None:
    if not isinstance(key, str):
        return MalformedRecord(f"partition_key is a {type(key).__name__}, not a string")
    try:
        ClipSpec.from_partition_key(key)
    except PodclipsError as err:  # InvalidPartitionKey and the spec's own checks
        return err
    return None


def pending_request_problem(doc: dict) -> PodclipsError | None:
    """Why a pending `clip_requests` document cannot be triaged, or None."""
    if not isinstance(doc.get("requested_at"), datetime):
        return MalformedRecord("requested_at is missing or not a date")
    if doc.get("partition_key") is not None:
        return _partition_key_problem(doc["partition_key"])
    if not isinstance(doc.get("episode_id"), str):
        return MalformedRecord("episode_id is missing or not a string")
    if not _int(doc.get("chunk_index")):
        return MalformedRecord("chunk_index is missing or not an integer")
    if not _int(doc.get("duration_seconds", 30)):
        return MalformedRecord("duration_seconds is not an integer")
    return None


def queued_request_problem(doc: dict) -> PodclipsError | None:
    """Why a queued `clip_requests` document cannot be checked by the watchdog, or None."""
    if not isinstance(doc.get("run_key"), str):
        return MalformedRecord("run_key is missing or not a string")
    return _partition_key_problem(doc.get("partition_key"))


_CLIP_NUMBERS = ("start_time", "end_time", "clip_duration_seconds")


def clip_record_problem(record: dict) -> PodclipsError | None:
    """Why an `audio_clips` record cannot be reported as a clip, or None."""
    for field in ("episode_id", "s3_url"):
        if not isinstance(record.get(field), str):
            return MalformedRecord(f"{field} is missing or not a string")
    if not _int(record.get("chunk_index")) or not _int(record.get("duration_seconds")):
        return MalformedRecord("chunk_index or duration_seconds is missing or not an integer")
    for field in _CLIP_NUMBERS:
        if not _number(record.get(field)):
            return MalformedRecord(f"{field} is missing or not a number")
    if not _int(record.get("file_size_bytes")):
        return MalformedRecord("file_size_bytes is missing or not an integer")
    if record.get("revived_at") is not None and not isinstance(record["revived_at"], datetime):
        return MalformedRecord("revived_at is not a date")
    return None


def video_entry_problem(video) -> PodclipsError | None:
    """Why a `videos.{size}` entry of a clip record cannot be reported, or None."""
    if not isinstance(video, dict):
        return MalformedRecord(f"the video entry is a {type(video).__name__}, not an object")
    for field in ("key", "s3_url"):
        if not isinstance(video.get(field), str):
            return MalformedRecord(f"video {field} is missing or not a string")
    if not _int(video.get("size_bytes")):
        return MalformedRecord("video size_bytes is missing or not an integer")
    for field in ("duration", "render_time_ms"):
        if not _number(video.get(field)):
            return MalformedRecord(f"video {field} is missing or not a number")
    if not isinstance(video.get("generated_at"), datetime):
        return MalformedRecord("video generated_at is missing or not a date")
    return None
