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
from datetime import UTC, datetime

from podclips_dagster.core.errors import PodclipsError
from podclips_dagster.core.spec import ClipSpec
from podclips_dagster.core.stores.clip_records import spec_of
from podclips_dagster.core.stores.mongo import ensure_index_once, mongo_errors

log = logging.getLogger("podclips.reporting")

REPORTED_FIELD = "dagster_reported_at"
MADE_BY_DAGSTER = "dagster"


def unreported_clips(service, made_before: datetime,
                     limit: int) -> list[tuple[ClipSpec | None, dict]]:
    """(spec, record) of up to `limit` clips made before `made_before`, not yet looked at.

    A record that names no valid clip comes with spec None: acknowledge it
    anyway, so it does not hold up the page forever.
    """
    collection = service.records.collection
    with mongo_errors("reading unreported clips"):
        ensure_index_once(collection, [(REPORTED_FIELD, 1), ("generated_at", 1)],
                          "dagster_reporting")
        records = list(collection.find(
            {REPORTED_FIELD: None, "generated_at": {"$lt": made_before},
             "status": {"$in": ["ready", None]}},
        ).sort("generated_at", 1).limit(limit))
    found = []
    for record in records:
        spec = spec_of(record)
        if spec is None:
            log.warning("audio_clips record %s names no valid clip; not reported", record["_id"])
        found.append((spec, record))
    return found


def reject_clip_record(service, record: dict, err: PodclipsError) -> bool:
    """Mark a malformed clip record rejected (unless it changed since it was read): it is no
    clip a door serves, and the next request for that clip cuts and records it afresh."""
    now = datetime.now(UTC)
    log.warning("audio_clips record %s rejected: %s", record["_id"], err.message)
    with mongo_errors("rejecting a malformed clip record"):
        return service.records.collection.update_one(
            {"_id": record["_id"], "status": {"$in": ["ready", None]},
             "generated_at": record.get("generated_at")},
            {"$set": {"status": "rejected", "error": err.message, "error_code": err.code,
                      REPORTED_FIELD: now, "updated_at": now}}).modified_count == 1


def reject_video(service, record: dict, size: str, err: PodclipsError) -> bool:
    """Move a malformed `videos.{size}` entry to `rejected_videos.{size}` with the reason
    (unless it changed since it was read), so the next request renders the video again."""
    field = f"videos.{size}"
    log.warning("video %s of audio_clips record %s rejected: %s", size, record["_id"],
                err.message)
    with mongo_errors("rejecting a malformed video entry"):
        return service.records.collection.update_one(
            {"_id": record["_id"], f"{field}.generated_at": record["videos"][size]["generated_at"]},
            {"$unset": {field: ""},
             "$set": {f"rejected_videos.{size}": {
                 "status": "rejected", "error": err.message, "error_code": err.code,
                 "rejected_at": datetime.now(UTC)}}}).modified_count == 1


def mark_reported(service, record_ids: list) -> int:
    if not record_ids:
        return 0
    with mongo_errors("marking clips reported"):
        return service.records.collection.update_many(
            {"_id": {"$in": record_ids}, REPORTED_FIELD: None},
            {"$set": {REPORTED_FIELD: datetime.now(UTC)}},
        ).modified_count


def unreported_videos(service, sizes, made_before: datetime,
                      limit: int) -> list[tuple[ClipSpec | None, str, dict]]:
    """(spec, size, record) of up to `limit` videos made before `made_before` outside Dagster
    and not yet looked at. One indexed query per size: sizes are few, `$or` scans."""
    collection = service.records.collection
    found = []
    for size in sizes:
        reported, made = f"videos.{size}.{REPORTED_FIELD}", f"videos.{size}.generated_at"
        with mongo_errors("reading unreported videos"):
            ensure_index_once(collection, [(reported, 1), (made, 1)], f"dagster_reporting_{size}")
            records = list(collection.find({reported: None, made: {"$lt": made_before}})
                           .sort(made, 1).limit(limit - len(found)))
        # A spec of None: acknowledged, skipped.
        found += [(spec_of(record), size, record) for record in records]
        if len(found) >= limit:
            break
    return found


def mark_videos_reported(service, videos: list[tuple]) -> int:
    """Stamp (record id, size) pairs as looked at."""
    marked = 0
    for record_id, size in videos:
        field = f"videos.{size}.{REPORTED_FIELD}"
        with mongo_errors("marking videos reported"):
            marked += service.records.collection.update_one(
                {"_id": record_id, field: None},
                {"$set": {field: datetime.now(UTC)}}).modified_count
    return marked
