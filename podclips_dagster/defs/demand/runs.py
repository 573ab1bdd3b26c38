"""Runs of `audio_clips_job` for pre-cut clips: few runs, whole episodes, low priority."""

import hashlib

import dagster as dg

from podclips_dagster.core.demand.online.precut import PRECUT_SOURCE
from podclips_dagster.core.spec import ClipSpec
from podclips_dagster.defs.clips.assets import MAX_PARTITIONS_PER_RUN, SOURCE_TAG
from podclips_dagster.defs.clips.partitions import AUDIO_CLIPS_PARTITIONS_NAME
from podclips_dagster.defs.requests.batches import RANGE_END_TAG, RANGE_START_TAG, plan_batches

# Queued behind on-demand runs (priority 0): nobody is waiting for a pre-cut.
PRECUT_RUN_TAGS = {SOURCE_TAG: PRECUT_SOURCE, "dagster/priority": "-1"}


def precut_runs(instance, clips: list[ClipSpec],
                   run_key_prefix: str) -> tuple[list[dg.RunRequest], list[str]]:
    """(run requests, partition keys to register before they launch, in that order).

    A multi-partition run is a key range in registration order, so new keys are
    registered episode by episode and each run covers one contiguous range
    (the same batching as the on-demand sensor).
    """
    keys = [ClipSpec(*clip).partition_key for clip in clips]
    registered = instance.get_dynamic_partitions(AUDIO_CLIPS_PARTITIONS_NAME)
    batches, to_register = plan_batches({key: [] for key in keys}, registered,
                                        MAX_PARTITIONS_PER_RUN)
    return [_run_request(batch.keys, run_key_prefix) for batch in batches], to_register


def _run_request(keys: list[str], prefix: str) -> dg.RunRequest:
    # From the keys: a re-evaluated tick asks for the same runs, which Dagster launches once.
    digest = hashlib.sha256("\n".join(keys).encode()).hexdigest()[:16]
    run_key = f"{prefix}-{digest}"
    if len(keys) == 1:
        return dg.RunRequest(run_key=run_key, partition_key=keys[0], tags=PRECUT_RUN_TAGS)
    return dg.RunRequest(run_key=run_key, tags={**PRECUT_RUN_TAGS, RANGE_START_TAG: keys[0],
                                                 RANGE_END_TAG: keys[-1]})
