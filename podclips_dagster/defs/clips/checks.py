"""Checks that prove each clip: the object exists, fits its window, matches its record."""

from __future__ import annotations

import dagster as dg

from podclips_dagster.core.clip_audit import audit_clip
from podclips_dagster.core.spec import ClipSpec
from podclips_dagster.defs.clips.assets import audio_clips
from podclips_dagster.defs.clips.partitions import audio_clips_partitions
from podclips_dagster.defs.resources import ClipServiceResource


@dg.asset_check(asset=audio_clips, partitions_def=audio_clips_partitions, blocking=False,
                description="The clip's object exists, its MP3 duration fits the requested "
                "window, and its size matches the MongoDB record.")
def clip_object_matches_record(context: dg.AssetCheckExecutionContext,
                               clip_service: ClipServiceResource) -> dg.AssetCheckResult:
    service = clip_service.get_service()
    problems_by_key = {}
    for key in context.partition_keys:
        problems_by_key[key] = audit_clip(service, ClipSpec.from_partition_key(key))
    failed = {k: p for k, p in problems_by_key.items() if p}
    return dg.AssetCheckResult(
        passed=not failed,
        description="; ".join(f"{k}: {', '.join(p)}" for k, p in failed.items()) or None,
        metadata={"clips_checked": len(problems_by_key), "clips_failing": len(failed)},
    )
