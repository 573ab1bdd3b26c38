"""Run sensors as the daemon does, on a real instance: evaluate, then apply the result."""

from __future__ import annotations

import dagster as dg

from podclips_dagster.defs.clips.assets import audio_clips
from podclips_dagster.defs.clips.jobs import audio_clips_job
from podclips_dagster.defs.resources import ClipServiceResource


def resource_for(settings) -> ClipServiceResource:
    return ClipServiceResource(
        mongodb_uri=settings.mongodb_uri, mongodb_db=settings.mongodb_db, storage="s3",
        s3_endpoint_url=settings.s3_endpoint_url, source_bucket=settings.source_bucket,
        clips_bucket=settings.clips_bucket,
    )


def tick(sensor, instance, resource, cursor=None):
    context = dg.build_sensor_context(instance=instance, cursor=cursor,
                                      resources={"clip_service": resource})
    return sensor(context)


def register(instance, result: dg.SensorResult) -> list[str]:
    """Apply the result's partition requests; returns the keys added."""
    added = []
    for request in result.dynamic_partitions_requests:
        existing = set(instance.get_dynamic_partitions(request.partitions_def_name))
        new = [k for k in request.partition_keys if k not in existing]
        instance.add_dynamic_partitions(request.partitions_def_name, new)
        added += new
    return added


def launch(instance, resource, result: dg.SensorResult, sensor_name="clip_request_sensor"):
    """Register partitions, report events, then execute each requested run in process."""
    register(instance, result)
    for event in result.asset_events:
        instance.report_runless_asset_event(event)
    job = dg.Definitions(assets=[audio_clips], jobs=[audio_clips_job],
                         resources={"clip_service": resource}).resolve_job_def("audio_clips_job")
    outcomes = []
    for request in result.run_requests:
        tags = {**request.tags, "dagster/run_key": request.run_key,
                "dagster/sensor_name": sensor_name}
        outcomes.append(job.execute_in_process(instance=instance, tags=tags,
                                               partition_key=request.partition_key,
                                               raise_on_error=False))
    return outcomes


def keys_of(instance, request: dg.RunRequest) -> list[str]:
    """The partitions a run request covers once its partitions are registered."""
    if request.partition_key:
        return [request.partition_key]
    keys = instance.get_dynamic_partitions("audio_clips")
    start = keys.index(request.tags["dagster/asset_partition_range_start"])
    end = keys.index(request.tags["dagster/asset_partition_range_end"])
    return keys[start:end + 1]
