"""The Dagster processes of the local stack, laid out as production runs them
(deploy/dagster): one code server, and a webserver and `podclips-daemon` that reach it
over gRPC through a workspace file.

`dagster dev` would run the same three, but with Dagster's own daemon, which looks
at backfills every 30 s (see podclips_dagster/daemon.py).
"""

from __future__ import annotations

import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil
from dagster._core.errors import DagsterUserCodeUnreachableError
from dagster._grpc.client import DagsterGrpcClient

from podclips_dagster.devstack.mongo_server import free_port, port_open
from podclips_dagster.devstack.process_tree import descendants, stop_tree

DEFINITIONS_MODULE = "podclips_dagster.definitions"
# The name `dagster dev -m` gave the location: sensor and schedule states of an existing
# PODCLIPS_HOME are kept under it.
LOCATION_NAME = DEFINITIONS_MODULE
CODE_SERVER_START_TIMEOUT_S = 180.0
# A code server is asked to shut down over gRPC: on SIGTERM it printed a KeyboardInterrupt
# traceback and did not exit. It holds no state: whatever is left after this long is stopped.
CODE_SERVER_GRACE_S = 2.0


class CodeServerFailed(RuntimeError):
    """The code server exited or did not serve in time (its output says why)."""


@dataclass(frozen=True)
class CodeServer:
    process: subprocess.Popen
    port: int
    workspace: Path  # the workspace file that names it, for the webserver and the daemon


def start_code_server(env: dict, workdir: Path, log=None) -> CodeServer:
    """Start the code server and wait until it serves; `workdir` gets its workspace file."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "dagster", "code-server", "start", "-h", "127.0.0.1",
         "-p", str(port), "-m", DEFINITIONS_MODULE, "--location-name", LOCATION_NAME],
        env=env, cwd=workdir, stdout=log, stderr=subprocess.STDOUT if log else None,
        start_new_session=True)
    deadline = time.monotonic() + CODE_SERVER_START_TIMEOUT_S
    # The port opens once the definitions have loaded, or failed to (the UI then shows why).
    while not port_open(port):
        if process.poll() is not None:
            raise CodeServerFailed(f"the Dagster code server exited with code "
                                   f"{process.returncode} before serving (its output says why)")
        if time.monotonic() > deadline:
            _stop(process, CODE_SERVER_GRACE_S)
            raise CodeServerFailed(f"the Dagster code server did not serve on port {port} "
                                   f"within {CODE_SERVER_START_TIMEOUT_S:.0f} s")
        time.sleep(0.1)
    workspace = workdir / "workspace.yaml"
    workspace.write_text("load_from:\n  - grpc_server:\n      host: 127.0.0.1\n"
                         f"      port: {port}\n      location_name: {LOCATION_NAME}\n")
    return CodeServer(process, port, workspace)


def start_webserver(env: dict, code: CodeServer, host: str, port: int) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "dagster_webserver", "-h", host, "-p", str(port),
         "-w", str(code.workspace)],
        env=env, cwd=code.workspace.parent, start_new_session=True)


def start_daemon(env: dict, code: CodeServer, log=None) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "podclips_dagster.daemon", "run", "-w", str(code.workspace)],
        env=env, cwd=code.workspace.parent, stdout=log,
        stderr=subprocess.STDOUT if log else None, start_new_session=True)


def _stop(process: subprocess.Popen, grace: float) -> None:
    try:
        stop_tree([psutil.Process(process.pid)], grace)
    except psutil.NoSuchProcess:
        pass
    process.poll()


def stop_code_server(code: CodeServer) -> None:
    """Shut it down over gRPC, then stop what is left of its tree (run workers it started)."""
    try:
        tree = [psutil.Process(code.process.pid), *descendants(code.process.pid)]
    except psutil.NoSuchProcess:
        return
    try:
        DagsterGrpcClient(port=code.port, host="127.0.0.1").shutdown_server()
        code.process.wait(CODE_SERVER_GRACE_S)
    except (DagsterUserCodeUnreachableError, subprocess.TimeoutExpired):
        pass  # not serving, or slow to go: the signals below
    stop_tree([p for p in tree if p.is_running()], CODE_SERVER_GRACE_S)
    code.process.poll()


@contextmanager
def _running(log_path: Path, start, stop):
    """What `start(log)` started, logging to `log_path`; `stop` on exit."""
    with open(log_path, "ab") as log:
        started = start(log)
        try:
            yield started
        finally:
            stop(started)


def running_code_server(env: dict, workdir: Path, log_path: Path):
    """`start_code_server` as a context manager (benchmarks, tests)."""
    return _running(log_path, lambda log: start_code_server(env, workdir, log),
                    stop_code_server)


def running_daemon(env: dict, code: CodeServer, log_path: Path):
    """`start_daemon` as a context manager: stopped (SIGTERM, then SIGKILL after 60 s) on exit."""
    return _running(log_path, lambda log: start_daemon(env, code, log),
                    lambda daemon: _stop(daemon, 60.0))
