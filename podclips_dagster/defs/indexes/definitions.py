"""The indexes domain: each episode's frame index, layout or sample table."""

import dagster as dg

from podclips_dagster.defs.indexes.assets import audio_frame_indexes
from podclips_dagster.defs.indexes.jobs import (
    audio_frame_indexes_job,
    register_episode_partitions_job,
)

defs = dg.Definitions(assets=[audio_frame_indexes],
                      jobs=[audio_frame_indexes_job, register_episode_partitions_job])
