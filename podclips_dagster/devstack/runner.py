"""`podclips dev`: the whole local stack in the foreground.

Dagster runs as in production (devstack/dagster_processes.py): a code server, the
webserver and `podclips-daemon`. Ctrl-C, SIGTERM (to it or its process group) or
SIGHUP stops all of it: those and what they started (run workers), uvicorn, and
the embedded MongoDB-protocol server it started (one left by an earlier CLI call
is not its to stop).
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil

from podclips_dagster.config import Settings
from podclips_dagster.devstack.dagster_processes import (
    CodeServer,
    CodeServerFailed,
    start_code_server,
    start_daemon,
    start_webserver,
    stop_code_server,
)
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
from podclips_dagster.devstack.process_tree import become_subreaper, descendants, stop_tree

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


# Each child gets this long after SIGTERM before its process group is SIGKILLed; the
# webserver and the daemon stop in a few seconds when they stop at all.
GRACE_SECONDS = 15.0
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class _Stopping:
    """Ctrl-C, SIGTERM or SIGHUP (a closed terminal) stops the stack; a second one, while
    it stops, cuts the grace period short instead of leaving processes behind."""

    def __init__(self):
        self.requested = False
        self.hurry = threading.Event()

    def install(self) -> None:
        for sig in _STOP_SIGNALS:
            signal.signal(sig, self._on_signal)

    def _on_signal(self, signum, _frame):
        if self.requested:
            log.warning("stopping now (%s again)", signal.Signals(signum).name)
            self.hurry.set()
            return
        self.requested = True
        raise KeyboardInterrupt


def _stop(stopping: _Stopping, children: list[subprocess.Popen], code: CodeServer | None,
          own_mongo: EmbeddedMongo | None, home: Path) -> None:
    stopping.requested = True  # from here on a signal only hurries the stop
    # The API and Dagster first (they use MongoDB; the code server after its clients), then
    # MongoDB, then anything left.
    stop_tree([p for p in map(_process, children) if p], GRACE_SECONDS, stopping.hurry)
    for child in children:
        child.poll()  # reap
    if code:
        stop_code_server(code)
    if own_mongo:
        own_mongo.stop()
        stop_embedded_mongo(home)
    stop_tree(descendants(), 2.0, stopping.hurry)


def _process(child: subprocess.Popen) -> psutil.Process | None:
    try:
        return psutil.Process(child.pid)
    except psutil.Error:
        return None


def run_dev(settings: Settings, host: str, dagster_port: int, api_port: int, seed: bool,
            postgres: bool = False) -> int:
    stopping = _Stopping()
    stopping.install()
    become_subreaper()  # what Dagster's processes leave behind stays ours to stop
    children: list[subprocess.Popen] = []
    own_mongo = pg = code = None
    try:
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
        if seed:
            from podclips_dagster.devstack.demo import seed_and_register

            seed_and_register(Settings.from_env(), count=None)
        # Each child leads its own process group, so stopping it stops what it started.
        children.append(subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--factory",
             "podclips_dagster.sidecar.app:create_app",
             "--host", host, "--port", str(api_port), "--log-level", "warning",
             "--no-proxy-headers"],  # client IPs for rate limits: the socket peer only
            env=env, start_new_session=True))
        code = start_code_server(env, Path(env["DAGSTER_HOME"]))  # waits until it serves
        children += [start_webserver(env, code, host, dagster_port), start_daemon(env, code)]
        log.info("Dagster UI: http://%s:%d   API: %s   data: %s", host, dagster_port, api_url,
                 settings.home)
        while all(child.poll() is None for child in [*children, code.process]):
            time.sleep(0.5)
        log.error("a component exited; stopping the stack")
        return 1
    except CodeServerFailed as error:
        log.error("%s; stopping the stack", error)
        return 1
    except KeyboardInterrupt:
        log.info("stopping")
        return 0
    finally:
        _stop(stopping, children, code, own_mongo, settings.home)
        if pg:
            pg.stop()
