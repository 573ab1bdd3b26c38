"""Register clip partitions on a Dagster instance outside a sensor (seeding, CLI)."""

from __future__ import annotations

from podclips_dagster.defs.clips.partitions import AUDIO_CLIPS_PARTITIONS_NAME


def missing_partition_keys(instance, keys: list[str]) -> list[str]:
    """Keys not yet registered, from one `get_dynamic_partitions` call (not one per key)."""
    existing = set(instance.get_dynamic_partitions(AUDIO_CLIPS_PARTITIONS_NAME))
    return [k for k in dict.fromkeys(keys) if k not in existing]


def register_clip_partitions(instance, keys: list[str]) -> list[str]:
    new = missing_partition_keys(instance, keys)
    if new:
        instance.add_dynamic_partitions(AUDIO_CLIPS_PARTITIONS_NAME, new)
    return new
