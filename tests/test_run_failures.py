"""Failed runs are recorded by the run-failure sensor and shown by `podclips stats`."""

import json

import dagster as dg

from podclips_dagster.cli import main
from podclips_dagster.core.spec import ClipSpec
from podclips_dagster.defs.clips.assets import audio_clips
from podclips_dagster.defs.clips.registration import register_clip_partitions
from podclips_dagster.defs.run_failures.sensors import record_run_failures


def test_a_failed_run_is_recorded_and_shown_by_stats(resource, seed_episode, settings,
                                                     monkeypatch, capsys):
    seed_episode("ep-fails", audio=b"\x00not audio" * 1000)
    key = ClipSpec("ep-fails", 0).partition_key
    with dg.instance_for_test() as instance:
        register_clip_partitions(instance, [key])
        result = dg.materialize([audio_clips], instance=instance, partition_key=key,
                                resources={"clip_service": resource}, raise_on_error=False)
        assert not result.success
        context = dg.build_run_status_sensor_context(
            sensor_name=record_run_failures.name, dagster_instance=instance,
            dagster_run=result.dagster_run, dagster_event=result.get_run_failure_event(),
            resources={"clip_service": resource},
        ).for_run_failure()
        record_run_failures(context)
        record_run_failures(context)  # a tick evaluated again records the run once

    monkeypatch.setenv("MONGODB_URI", settings.mongodb_uri)
    monkeypatch.setenv("MONGODB_DB", settings.mongodb_db)
    assert main(["stats", "--hours", "1"]) == 0
    (failure,) = json.loads(capsys.readouterr().out)["recent_run_failures"]
    assert failure["run_id"] == result.run_id and failure["job_name"] == result.job_def.name
    (step,) = failure["steps"]
    assert step["step"] == "audio_clips" and key in step["error"]
    assert failure["tags"]["dagster/partition"] == key
