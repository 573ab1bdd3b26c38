"""Episodes and chunks (owned by the ingestion system) and the clips cut from them."""


import logging
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor, as_completed

import dagster as dg

from podclips_dagster.core.audio.cutter import CUTTER_VERSION
from podclips_dagster.core.errors import PodclipsError
from podclips_dagster.core.requests import ClipRequests
from podclips_dagster.core.service import ClipResult
from podclips_dagster.core.spec import ClipSpec
from podclips_dagster.defs.clips.checks import made_clip_check_evaluation
from podclips_dagster.defs.clips.partitions import audio_clips_partitions
from podclips_dagster.defs.code_versions import code_version_tags
from podclips_dagster.defs.failures import TRANSIENT_RETRY_POLICY, partitions_failed, will_retry
from podclips_dagster.defs.ownership import INGESTION_OWNERS, OWNERS, domain
from podclips_dagster.defs.resources import ClipServiceResource

# Observed, never copied: they belong to the PodInsight ingestion system.
episode_metadata = dg.AssetSpec(
    "episode_metadata", group_name="catalogue", kinds={"mongodb"},
    owners=INGESTION_OWNERS, tags=domain("catalogue"),
    description="Episodes in MongoDB `episode_metadata` (read only; owned by ingestion).",
)
transcript_chunks = dg.AssetSpec(
    "transcript_chunks", deps=[episode_metadata], group_name="catalogue", kinds={"mongodb"},
    owners=INGESTION_OWNERS, tags=domain("catalogue"),
    description="Transcript chunks in MongoDB `transcript_chunks_768d` (read only).",
)

# FFmpeg is CPU-bound: cut as many clips at once as there are cores (2 here).
CUT_WORKERS = 2
# Sensor and schedule batches: small runs, so an on-demand clip never waits long for a slot.
MAX_PARTITIONS_PER_RUN = 25
# Backfills: a run pays ~3 s before its first cut (queue, process start, importing Dagster and
# the definitions) and the daemon writes a planned event per partition first; 200 clips (~30 s
# of cutting on 2 cores) keep that near a tenth, while an on-demand run queued behind a
# backfill waits at most one such step (benchmarks/backfill_throughput.py).
BACKFILL_PARTITIONS_PER_RUN = 200
# Who wanted the run's clips, recorded as the clip's `requested_by` ("precut" for the
# pre-cut schedule's runs, so pre-cuts can be told from clips made on demand).
SOURCE_TAG = "podclips/source"
# Per-clip lines ("cutting ...", "stored ...") stay out of the event log, where each would be
# one more event write per partition: they go to Python logging (warnings reach the run's
# captured stderr), and the clip's materialization metadata carries what they said.
clip_log = logging.getLogger("podclips.audio_clips")


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


def _by_episode(keys: list[str]) -> list[ClipSpec]:
    """The clips, an episode's together (episodes in first-seen order)."""
    groups: dict[str, list[ClipSpec]] = defaultdict(list)
    for key in keys:
        spec = ClipSpec.from_partition_key(key)
        groups[spec.episode_id].append(spec)
    return [spec for group in groups.values() for spec in group]


@dg.asset(
    partitions_def=audio_clips_partitions,
    deps=[transcript_chunks],
    group_name="clips",
    kinds={"s3", "ffmpeg"},
    owners=OWNERS,
    tags=domain("clips"),
    code_version=CUTTER_VERSION,
    pool="ffmpeg",
    retry_policy=TRANSIENT_RETRY_POLICY,
    backfill_policy=dg.BackfillPolicy.multi_run(
        max_partitions_per_run=BACKFILL_PARTITIONS_PER_RUN),
    output_required=False,
    description="One MP3 per clip, cut with FFmpeg from the episode's audio into the clips "
    "bucket and recorded in MongoDB `audio_clips`. Partition key: EPISODE_ID/CHUNK[/DURATIONs].",
)
def audio_clips(context: dg.AssetExecutionContext, config: AudioClipsConfig,
                clip_service: ClipServiceResource):
    service = clip_service.get_service()
    specs = _by_episode(list(context.partition_keys))
    requested_by = context.run.tags.get(SOURCE_TAG, "dagster")
    began = time.perf_counter()

    def make(spec: ClipSpec) -> ClipResult | PodclipsError:
        try:
            return service.ensure_clip(spec.episode_id, spec.chunk_index,
                                       spec.duration_seconds, force=config.force,
                                       requested_by=requested_by, logger=clip_log)
        except PodclipsError as err:
            return err

    # On-demand requests for these clips close here, clip by clip (see defs/requests/sensors.py).
    requests = ClipRequests(service.db)
    run_key = context.run.tags.get("dagster/run_key")
    failures: dict[str, PodclipsError] = {}
    # One queue over every clip of the run, across episodes: no worker idles at the end of
    # an episode. A failed clip does not stop the others; the step fails at the end, naming it.
    with ThreadPoolExecutor(max_workers=CUT_WORKERS) as pool:
        futures = {pool.submit(make, spec): spec for spec in specs}
        for future in as_completed(futures):
            spec, outcome = futures[future], future.result()
            if isinstance(outcome, PodclipsError):
                context.log.error("%s: %s", spec.partition_key, outcome.message)
                failures[spec.partition_key] = outcome
                if will_retry(context, outcome):
                    continue  # its requests stay queued: the step's retry settles them
            requests.settle(spec, outcome, run_key=run_key, run_id=context.run.run_id)
            if isinstance(outcome, PodclipsError):
                continue
            yield dg.AssetMaterialization(
                asset_key=context.asset_key, partition=spec.partition_key,
                metadata=clip_metadata(outcome), tags=code_version_tags(context.assets_def),
            )
            yield made_clip_check_evaluation(context.asset_key, outcome)
    context.log.info("made %d of %d clip(s) of %d episode(s) in %.1f s",
                     len(specs) - len(failures), len(specs),
                     len({s.episode_id for s in specs}), time.perf_counter() - began)
    if failures:
        raise partitions_failed(failures, len(specs), "clip(s)")
