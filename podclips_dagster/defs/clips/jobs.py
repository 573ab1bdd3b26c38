"""Jobs over the clip partitions."""

import dagster as dg

from podclips_dagster.defs.clips.assets import audio_clips

# In-process: a multiprocess run costs seconds to start, longer than most cuts.
audio_clips_job = dg.define_asset_job(
    "audio_clips_job",
    # The asset logs each clip's check itself; a separate check step would see one partition.
    selection=dg.AssetSelection.assets(audio_clips).without_checks(),
    executor_def=dg.in_process_executor,
    description="Cut the clips of the given partitions (several per run).",
)
