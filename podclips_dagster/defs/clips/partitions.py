"""One partition per clip someone wants; shared by the asset, checks and sensors."""

import dagster as dg

AUDIO_CLIPS_PARTITIONS_NAME = "audio_clips"

audio_clips_partitions = dg.DynamicPartitionsDefinition(name=AUDIO_CLIPS_PARTITIONS_NAME)
