"""One partition per episode whose audio is indexed; shared by the asset and the sensor."""

import dagster as dg

AUDIO_FRAME_INDEXES_PARTITIONS_NAME = "audio_frame_indexes"

episode_partitions = dg.DynamicPartitionsDefinition(name=AUDIO_FRAME_INDEXES_PARTITIONS_NAME)
