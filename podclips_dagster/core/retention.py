"""Clips past their retention age, and how to retire them.

Retiring drops the clip's Dagster partition (Dagster advises at most 100,000
per asset). The object and record stay unless asked: the bucket's lifecycle
archives old objects, and a record whose object is gone is healed on demand.
"""

from __future__ import annotations

from datetime import UTC, datetime

from podclips_dagster.core.media.audiogram import VIDEO_SIZES
from podclips_dagster.core.media.share_assets import ASSETS, asset_key
from podclips_dagster.core.media.videos import video_key
from podclips_dagster.core.spec import ClipSpec
from podclips_dagster.core.stores.clip_records import spec_of
from podclips_dagster.core.stores.mongo import mongo_errors

DELETING = "deleting"  # claimed by a retention run: no door serves it
_SERVED = ["ready", None]
# A record changed in any of these since it was selected is in use again: a hit revived
# it, a cut replaced it, a HEAD confirmed it. Retention leaves it alone.
_USE_FIELDS = ("generated_at", "revived_at", "updated_at", "confirmed_at", "retired_at")


def expired_clips(service, cutoff: datetime, limit: int,
                  include_retired: bool = False) -> list[tuple[dict, ClipSpec]]:
    """(record, spec) of clips made before `cutoff`, not in use again since (`revived_at`,
    set when a retired clip is served), oldest first; not retired unless `include_retired`
    (a deleting run also deletes what earlier runs only retired). `record` holds what
    `retire` matches on."""
    query = {"generated_at": {"$lt": cutoff}, "revived_at": {"$not": {"$gte": cutoff}},
             "status": {"$in": _SERVED}, "retired_at": None}
    if include_retired:  # and those a crashed deleting run left claimed
        query["status"] = {"$in": [*_SERVED, DELETING]}
        del query["retired_at"]
    with mongo_errors("reading expired clips"):
        records = service.records.collection.find(
            query, dict.fromkeys(("episode_id", "chunk_index", "duration_seconds",
                                  *_USE_FIELDS), 1),
        ).sort("generated_at", 1).limit(limit)
        found = [(record, spec_of(record)) for record in records]
    return [(record, spec) for record, spec in found if spec is not None]


def derived_keys(spec: ClipSpec) -> list[str]:
    """Objects made from a clip and stored beside it (waveform, transcript, videos)."""
    return ([asset_key(spec, kind) for kind in ASSETS]
            + [video_key(spec, size) for size in VIDEO_SIZES])


def _unchanged(record: dict) -> dict:
    return {"_id": record["_id"], **{field: record.get(field) for field in _USE_FIELDS}}


def retire(service, expired: list[tuple[dict, ClipSpec]], delete_clips: bool) -> int:
    """Stamp records retired, or, when `delete_clips`, delete the clip's objects and
    then its record (a record never outlives its object). Only records unchanged since
    `expired_clips` selected them; returns how many were retired or deleted."""
    if not delete_clips:
        now = datetime.now(UTC)
        with mongo_errors("marking clips retired"):
            return sum(service.records.collection.update_one(
                _unchanged(record), {"$set": {"retired_at": now}}).modified_count
                for record, _ in expired)
    return sum(_delete_unchanged(service, record, spec) for record, spec in expired)


def _delete_unchanged(service, record: dict, spec: ClipSpec) -> bool:
    # The clip's lease keeps a cut from writing it while it is deleted; a clip being cut
    # is in use, so it is skipped rather than waited for.
    token = service.leases.acquire(spec.partition_key)
    if token is None:
        return False
    try:
        # Claimed first (a hit then sees no clip and waits for the lease): a record
        # changed since selection is not claimed, and its objects stay.
        with mongo_errors(f"claiming {spec.describe()} for deletion"):
            claimed = service.records.collection.update_one(
                {**_unchanged(record), "status": {"$in": [*_SERVED, DELETING]}},
                {"$set": {"status": DELETING}}).modified_count
        if not claimed:
            return False
        for key in derived_keys(spec) + [spec.object_key]:
            service.clips_bucket.delete(key)
        with mongo_errors(f"deleting the record of {spec.describe()}"):
            service.records.collection.delete_one({"_id": record["_id"], "status": DELETING})
        return True
    finally:
        service.leases.release(spec.partition_key, token)
