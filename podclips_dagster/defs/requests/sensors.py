"""Sensors: on-demand requests become clip runs, and every clip and video shows up in Dagster.

Closing the loop: the `audio_clips` asset settles the requests of each clip
as soon as it is cut or fails (`ClipRequests.settle`), so a requester sees
`done` without waiting for another sensor tick, and a failure carries that
clip's own typed error rather than the whole run's. What the asset cannot
report (its run died, never started, or could not reach MongoDB) the
`clip_request_watchdog` finds from the run's status.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import dagster as dg
from bson import ObjectId

from podclips_dagster.core.media.audiogram import VIDEO_SIZES
from podclips_dagster.core.media.videos import find_video
from podclips_dagster.core.record_shapes import (
    clip_record_problem,
    queued_request_problem,
    video_entry_problem,
)
from podclips_dagster.core.reporting import (
    mark_reported,
    mark_videos_reported,
    reject_clip_record,
    reject_video,
    unreported_clips,
    unreported_videos,
)
from podclips_dagster.core.request_triage import triage
from podclips_dagster.core.requests import QUEUED, ClipRequests
from podclips_dagster.core.spec import ClipSpec
from podclips_dagster.defs.clips.assets import MAX_PARTITIONS_PER_RUN, audio_clips, clip_metadata
from podclips_dagster.defs.clips.jobs import audio_clips_job
from podclips_dagster.defs.clips.partitions import (
    AUDIO_CLIPS_PARTITIONS_NAME,
    audio_clips_partitions,
)
from podclips_dagster.defs.media.assets import clip_videos, video_metadata
from podclips_dagster.defs.requests.batches import Batch, plan_batches
from podclips_dagster.defs.resources import ClipServiceResource

RUN_KEY_TAG = "dagster/run_key"
# A page of 500 is 1-3 s of work on SecantusDB with 10,000 requests waiting: far under
# the 60 s tick limit; the rest wait for the next tick.
PAGE_SIZE = 500
MAX_RUNS_PER_TICK = 40
REPORT_PAGE_SIZE = 200
REPORT_LAG = timedelta(seconds=30)
# A run normally settles its requests within seconds of being queued.
LAUNCH_GRACE = timedelta(seconds=60)
STUCK_AFTER = timedelta(minutes=15)


def _new_keys(instance, keys: list[str]) -> list[str]:
    registered = set(instance.get_dynamic_partitions(AUDIO_CLIPS_PARTITIONS_NAME))
    return [key for key in dict.fromkeys(keys) if key not in registered]


def _record_id(text: str):
    return ObjectId(text) if ObjectId.is_valid(text) else text


def _claim(store: ClipRequests, batch: Batch) -> Batch | None:
    """The batch as far as this tick won its requests (another claimer may take some)."""
    if store.claim(batch.request_ids, batch.run_key) == len(batch.request_ids):
        return batch
    keys = store.claimed_keys(batch.run_key)
    return batch.only(keys) if keys else None


def _confirm_launches(instance, store: ClipRequests, run_keys: list[str]) -> None:
    """Record the run ids of the last tick's runs; requests whose run never came are retried."""
    for run_key in run_keys:
        runs = instance.get_runs(filters=dg.RunsFilter(tags={RUN_KEY_TAG: run_key}), limit=1)
        if runs:
            store.record_run(run_key, runs[0].run_id)
        else:
            store.requeue_or_fail({"run_key": run_key}, f"Dagster launched no run for {run_key}",
                                  "run_not_launched")


# The daemon visits sensors every 5 s at most (its loop); asking for 2 s means every visit.
@dg.sensor(
    job=audio_clips_job, minimum_interval_seconds=2,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Turns pending MongoDB clip_requests into audio_clips runs: registers the "
    "partitions they need, one run per batch of up to 25 clips grouped by episode.",
)
def clip_request_sensor(context: dg.SensorEvaluationContext,
                        clip_service: ClipServiceResource) -> dg.SensorResult:
    service = clip_service.get_service()
    store = ClipRequests(service.db)
    store.ensure_indexes()
    # The request's status is the queue (pending -> queued is claimed by a conditional
    # update), so the cursor holds only the run keys of the last tick, to confirm them.
    _confirm_launches(context.instance, store, json.loads(context.cursor or "[]"))

    wanted = triage(service, store, store.pending_page(PAGE_SIZE))
    registered = context.instance.get_dynamic_partitions(AUDIO_CLIPS_PARTITIONS_NAME)
    batches, to_register = plan_batches(wanted, registered, MAX_PARTITIONS_PER_RUN)
    # Batches past the cap stay pending, oldest first in the next tick's page.
    launched = [b for b in (_claim(store, b) for b in batches[:MAX_RUNS_PER_TICK]) if b]
    launched_keys = {key for batch in launched for key in batch.keys}
    new_keys = [key for key in to_register if key in launched_keys]
    if launched:  # an idle tick every 5 s would bury the log
        context.log.info("%d request(s) -> %d run(s), %d new partition(s)",
                         sum(len(b.request_ids) for b in launched), len(launched), len(new_keys))
    return dg.SensorResult(
        run_requests=[batch.run_request() for batch in launched],
        dynamic_partitions_requests=(
            [audio_clips_partitions.build_add_request(new_keys)] if new_keys else []),
        cursor=json.dumps([batch.run_key for batch in launched]),
    )


@dg.sensor(
    minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.RUNNING,
    description="Closes clip requests whose run died, never started, or is stuck: the clip "
    "exists -> done; else back to pending, up to 3 attempts, then failed.",
)
def clip_request_watchdog(context: dg.SensorEvaluationContext,
                          clip_service: ClipServiceResource) -> dg.SkipReason:
    service = clip_service.get_service()
    store = ClipRequests(service.db)
    now = datetime.now(UTC)
    by_run_key: dict[str, list[dict]] = defaultdict(list)
    for doc in store.queued_older_than(now - LAUNCH_GRACE, limit=PAGE_SIZE):
        if problem := queued_request_problem(doc):
            store.reject(doc["_id"], problem, expected=QUEUED)
            continue
        by_run_key[doc["run_key"]].append(doc)
    closed = 0
    for run_key, docs in by_run_key.items():
        runs = context.instance.get_runs(filters=dg.RunsFilter(tags={RUN_KEY_TAG: run_key}),
                                         limit=1)
        run = runs[0] if runs else None
        oldest = min(doc["queued_at"] for doc in docs)
        if run is None:
            reason = f"no run was launched for {run_key}"
        elif run.is_finished:
            reason = f"run {run.run_id} ended {run.status.value} without making the clip"
        elif now - oldest > STUCK_AFTER:
            reason = f"run {run.run_id} is still {run.status.value} after {STUCK_AFTER}"
        else:
            continue
        for key in {doc["partition_key"] for doc in docs}:
            clip = service.find_clip(ClipSpec.from_partition_key(key))
            if clip is not None:  # made, but the run could not record it
                closed += store.settle_done(key, clip, run.run_id if run else None)
        closed += store.requeue_or_fail({"run_key": run_key}, reason, "run_lost",
                                        run_id=run.run_id if run else None)
    return dg.SkipReason(f"closed {closed} stuck request(s) of {len(by_run_key)} run(s)")


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
    return [dg.AssetMaterialization(asset_key=clip_videos.key, partition=key, metadata=meta)
            for key, meta in metadata.items()]
