"""The clips domain: the catalogue it reads, the clips it cuts, their check and job."""

import dagster as dg

from podclips_dagster.defs.clips.assets import audio_clips, episode_metadata, transcript_chunks
from podclips_dagster.defs.clips.checks import clip_object_matches_record
from podclips_dagster.defs.clips.jobs import audio_clips_job

defs = dg.Definitions(
    assets=[episode_metadata, transcript_chunks, audio_clips],
    asset_checks=[clip_object_matches_record],
    jobs=[audio_clips_job],
)
