"""Every clip and video shows up in Dagster, wherever it was made.

Clips and videos made by the CLI or the sidecar are reported as runless
materializations of their `audio_clips` / `clip_videos` partition; those a
run made are skipped (the run reported them). A record is stamped reported
only on the tick after its event was written: at-least-once, never lost.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import dagster as dg
from bson import ObjectId

from podclips_dagster.core.media.audiogram import VIDEO_SIZES
from podclips_dagster.core.media.videos import find_video
from podclips_dagster.core.record_shapes import clip_record_problem, video_entry_problem
from podclips_dagster.core.reporting import (
    mark_reported,
    mark_videos_reported,
    reject_clip_record,
    reject_video,
    unreported_clips,
    unreported_videos,
)
from podclips_dagster.defs.clips.assets import audio_clips, clip_metadata
from podclips_dagster.defs.clips.partitions import (
    AUDIO_CLIPS_PARTITIONS_NAME,
    audio_clips_partitions,
)
from podclips_dagster.defs.code_versions import code_version_tags
from podclips_dagster.defs.media.assets import clip_videos, video_metadata
from podclips_dagster.defs.resources import ClipServiceResource

REPORT_PAGE_SIZE = 200
REPORT_LAG = timedelta(seconds=30)


def _new_keys(instance, keys: list[str]) -> list[str]:
    registered = set(instance.get_dynamic_partitions(AUDIO_CLIPS_PARTITIONS_NAME))
    return [key for key in dict.fromkeys(keys) if key not in registered]


def _record_id(text: str):
    return ObjectId(text) if ObjectId.is_valid(text) else text


def _materialized_at(instance, asset_key: dg.AssetKey, keys: list[str]) -> dict[str, float]:
    """partition key -> timestamp of its latest materialization, in one event-log query."""
    latest: dict[str, float] = {}
    if keys:
        records = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=asset_key, asset_partitions=keys),
            limit=10_000).records
        for record in records:
            key = record.partition_key
            latest[key] = max(latest.get(key, 0.0), record.timestamp)
    return latest


@dg.sensor(
    minimum_interval_seconds=10, default_status=dg.DefaultSensorStatus.RUNNING,
    description="Reports clips and videos made outside Dagster (CLI, sidecar) as runless "
    "materializations of their audio_clips / clip_videos partition, so the UI lists them all.",
)
def outside_clips_sensor(context: dg.SensorEvaluationContext,
                         clip_service: ClipServiceResource) -> dg.SensorResult:
    service = clip_service.get_service()
    # Records looked at by the last tick are stamped only now that its events are
    # committed (this cursor is the proof): at-least-once, never lost to a crashed tick.
    looked_at = json.loads(context.cursor or "{}")
    if isinstance(looked_at, list):  # the cursor before videos were reported
        looked_at = {"clips": looked_at}
    mark_reported(service, [_record_id(i) for i in looked_at.get("clips", [])])
    mark_videos_reported(service, [(_record_id(i), size)
                                   for i, size in looked_at.get("videos", [])])
    # A run's materialization lands just after its record: give it time to.
    made_before = datetime.now(UTC) - REPORT_LAG
    clips = unreported_clips(service, made_before, REPORT_PAGE_SIZE)
    videos = unreported_videos(service, VIDEO_SIZES, made_before, REPORT_PAGE_SIZE)
    events = _clip_events(context.instance, service, clips) + \
        _video_events(context.instance, service, videos)
    new_keys = _new_keys(context.instance, [e.partition for e in events])
    return dg.SensorResult(
        asset_events=events,
        dynamic_partitions_requests=(
            [audio_clips_partitions.build_add_request(new_keys)] if new_keys else []),
        cursor=json.dumps({"clips": [str(record["_id"]) for _, record in clips],
                           "videos": [[str(record["_id"]), size] for _, size, record in videos]}),
    )


def _clip_events(instance, service, found) -> list[dg.AssetMaterialization]:
    seen = _materialized_at(instance, audio_clips.key,
                            [spec.partition_key for spec, _ in found if spec])
    events = []
    for spec, record in found:
        if problem := clip_record_problem(record):
            reject_clip_record(service, record, problem)
            continue
        made = record.get("revived_at") or record["generated_at"]  # revived: retired, then used
        if seen.get(spec.partition_key, 0) >= made.timestamp():
            continue
        clip = service.find_clip(spec, confirm=False)
        if clip is None:
            continue
        events.append(dg.AssetMaterialization(
            asset_key=audio_clips.key, partition=spec.partition_key,
            metadata={**clip_metadata(clip), "reused_existing_clip": False,
                      "bytes_read_from_source": record.get("bytes_read", 0),
                      "strategy": record.get("strategy") or "unknown",
                      "made_by": record.get("requested_by") or "unknown"},
            tags=code_version_tags(audio_clips),
        ))
    return events


def _video_events(instance, service, found) -> list[dg.AssetMaterialization]:
    """One event per partition, carrying every size found for it."""
    seen = _materialized_at(instance, clip_videos.key,
                            [spec.partition_key for spec, _, _ in found if spec])
    metadata: dict[str, dict] = defaultdict(dict)
    for spec, size, record in found:
        stored = record["videos"][size]
        if problem := clip_record_problem(record) or video_entry_problem(stored):
            reject_video(service, record, size, problem)
            continue
        if seen.get(spec.partition_key, 0) >= stored["generated_at"].timestamp():
            continue
        video = find_video(service, spec, size, record)
        if video is not None:
            metadata[spec.partition_key].update(
                {**video_metadata(video), "made_by": stored.get("made_by") or "unknown"})
    return [dg.AssetMaterialization(asset_key=clip_videos.key, partition=key, metadata=meta,
                                    tags=code_version_tags(clip_videos))
            for key, meta in metadata.items()]
