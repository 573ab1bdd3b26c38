"""Share assets follow clips: evaluates `clip_share_assets`' eager automation condition.

Its own sensor, running by default, rather than Dagster's default automation
sensor (stopped until someone starts it): every clip should get its waveform
and transcript without a person turning anything on.
"""

import dagster as dg

share_assets_follow_clips = dg.AutomationConditionSensorDefinition(
    "share_assets_follow_clips",
    target=dg.AssetSelection.assets("clip_share_assets"),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
    description="Makes the waveform and transcript of each clip soon after it is cut.",
)
