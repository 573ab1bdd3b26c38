"""deploy/dagster/dagster.yaml on Dagster 1.13 and a real PostgreSQL: it loads as shipped,
its ECS launcher section passes the launcher's own config schema, and both URL forms work."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import dagster as dg
import pytest
import yaml
from dagster._config import process_config
from dagster_aws.ecs import EcsRunLauncher
from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage

from podclips_dagster.config import dagster_pg_url
from podclips_dagster.devstack.postgres_server import local_instance_yaml
from tests.postgres_fixtures import PRODUCTION_YAML, REPO, needs_postgres, sql

# One throwaway server for every PostgreSQL test module.
pytest_plugins = ["tests.postgres_fixtures"]

pytestmark = needs_postgres

# What the task definitions of template.yaml set for every Dagster process.
PRODUCTION_ENV = {"DAGSTER_RUN_TASK_DEFINITION":
                  "arn:aws:ecs:us-east-1:123456789012:task-definition/podclips-dagster-run:1",
                  "DAGSTER_COMPUTE_LOGS_BUCKET": "podclips-dagster-logs"}


@pytest.fixture
def production_env(monkeypatch, postgres_url):
    for name, value in {**PRODUCTION_ENV, "DAGSTER_PG_URL": postgres_url}.items():
        monkeypatch.setenv(name, value)
    return postgres_url


def _instance(home, text: str) -> dg.DagsterInstance:
    home.mkdir(exist_ok=True)
    (home / "dagster.yaml").write_text(text)
    return dg.DagsterInstance.from_config(str(home))


def test_the_production_yaml_loads_unchanged_with_storage_in_postgres(tmp_path, production_env):
    instance = _instance(tmp_path / "home", PRODUCTION_YAML.read_text())
    try:
        assert isinstance(instance.run_storage, PostgresRunStorage)
        assert isinstance(instance.event_log_storage, PostgresEventLogStorage)
        assert instance.run_retries_enabled and instance.run_retries_max_retries == 1
        assert instance.run_monitoring_enabled
        assert instance.get_concurrency_config().run_queue_config.max_concurrent_runs == 16
        # The launcher is built on first use, from the run task definition in ECS.
        launcher = instance.get_ref().run_launcher_data
        assert (launcher.module_name, launcher.class_name) == ("dagster_aws.ecs", "EcsRunLauncher")
        instance.add_dynamic_partitions("audio_clips", ["ep/1", "ep/2"])
    finally:
        instance.dispose()
    tables = {row[0] for row in sql(production_env, "SELECT tablename FROM pg_tables")}
    assert {"runs", "event_logs", "dynamic_partitions"} <= tables
    assert sql(production_env, "SELECT partition FROM dynamic_partitions "
               "WHERE partitions_def_name = 'audio_clips' ORDER BY id") == [("ep/1",), ("ep/2",)]


def test_the_ecs_launcher_section_passes_the_launchers_config_schema(monkeypatch):
    for name, value in PRODUCTION_ENV.items():
        monkeypatch.setenv(name, value)
    section = yaml.safe_load(PRODUCTION_YAML.read_text())["run_launcher"]
    assert (section["module"], section["class"]) == ("dagster_aws.ecs", "EcsRunLauncher")
    processed = process_config(EcsRunLauncher.config_type(), section["config"])
    assert processed.success, processed.errors
    config = processed.value
    # The launcher reads this env var itself (the daemon's task sets it to the run task
    # definition of template.yaml); without a task definition it would clone the daemon's.
    assert config["task_definition"] == {"env": "DAGSTER_RUN_TASK_DEFINITION"}
    assert config["container_name"] == "run" and config["use_current_ecs_task_config"]
    # The check is real: a misspelt field fails the same schema.
    broken = {**section["config"], "task_definiton": "x"}
    assert not process_config(EcsRunLauncher.config_type(), broken).success


def test_the_old_readme_yaml_no_longer_loads(tmp_path, production_env):
    """What the README used to show: the failure this file replaces."""
    old = textwrap.dedent("""\
        storage: {postgres: {postgres_url: {env: DAGSTER_PG_URL}}}
        run_coordinator:
          module: dagster.core.run_coordinator
          class: QueuedRunCoordinator
          config: {max_concurrent_runs: 8}
        concurrency: {pools: {default_limit: 2}}
        """)
    with pytest.raises(dg.DagsterInvalidConfigError, match="max_concurrent_runs"):
        _instance(tmp_path / "home", old)


def _container(env: dict, code: str) -> subprocess.CompletedProcess:
    """`python -m podclips_dagster.container python -c CODE`: the image's entrypoint."""
    return subprocess.run([sys.executable, "-m", "podclips_dagster.container", sys.executable,
                           "-c", code], env={**os.environ, **env}, cwd=REPO,
                          capture_output=True, text=True, timeout=120)


# Storing an event runs dagster-postgres's `NOTIFY run_events, ...`, the statement that
# fails when SQLAlchemy picks psycopg 3 for a bare postgresql:// URL.
STORE_AN_EVENT = textwrap.dedent("""\
    import dagster as dg
    instance = dg.DagsterInstance.get()
    instance.report_runless_asset_event(dg.AssetMaterialization("probe"))
    event = instance.get_latest_materialization_event(dg.AssetKey("probe"))
    print(event.asset_materialization.asset_key.path)
    """)


@pytest.mark.parametrize("scheme", ["postgresql+psycopg2", "postgresql"])
def test_both_url_forms_store_events_through_the_image_entrypoint(tmp_path, postgres_url, scheme):
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text(local_instance_yaml())
    url = postgres_url.replace("postgresql+psycopg2://", f"{scheme}://")
    done = _container({"DAGSTER_HOME": str(home), "DAGSTER_PG_URL": url}, STORE_AN_EVENT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "['probe']"
    assert sql(postgres_url, "SELECT count(*) FROM event_logs "
               "WHERE dagster_event_type = 'ASSET_MATERIALIZATION'") == [(1,)]


def test_a_url_of_another_driver_stops_the_entrypoint_with_the_reason(tmp_path):
    done = _container({"DAGSTER_PG_URL": "postgresql+psycopg://u@db/dagster"}, "print('ran')")
    assert done.returncode == 2 and "ran" not in done.stdout
    assert "DAGSTER_PG_URL" in done.stderr and "'postgresql+psycopg'" in done.stderr
    assert "Traceback" not in done.stderr


def test_dagster_pg_url_names_psycopg2():
    assert dagster_pg_url({}) is None
    for url in ("postgres://u:p@h:5432/d", "postgresql://u:p@h:5432/d",
                "postgresql+psycopg2://u:p@h:5432/d"):
        assert dagster_pg_url({"DAGSTER_PG_URL": url}) == "postgresql+psycopg2://u:p@h:5432/d"
    with pytest.raises(ValueError, match="DAGSTER_PG_URL"):
        dagster_pg_url({"DAGSTER_PG_URL": "h:5432/d"})
