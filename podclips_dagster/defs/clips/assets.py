"""Episodes and chunks (owned by the ingestion system) and the clips cut from them."""


from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor

import dagster as dg

from podclips_dagster.core.errors import PodclipsError
from podclips_dagster.core.requests import ClipRequests
from podclips_dagster.core.service import ClipResult
from podclips_dagster.core.spec import ClipSpec
from podclips_dagster.defs.clips.checks import clip_check_evaluation
from podclips_dagster.defs.clips.partitions import audio_clips_partitions
from podclips_dagster.defs.resources import ClipServiceResource

# Observed, never copied: they belong to the PodInsight ingestion system.
episode_metadata = dg.AssetSpec(
    "episode_metadata", group_name="catalogue", kinds={"mongodb"},
    description="Episodes in MongoDB `episode_metadata` (read only; owned by ingestion).",
)
transcript_chunks = dg.AssetSpec(
    "transcript_chunks", deps=[episode_metadata], group_name="catalogue", kinds={"mongodb"},
    description="Transcript chunks in MongoDB `transcript_chunks_768d` (read only).",
)

# FFmpeg is CPU-bound: cut as many clips at once as there are cores (2 here).
CUT_WORKERS = 2
MAX_PARTITIONS_PER_RUN = 25
# Who wanted the run's clips, recorded as the clip's `requested_by` ("precut" for the
# pre-cut schedule's runs, so pre-cuts can be told from clips made on demand).
SOURCE_TAG = "podclips/source"


class AudioClipsConfig(dg.Config):
    force: bool = False  # cut again even if the clip exists


def clip_metadata(result: ClipResult) -> dict:
    """What a person wants to see on a clip's materialization."""
    return {
        "audio_url": dg.MetadataValue.url(result.audio_url),
        "s3_url": result.s3_url,
        "episode_id": result.spec.episode_id,
        "chunk_index": result.spec.chunk_index,
        "start_time_s": result.start_time,
        "end_time_s": result.end_time,
        "duration_s": result.duration,
        "file_size_bytes": result.file_size_bytes,
        "bytes_read_from_source": result.bytes_read,
        "processing_time_ms": result.processing_time_ms,
        "reused_existing_clip": result.cached,
        "strategy": result.strategy or "existing",
    }


def _by_episode(keys: list[str]) -> list[list[ClipSpec]]:
    groups: dict[str, list[ClipSpec]] = defaultdict(list)
    for key in keys:
        spec = ClipSpec.from_partition_key(key)
        groups[spec.episode_id].append(spec)
    return list(groups.values())


@dg.asset(
    partitions_def=audio_clips_partitions,
    deps=[transcript_chunks],
    group_name="clips",
    kinds={"s3", "ffmpeg"},
    pool="ffmpeg",
    backfill_policy=dg.BackfillPolicy.multi_run(max_partitions_per_run=MAX_PARTITIONS_PER_RUN),
    output_required=False,
    description="One MP3 per clip, cut with FFmpeg from the episode's audio into the clips "
    "bucket and recorded in MongoDB `audio_clips`. Partition key: EPISODE_ID/CHUNK[/DURATIONs].",
)
def audio_clips(context: dg.AssetExecutionContext, config: AudioClipsConfig,
                clip_service: ClipServiceResource):
    service = clip_service.get_service()
    keys = list(context.partition_keys)
    requested_by = context.run.tags.get(SOURCE_TAG, "dagster")
    context.log.info("making %d clip(s) of %d episode(s)", len(keys), len(_by_episode(keys)))

    def make(spec: ClipSpec) -> tuple[ClipSpec, ClipResult | PodclipsError]:
        try:
            return spec, service.ensure_clip(spec.episode_id, spec.chunk_index,
                                             spec.duration_seconds, force=config.force,
                                             requested_by=requested_by, logger=context.log)
        except PodclipsError as err:
            return spec, err

    # On-demand requests for these clips close here, clip by clip (see defs/requests/sensors.py).
    requests = ClipRequests(service.db)
    run_key = context.run.tags.get("dagster/run_key")
    failures = []
    # Episodes in turn (one frame index read), the clips of one episode concurrently.
    with ThreadPoolExecutor(max_workers=CUT_WORKERS) as pool:
        for group in _by_episode(keys):
            for spec, outcome in pool.map(make, group):
                requests.settle(spec, outcome, run_key=run_key, run_id=context.run.run_id)
                if isinstance(outcome, PodclipsError):
                    context.log.error("%s: %s", spec.partition_key, outcome.message)
                    failures.append(f"{spec.partition_key}: {outcome.message}")
                    continue
                yield dg.AssetMaterialization(
                    asset_key=context.asset_key, partition=spec.partition_key,
                    metadata=clip_metadata(outcome),
                )
                context.log_event(
                    clip_check_evaluation(service, context.asset_key, spec.partition_key))
    if failures:
        raise dg.Failure(
            description=f"{len(failures)} of {len(keys)} clip(s) failed: " + "; ".join(failures),
            allow_retries=False,
        )
