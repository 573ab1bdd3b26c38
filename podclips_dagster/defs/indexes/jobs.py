"""Jobs over the episode partitions: index new episodes (launched by the new-episode
sensor), and register the back catalogue so it can be backfilled from the UI."""

import hashlib

import dagster as dg

from podclips_dagster.core.episode_indexes import catalogue_episode_ids
from podclips_dagster.core.spec import episode_partition_key
from podclips_dagster.defs.indexes.assets import MAX_EPISODES_PER_RUN, audio_frame_indexes
from podclips_dagster.defs.indexes.partitions import AUDIO_FRAME_INDEXES_PARTITIONS_NAME
from podclips_dagster.defs.requests.batches import RANGE_END_TAG, RANGE_START_TAG
from podclips_dagster.defs.resources import ClipServiceResource

audio_frame_indexes_job = dg.define_asset_job(
    "audio_frame_indexes_job", selection=[audio_frame_indexes],
    executor_def=dg.in_process_executor,
    description="Index the audio of the given episodes (several per run).",
)


def index_runs(instance, episode_ids: list[str]) -> tuple[list[dg.RunRequest], list[str]]:
    """(runs indexing the episodes not indexed yet, their partition keys to register first).

    Keys registered now are appended in this order, so each run is one key range."""
    registered = set(instance.get_dynamic_partitions(AUDIO_FRAME_INDEXES_PARTITIONS_NAME))
    keys = [k for k in dict.fromkeys(map(episode_partition_key, episode_ids))
            if k not in registered]
    runs = []
    for at in range(0, len(keys), MAX_EPISODES_PER_RUN):
        batch = keys[at:at + MAX_EPISODES_PER_RUN]
        digest = hashlib.sha256("\n".join(batch).encode()).hexdigest()[:16]
        common = dict(run_key=f"index-{digest}", job_name=audio_frame_indexes_job.name)
        runs.append(dg.RunRequest(partition_key=batch[0], **common) if len(batch) == 1 else
                    dg.RunRequest(tags={RANGE_START_TAG: batch[0], RANGE_END_TAG: batch[-1]},
                                  **common))
    return runs, keys


@dg.op(description="Add a partition of audio_frame_indexes for every catalogue episode "
       "that has none.")
def register_catalogue_episodes(context: dg.OpExecutionContext,
                                clip_service: ClipServiceResource) -> None:
    registered = set(context.instance.get_dynamic_partitions(AUDIO_FRAME_INDEXES_PARTITIONS_NAME))
    keys = [key for key in dict.fromkeys(map(episode_partition_key,
                                             catalogue_episode_ids(clip_service.get_service())))
            if key not in registered]
    context.instance.add_dynamic_partitions(AUDIO_FRAME_INDEXES_PARTITIONS_NAME, keys)
    context.log.info("registered %d episode partition(s); %d were there already", len(keys),
                     len(registered))


@dg.job(description="Register every catalogue episode as a partition of audio_frame_indexes; "
        "then backfill those partitions from the UI to index the back catalogue.")
def register_episode_partitions_job():
    register_catalogue_episodes()
