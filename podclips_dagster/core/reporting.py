"""Clip records Dagster has not yet been checked against, oldest first.

Every record is looked at once, then stamped `dagster_reported_at`: the
sensor reports it as a materialization unless a run already materialized it.
Who made a clip is not enough to tell (runs record the source that wanted
the clip, e.g. "predicted"), so the sensor asks Dagster instead.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone

from podclips_dagster.core.spec import ClipSpec
from podclips_dagster.core.stores.clip_records import spec_of
from podclips_dagster.core.stores.mongo import mongo_errors

log = logging.getLogger("podclips.reporting")


def unreported_clips(service, made_before: datetime,
                     limit: int) -> list[tuple[ClipSpec | None, dict]]:
    """(spec, record) of up to `limit` clips made before `made_before`, not yet looked at.

    A record that names no valid clip comes with spec None: acknowledge it
    anyway, so it does not hold up the page forever.
    """
    collection = service.records.collection
    with mongo_errors("reading unreported clips"):
        collection.create_index([("dagster_reported_at", 1), ("generated_at", 1)],
                                name="dagster_reporting")
        records = list(collection.find(
            {"dagster_reported_at": None, "generated_at": {"$lt": made_before},
             "status": {"$in": ["ready", None]}},
        ).sort("generated_at", 1).limit(limit))
    found = []
    for record in records:
        spec = spec_of(record)
        if spec is None:
            log.warning("audio_clips record %s names no valid clip; not reported", record["_id"])
        found.append((spec, record))
    return found


def mark_reported(service, record_ids: list) -> int:
    if not record_ids:
        return 0
    with mongo_errors("marking clips reported"):
        return service.records.collection.update_many(
            {"_id": {"$in": record_ids}, "dagster_reported_at": None},
            {"$set": {"dagster_reported_at": datetime.now(timezone.utc)}},
        ).modified_count
