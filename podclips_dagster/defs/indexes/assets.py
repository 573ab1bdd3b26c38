"""`audio_frame_indexes`: the frame index, layout or sample table of each episode's audio."""

import dagster as dg

from podclips_dagster.core.audio.source_index import SOURCE_INDEX_VERSION
from podclips_dagster.core.episode_indexes import index_episode
from podclips_dagster.core.errors import PodclipsError
from podclips_dagster.core.spec import episode_id_from_partition_key
from podclips_dagster.defs.clips.assets import episode_metadata
from podclips_dagster.defs.code_versions import code_version_tags
from podclips_dagster.defs.failures import TRANSIENT_RETRY_POLICY, partitions_failed
from podclips_dagster.defs.indexes.partitions import episode_partitions
from podclips_dagster.defs.ownership import OWNERS, domain
from podclips_dagster.defs.resources import ClipServiceResource

# A VBR episode is streamed once to index it (173 MB for 3 h at 128k): a few per run.
MAX_EPISODES_PER_RUN = 10


class AudioFrameIndexesConfig(dg.Config):
    force: bool = False  # build again even if the index is stored


@dg.asset(
    partitions_def=episode_partitions,
    deps=[episode_metadata],
    group_name="clips",
    kinds={"s3", "mongodb"},
    owners=OWNERS,
    tags=domain("indexes"),
    code_version=SOURCE_INDEX_VERSION,
    backfill_policy=dg.BackfillPolicy.multi_run(max_partitions_per_run=MAX_EPISODES_PER_RUN),
    retry_policy=TRANSIENT_RETRY_POLICY,
    output_required=False,
    description="Per episode: what cuts of its audio need, stored in MongoDB "
    "`audio_frame_indexes` per object version: the frame index of a VBR MP3, the layout of a "
    "CBR MP3 or the sample table of an M4A. Built when the episode arrives, so its first "
    "clip reads only its window. Partition key: the episode id (escaped as in clip keys).",
)
def audio_frame_indexes(context: dg.AssetExecutionContext, config: AudioFrameIndexesConfig,
                        clip_service: ClipServiceResource):
    service = clip_service.get_service()
    failures: dict[str, PodclipsError] = {}
    for key in context.partition_keys:
        try:
            summary = index_episode(service, episode_id_from_partition_key(key),
                                    force=config.force)
        except PodclipsError as err:
            context.log.error("%s: %s", key, err.message)
            failures[key] = err
            continue
        context.log.info("%s: %s (%d entries, %d bytes read)", key, summary["kind"],
                         summary["entries"], summary["bytes_read"])
        yield dg.AssetMaterialization(asset_key=context.asset_key, partition=key,
                                      metadata=summary,
                                      tags=code_version_tags(context.assets_def))
    if failures:
        raise partitions_failed(failures, len(context.partition_keys), "episode(s)")
