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


def expired_clips(service, cutoff: datetime, limit: int) -> list[tuple[object, ClipSpec]]:
    """(record id, spec) of clips made before `cutoff`, not retired, and not in use again
    since (`revived_at`, set when a retired clip is served), oldest first."""
    with mongo_errors("reading expired clips"):
        records = service.records.collection.find(
            {"generated_at": {"$lt": cutoff}, "retired_at": None,
             "revived_at": {"$not": {"$gte": cutoff}}},
            {"episode_id": 1, "chunk_index": 1, "duration_seconds": 1},
        ).sort("generated_at", 1).limit(limit)
        specs = [(record["_id"], spec_of(record)) for record in records]
    return [(record_id, spec) for record_id, spec in specs if spec is not None]


def derived_keys(spec: ClipSpec) -> list[str]:
    """Objects made from a clip and stored beside it (waveform, transcript, videos)."""
    return ([asset_key(spec, kind) for kind in ASSETS]
            + [video_key(spec, size) for size in VIDEO_SIZES])


def retire(service, record_ids: list, specs: list[ClipSpec], delete_clips: bool) -> None:
    """Stamp records retired, or, when `delete_clips`, delete the clip's objects and
    then its record (a record never outlives its object)."""
    if delete_clips:
        for spec in specs:
            for key in derived_keys(spec) + [spec.object_key]:
                service.clips_bucket.delete(key)
            service.records.delete(spec)
        return
    with mongo_errors("marking clips retired"):
        service.records.collection.update_many(
            {"_id": {"$in": record_ids}},
            {"$set": {"retired_at": datetime.now(UTC)}})
