"""`podclips dev`: the whole local stack in the foreground; Ctrl-C stops all of it."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from podclips_dagster.config import Settings
from podclips_dagster.devstack.mongo_server import (
    EmbeddedMongo,
    embedded_mongo_uri,
    start_mongo,
    stop_embedded_mongo,
)
from podclips_dagster.devstack.postgres_server import (
    create_dagster_schema,
    local_instance_yaml,
    start_postgres,
)

log = logging.getLogger("podclips.dev")
REPO_ROOT = Path(__file__).resolve().parents[2]


def _start_mongo(settings: Settings) -> tuple[str, EmbeddedMongo | None]:
    if settings.mongodb_uri:
        return settings.mongodb_uri, None
    state = settings.home / "mongodb.json"
    if state.exists():  # a server left by an earlier CLI call owns the files: reuse it
        return embedded_mongo_uri(settings.home), None
    server = start_mongo(settings.embedded_mongo_dir)
    state.write_text(f'{{"port": {server.port}, "pid": {server.process.pid}}}')
    return server.uri, server


def prepare_dagster_home(settings: Settings, instance_yaml: str | None = None) -> Path:
    dagster_home = settings.home / "dagster"
    dagster_home.mkdir(parents=True, exist_ok=True)
    template = REPO_ROOT / "dagster.yaml"
    if instance_yaml is not None:
        (dagster_home / "dagster.yaml").write_text(instance_yaml)
    elif template.exists():
        shutil.copyfile(template, dagster_home / "dagster.yaml")
    return dagster_home


def _interrupt(*_):
    raise KeyboardInterrupt


def _signal_group(child: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(child.pid, sig)
    except ProcessLookupError:
        pass


def _stop(children: list[subprocess.Popen]) -> None:
    # SIGTERM works even where the shell made us ignore SIGINT (a background `&` job).
    for child in children:
        _signal_group(child, signal.SIGTERM)
    for child in children:
        try:
            child.wait(20)
        except subprocess.TimeoutExpired:
            pass
        _signal_group(child, signal.SIGKILL)


def run_dev(settings: Settings, host: str, dagster_port: int, api_port: int, seed: bool,
            postgres: bool = False) -> int:
    settings.home.mkdir(parents=True, exist_ok=True)
    uri, own_mongo = _start_mongo(settings)
    api_url = f"http://{host}:{api_port}"
    # --postgres: the production instance (deploy/dagster/dagster.yaml) minus ECS and S3.
    pg = start_postgres(settings.home / "postgres") if postgres else None
    env = {**os.environ, "MONGODB_URI": uri, "PODCLIPS_HOME": str(settings.home),
           "PODCLIPS_STORAGE": settings.storage, "PODCLIPS_API_URL": api_url,
           "DAGSTER_HOME": str(prepare_dagster_home(settings,
                                                    local_instance_yaml() if pg else None))}
    if pg:
        env["DAGSTER_PG_URL"] = pg.url
    os.environ.update(env)  # the seeding below runs in this process
    if pg:
        create_dagster_schema(Path(env["DAGSTER_HOME"]))
    children: list[subprocess.Popen] = []
    try:
        if seed:
            from podclips_dagster.devstack.demo import seed_and_register

            seed_and_register(Settings.from_env(), count=None)
        # Each child leads its own process group, so stopping it stops what it started
        # (dagster dev runs a webserver, a daemon and a code server).
        children.append(subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--factory",
             "podclips_dagster.sidecar.app:create_app",
             "--host", host, "--port", str(api_port), "--log-level", "warning",
             "--no-proxy-headers"],  # client IPs for rate limits: the socket peer only
            env=env, start_new_session=True))
        children.append(subprocess.Popen(
            [sys.executable, "-m", "dagster", "dev", "-m", "podclips_dagster.definitions",
             "-h", host, "-p", str(dagster_port)], env=env, cwd=settings.home,
            start_new_session=True))
        log.info("Dagster UI: http://%s:%d   API: %s   data: %s", host, dagster_port, api_url,
                 settings.home)
        signal.signal(signal.SIGTERM, _interrupt)
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
        log.error("a component exited; stopping the stack")
        return 1
    except KeyboardInterrupt:
        log.info("stopping")
        return 0
    finally:
        _stop(children)
        if pg:
            pg.stop()
        if own_mongo:
            own_mongo.stop()
            stop_embedded_mongo(settings.home)
