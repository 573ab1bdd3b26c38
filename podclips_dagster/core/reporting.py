"""Clips and videos Dagster has not yet been checked against, oldest first.

Every clip record is looked at once, then stamped `dagster_reported_at`: the
sensor reports it as a materialization unless a run already materialized it.
Who made a clip is not enough to tell (runs record the source that wanted
the clip, e.g. "precut"), so the sensor asks Dagster instead.

A video (`videos.{size}` on its clip's record) made by the `clip_videos`
asset is stamped when it is stored; one made by the CLI or the sidecar waits
for the sensor, the same way.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING

from podclips_dagster.core.errors import PodclipsError
from podclips_dagster.core.spec import ClipSpec
from podclips_dagster.core.stores.clip_records import spec_of

if TYPE_CHECKING:
    from podclips_dagster.core.service import ClipService

log = logging.getLogger("podclips.reporting")

MADE_BY_DAGSTER = "dagster"


def unreported_clips(service: ClipService, made_before: datetime,
                     limit: int) -> list[tuple[ClipSpec | None, dict]]:
    """(spec, record) of up to `limit` clips made before `made_before`, not yet looked at.

    A record that names no valid clip comes with spec None: acknowledge it
    anyway, so it does not hold up the page forever.
    """
    found = []
    for record in service.records.unreported(made_before, limit):
        spec = spec_of(record)
        if spec is None:
            log.warning("audio_clips record %s names no valid clip; not reported", record["_id"])
        found.append((spec, record))
    return found


def reject_clip_record(service: ClipService, record: dict, err: PodclipsError) -> bool:
    """Mark a malformed clip record rejected (unless it changed since it was read): it is no
    clip a door serves, and the next request for that clip cuts and records it afresh."""
    log.warning("audio_clips record %s rejected: %s", record["_id"], err.message)
    return service.records.reject(record, err)


def reject_video(service: ClipService, record: dict, size: str, err: PodclipsError) -> bool:
    """Move a malformed `videos.{size}` entry to `rejected_videos.{size}` with the reason
    (unless it changed since it was read), so the next request renders the video again."""
    log.warning("video %s of audio_clips record %s rejected: %s", size, record["_id"],
                err.message)
    return service.records.reject_video(record, size, err)


def mark_reported(service: ClipService, record_ids: list) -> int:
    return service.records.mark_reported(record_ids)


def unreported_videos(service: ClipService, sizes, made_before: datetime,
                      limit: int) -> list[tuple[ClipSpec | None, str, dict]]:
    """(spec, size, record) of up to `limit` videos made before `made_before` outside Dagster
    and not yet looked at. One indexed query per size: sizes are few, `$or` scans."""
    found = []
    for size in sizes:
        records = service.records.unreported_videos(size, made_before, limit - len(found))
        # A spec of None: acknowledged, skipped.
        found += [(spec_of(record), size, record) for record in records]
        if len(found) >= limit:
            break
    return found


def mark_videos_reported(service: ClipService, videos: list[tuple]) -> int:
    """Stamp (record id, size) pairs as looked at."""
    return sum(service.records.mark_video_reported(record_id, size)
               for record_id, size in videos)
