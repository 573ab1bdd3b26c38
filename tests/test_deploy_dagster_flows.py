"""The production instance at work on a real PostgreSQL: a daemon on deploy/dagster/dagster.yaml
(its ECS launcher swapped for the default one: no ECS here) takes an on-demand request to a
clip, and runs a multi-partition backfill; the runs and events are checked in PostgreSQL."""

from __future__ import annotations

import os
import time
import uuid
from types import SimpleNamespace

import boto3
import pymongo
import pytest

from benchmarks.on_demand import seed, wait_final
from podclips_dagster.config import Settings
from podclips_dagster.core.requests import ClipRequests, request_clip
from podclips_dagster.core.service import ClipService
from podclips_dagster.core.spec import ClipSpec
from podclips_dagster.devstack.dagster_processes import running_code_server, running_daemon
from podclips_dagster.devstack.postgres_server import create_dagster_schema, local_instance_yaml
from tests.postgres_fixtures import REPO, needs_postgres, sql

# One throwaway server for every PostgreSQL test module.
pytest_plugins = ["tests.postgres_fixtures"]

pytestmark = [needs_postgres, pytest.mark.slow]


@pytest.fixture(scope="module")
def stack(mongo_server, s3_server, postgres_server, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("production")
    suffix = uuid.uuid4().hex[:10]
    source, clips, logs = (f"{kind}-{suffix}" for kind in ("raw", "clips", "logs"))
    s3 = boto3.client("s3", endpoint_url=s3_server, region_name="us-east-1")
    for bucket in (source, clips, logs):
        s3.create_bucket(Bucket=bucket)
    dagster_home = tmp / "dagster"
    dagster_home.mkdir()
    # Compute logs stay as shipped (S3), sent to moto through boto3's endpoint variable.
    (dagster_home / "dagster.yaml").write_text(local_instance_yaml(keep_compute_logs=True))
    env = {"PODCLIPS_HOME": str(tmp / "home"), "MONGODB_URI": mongo_server.uri,
           "MONGODB_DB": f"prod_{suffix}", "PODCLIPS_STORAGE": "s3",
           "S3_ENDPOINT_URL": s3_server, "S3_SOURCE_BUCKET": source, "S3_CLIPS_BUCKET": clips,
           "DAGSTER_HOME": str(dagster_home),
           "DAGSTER_PG_URL": postgres_server.create_database(f"prod_{suffix}"),
           "DAGSTER_COMPUTE_LOGS_BUCKET": logs, "AWS_ENDPOINT_URL_S3": s3_server,
           "PYTHONPATH": str(REPO)}
    service = ClipService.from_settings(Settings.from_env(env))
    seed(service, ["prod-a", "prod-b"], tmp)
    saved = dict(os.environ)
    os.environ.update(env)  # this process's DagsterInstance reads the same variables
    from dagster import DagsterInstance

    create_dagster_schema(dagster_home)
    instance = DagsterInstance.get()
    log = tmp / "daemon.log"
    try:
        with running_code_server(dict(os.environ), tmp, log) as code, \
                running_daemon(dict(os.environ), code, log):
            yield SimpleNamespace(service=service, instance=instance, url=env["DAGSTER_PG_URL"],
                                  s3=s3, logs_bucket=logs, daemon_log=log)
            instance.dispose()
    finally:
        os.environ.clear()
        os.environ.update(saved)
        pymongo.MongoClient(mongo_server.uri).drop_database(env["MONGODB_DB"])


def _wait(condition, timeout: float, what: str, log):
    began = time.monotonic()
    while time.monotonic() - began < timeout:
        found = condition()
        if found:
            return found
        time.sleep(0.5)
    raise AssertionError(f"{what} within {timeout} s; daemon log:\n{log.read_text()[-3000:]}")


def _materialized(url: str, run_ids: list[str]) -> list[str]:
    rows = sql(url, "SELECT partition FROM event_logs WHERE run_id = ANY(%s) "
               "AND dagster_event_type = 'ASSET_MATERIALIZATION' AND asset_key = %s",
               run_ids, '["audio_clips"]')
    return sorted(row[0] for row in rows)


def test_a_request_becomes_a_clip_through_the_daemon_with_its_run_in_postgres(stack):
    service = stack.service
    spec = ClipSpec("prod-a", 3)
    request = request_clip(service, spec.episode_id, spec.chunk_index, 30,
                           source="test")
    (final,) = wait_final(ClipRequests(service.db), [request["_id"]], timeout=300)
    assert final["status"] == "done", final
    clip = service.find_clip(spec)  # confirms the object exists, not just the record
    assert clip is not None and service.records.find(spec) is not None

    run_sql = ("SELECT runs.run_id, runs.status FROM runs JOIN run_tags "
               "ON run_tags.run_id = runs.run_id "
               "WHERE run_tags.key = 'dagster/run_key' AND run_tags.value = %s")
    runs = _wait(lambda: [r for r in sql(stack.url, run_sql, final["run_key"])
                          if r[1] == "SUCCESS"], 60, "the run did not succeed", stack.daemon_log)
    assert runs == [(final["run_id"], "SUCCESS")]
    assert _materialized(stack.url, [final["run_id"]]) == [spec.partition_key]
    # The sensor tick that launched it is stored in PostgreSQL too.
    ticks = sql(stack.url, "SELECT count(*) FROM job_ticks WHERE type = 'SENSOR' "
                "AND status = 'SUCCESS' AND tick_body LIKE %s", f"%{final['run_id']}%")
    assert ticks == [(1,)]
    # The step's stdout/stderr went to the compute log bucket, under the run's id.
    logs = _wait(lambda: stack.s3.list_objects_v2(Bucket=stack.logs_bucket).get("Contents"),
                 60, "no compute log was uploaded", stack.daemon_log)
    assert any(final["run_id"] in obj["Key"] for obj in logs)


def test_a_multi_partition_backfill_runs_on_postgres(stack):
    import dagster as dg

    # Internal on purpose: Dagster has no public API that adds a backfill without a webserver
    # (the UI does it over GraphQL); what is under test is the daemon running it on Postgres.
    from dagster._core.execution.backfill import BulkActionStatus, PartitionBackfill

    from podclips_dagster.definitions import defs

    instance, service = stack.instance, stack.service
    keys = [ClipSpec("prod-b", chunk).partition_key for chunk in range(6)]
    instance.add_dynamic_partitions("audio_clips", keys)
    backfill_id = f"bf{uuid.uuid4().hex[:8]}"
    instance.add_backfill(PartitionBackfill.from_asset_partitions(
        backfill_id=backfill_id, asset_graph=defs.resolve_asset_graph(), partition_names=keys,
        asset_selection=[dg.AssetKey("audio_clips")], backfill_timestamp=time.time(), tags={},
        dynamic_partitions_store=instance, all_partitions=False, title=None, description=None,
        run_config=None))
    backfill = _wait(lambda: (b := instance.get_backfill(backfill_id)).status in (
        BulkActionStatus.COMPLETED_SUCCESS, BulkActionStatus.COMPLETED_FAILED,
        BulkActionStatus.FAILED) and b, 300, "the backfill did not finish", stack.daemon_log)
    assert backfill.status == BulkActionStatus.COMPLETED_SUCCESS

    runs = sql(stack.url, "SELECT runs.run_id, runs.status FROM runs JOIN run_tags "
               "ON run_tags.run_id = runs.run_id "
               "WHERE run_tags.key = 'dagster/backfill' AND run_tags.value = %s", backfill_id)
    # BackfillPolicy.multi_run: six partitions of one backfill are one run.
    assert len(runs) == 1 and runs[0][1] == "SUCCESS"
    assert _materialized(stack.url, [r[0] for r in runs]) == sorted(keys)
    assert sql(stack.url, "SELECT count(*) FROM dynamic_partitions "
               "WHERE partitions_def_name = 'audio_clips' AND partition = ANY(%s)",
               keys) == [(len(keys),)]
    assert all(service.find_clip(ClipSpec.from_partition_key(k)) for k in keys)
