"""The podclips code location: `workspace.yaml` loads `defs` from here.

Loading touches no network: resources connect on first use.
"""

import dagster as dg

from podclips_dagster.defs.clips.assets import audio_clips, episode_metadata, transcript_chunks
from podclips_dagster.defs.clips.checks import clip_object_matches_record
from podclips_dagster.defs.clips.jobs import audio_clips_job
from podclips_dagster.defs.resources import ClipServiceResource

defs = dg.Definitions(
    assets=[episode_metadata, transcript_chunks, audio_clips],
    asset_checks=[clip_object_matches_record],
    jobs=[audio_clips_job],
    resources={"clip_service": ClipServiceResource()},
    executor=dg.in_process_executor,
)
