"""Media made from clips: share assets (waveform + transcript) for every clip, videos on request.

Both are partitioned like `audio_clips` (one partition per clip).
`clip_share_assets` follows `audio_clips` by itself (eager automation: a
clip materialized, by a run or reported by the sidecar, gets its waveform
and transcript next). `clip_videos` has no automation: rendering costs
seconds of CPU per clip, so it runs only when someone asks (the UI,
`podclips video`, `POST /api/generate-video-clip`).
"""

from collections.abc import Callable

import dagster as dg

from podclips_dagster.core.errors import PodclipsError
from podclips_dagster.core.media.audiogram import AUDIOGRAM_VERSION, DEFAULT_VIDEO_SIZE, VIDEO_SIZES
from podclips_dagster.core.media.share_assets import SHARE_VERSION, ensure_share_assets
from podclips_dagster.core.media.videos import VideoResult, ensure_video
from podclips_dagster.core.reporting import MADE_BY_DAGSTER
from podclips_dagster.core.spec import ClipSpec
from podclips_dagster.defs.clips.assets import MAX_PARTITIONS_PER_RUN, audio_clips
from podclips_dagster.defs.clips.partitions import audio_clips_partitions
from podclips_dagster.defs.code_versions import code_version_tags
from podclips_dagster.defs.failures import TRANSIENT_RETRY_POLICY, partitions_failed
from podclips_dagster.defs.ownership import OWNERS, domain
from podclips_dagster.defs.resources import ClipServiceResource


class ShareAssetsConfig(dg.Config):
    force: bool = False  # remake even if current


class ClipVideosConfig(dg.Config):
    sizes: list[str] = [DEFAULT_VIDEO_SIZE]  # any of VIDEO_SIZES
    force: bool = False  # render again even if a current video exists


def video_metadata(video: VideoResult) -> dict:
    size = video.size
    return {
        f"video_{size}": dg.MetadataValue.url(video.video_url),
        f"render_time_ms_{size}": video.render_time_ms,
        f"file_size_bytes_{size}": video.file_size_bytes,
        f"duration_s_{size}": video.duration,
    }


def _each_partition(context, make: Callable[[ClipSpec], dict]):
    """Materialize every partition of the run; fail the step naming those that failed."""
    failures: dict[str, PodclipsError] = {}
    for key in context.partition_keys:
        try:
            metadata = make(ClipSpec.from_partition_key(key))
        except PodclipsError as err:
            context.log.error("%s: %s", key, err.message)
            failures[key] = err
            continue
        yield dg.AssetMaterialization(asset_key=context.asset_key, partition=key,
                                      metadata=metadata,
                                      tags=code_version_tags(context.assets_def))
    if failures:
        raise partitions_failed(failures, len(context.partition_keys))


@dg.asset(
    partitions_def=audio_clips_partitions,
    deps=[audio_clips],
    group_name="clips",
    kinds={"s3", "ffmpeg"},
    owners=OWNERS,
    tags=domain("media"),
    code_version=str(SHARE_VERSION),
    automation_condition=dg.AutomationCondition.eager(),
    backfill_policy=dg.BackfillPolicy.multi_run(max_partitions_per_run=MAX_PARTITIONS_PER_RUN),
    retry_policy=TRANSIENT_RETRY_POLICY,
    output_required=False,
    description="Waveform peaks (BBC audiowaveform JSON), a waveform PNG and the clip's "
    "transcript as WebVTT, stored beside each clip and recorded on its `audio_clips` document.",
)
def clip_share_assets(context: dg.AssetExecutionContext, config: ShareAssetsConfig,
                      clip_service: ClipServiceResource):
    service = clip_service.get_service()

    def make(spec: ClipSpec) -> dict:
        made = ensure_share_assets(service, spec, force=config.force)
        share, bucket = made.share, service.clips_bucket
        return {
            "waveform_png": dg.MetadataValue.url(bucket.url(made.key("waveform_png"))),
            "waveform_json": share["waveform_json"]["s3_url"],
            "transcript_vtt": share["transcript_vtt"]["s3_url"],
            "transcript_cues": share["transcript_cues"],
            "transcript_timing": share["transcript_timing"],
            "processing_time_ms": share["processing_time_ms"],
            "reused_existing": not made.created,
        }

    yield from _each_partition(context, make)


@dg.asset(
    partitions_def=audio_clips_partitions,
    deps=[audio_clips, clip_share_assets],
    group_name="clips",
    kinds={"s3", "ffmpeg"},
    owners=OWNERS,
    tags=domain("media"),
    code_version=AUDIOGRAM_VERSION,
    pool="ffmpeg",
    backfill_policy=dg.BackfillPolicy.multi_run(max_partitions_per_run=MAX_PARTITIONS_PER_RUN),
    retry_policy=TRANSIENT_RETRY_POLICY,
    output_required=False,
    description="Audiogram MP4s (H.264 + AAC; " + ", ".join(VIDEO_SIZES) + ") of a clip: "
    "animated waveform, title, burned-in captions. Made on request, not for every clip.",
)
def clip_videos(context: dg.AssetExecutionContext, config: ClipVideosConfig,
                clip_service: ClipServiceResource):
    service = clip_service.get_service()

    def make(spec: ClipSpec) -> dict:
        metadata = {}
        for size in config.sizes:
            metadata.update(video_metadata(ensure_video(service, spec, size, force=config.force,
                                                        made_by=MADE_BY_DAGSTER)))
        return metadata

    yield from _each_partition(context, make)
