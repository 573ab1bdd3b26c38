"""Clips past their retention age, and how to retire them.

Retiring drops the clip's Dagster partition (Dagster advises at most 100,000
per asset). The object and record stay unless asked: the bucket's lifecycle
archives old objects, and a record whose object is gone is healed on demand.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from podclips_dagster.core.media.audiogram import VIDEO_SIZES
from podclips_dagster.core.media.share_assets import ASSETS, asset_key
from podclips_dagster.core.media.videos import video_key
from podclips_dagster.core.spec import ClipSpec
from podclips_dagster.core.stores.clip_records import spec_of

if TYPE_CHECKING:
    from podclips_dagster.core.service import ClipService


def expired_clips(service: ClipService, cutoff: datetime, limit: int,
                  include_retired: bool = False) -> list[tuple[dict, ClipSpec]]:
    """(record, spec) of clips made before `cutoff`, not in use again since (`revived_at`,
    set when a retired clip is served), oldest first; not retired unless `include_retired`
    (a deleting run also deletes what earlier runs only retired). `record` holds what
    `retire` matches on."""
    found = [(record, spec_of(record))
             for record in service.records.expired(cutoff, limit, include_retired)]
    return [(record, spec) for record, spec in found if spec is not None]


def derived_keys(spec: ClipSpec) -> list[str]:
    """Objects made from a clip and stored beside it (waveform, transcript, videos)."""
    return ([asset_key(spec, kind) for kind in ASSETS]
            + [video_key(spec, size) for size in VIDEO_SIZES])


def retire(service: ClipService, expired: list[tuple[dict, ClipSpec]],
           delete_clips: bool) -> int:
    """Stamp records retired, or, when `delete_clips`, delete the clip's objects and
    then its record (a record never outlives its object). Only records unchanged since
    `expired_clips` selected them; returns how many were retired or deleted."""
    if not delete_clips:
        now = datetime.now(UTC)
        return sum(service.records.retire_unchanged(record, now) for record, _ in expired)
    return sum(_delete_unchanged(service, record, spec) for record, spec in expired)


def _delete_unchanged(service: ClipService, record: dict, spec: ClipSpec) -> bool:
    # The clip's lease keeps a cut from writing it while it is deleted; a clip being cut
    # is in use, so it is skipped rather than waited for.
    token = service.leases.acquire(spec.partition_key)
    if token is None:
        return False
    try:
        # Claimed first (a hit then sees no clip and waits for the lease): a record
        # changed since selection is not claimed, and its objects stay.
        if not service.records.claim_for_deletion(spec, record):
            return False
        for key in derived_keys(spec) + [spec.object_key]:
            service.clips_bucket.delete(key)
        service.records.delete_claimed(spec, record)
        return True
    finally:
        service.leases.release(spec.partition_key, token)
