"""`podclips dev` stops everything it started, however it is told to stop; CLI commands say
when they start the embedded server, and `podclips dev --stop` stops it."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from podclips_dagster.devstack.mongo_server import free_port
from tests.process_tree import alive, descendants

PODCLIPS = str(Path(sys.executable).with_name("podclips"))


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _env(home: Path) -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in ("MONGODB_URI", "PODCLIPS_STORAGE", "S3_ENDPOINT_URL", "DAGSTER_HOME")}
    return {**env, "PODCLIPS_HOME": str(home)}


def _wait(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.25)


@pytest.mark.slow
@pytest.mark.parametrize("how", ["SIGTERM to the group", "SIGINT twice", "SIGHUP"])
def test_podclips_dev_leaves_nothing_running(how, tmp_path):
    dagster_port, api_port = free_port(), free_port()
    dev = subprocess.Popen([PODCLIPS, "dev", "--no-seed", "--dagster-port", str(dagster_port),
                            "--api-port", str(api_port)], env=_env(tmp_path / "home"),
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                           start_new_session=True)
    try:
        _wait(lambda: _port_open(dagster_port) and _port_open(api_port) or dev.poll() is not None,
              240, "the Dagster UI and the API")
        assert dev.poll() is None, dev.stderr.read().decode()[-2000:]
        started = descendants(dev.pid)
        names = " ".join(started.values())
        assert "dagster" in names or "python" in names
        assert len(started) >= 5  # MongoDB, uvicorn, code server, webserver, daemon
        if how == "SIGTERM to the group":
            os.killpg(dev.pid, signal.SIGTERM)
        elif how == "SIGINT twice":
            dev.send_signal(signal.SIGINT)
            time.sleep(0.5)
            dev.send_signal(signal.SIGINT)  # impatient: the stop hurries, still complete
        else:
            dev.send_signal(signal.SIGHUP)
        dev.wait(90)
        _wait(lambda: not [pid for pid in started if alive(pid)], 10, "the stack to stop")
        said = dev.stderr.read().decode()
        assert "Traceback" not in said, said[-3000:]  # a quiet stop, the code server's too
    finally:
        if dev.poll() is None:
            os.killpg(dev.pid, signal.SIGKILL)
        for pid in descendants(dev.pid):
            os.kill(pid, signal.SIGKILL)
    left = {pid: name for pid, name in started.items() if alive(pid)}
    assert left == {}
    assert not _port_open(dagster_port) and not _port_open(api_port)
    assert not (tmp_path / "home" / "mongodb.json").exists()


def test_a_cli_call_says_it_started_the_embedded_server_and_dev_stop_stops_it(tmp_path):
    env = _env(tmp_path / "home")
    first = subprocess.run([PODCLIPS, "api-key", "list"], env=env, capture_output=True,
                           timeout=120)
    assert first.returncode == 0, first.stderr.decode()
    assert first.stderr.decode().count("started the embedded MongoDB-protocol server") == 1
    state = json.loads((tmp_path / "home" / "mongodb.json").read_text())
    try:
        assert alive(state["pid"]) and _port_open(state["port"])
        again = subprocess.run([PODCLIPS, "api-key", "list"], env=env, capture_output=True,
                               timeout=120)
        assert "started the embedded" not in again.stderr.decode()  # reused, said once
        stop = subprocess.run([PODCLIPS, "dev", "--stop"], env=env, capture_output=True,
                              timeout=60)
        assert stop.returncode == 0 and json.loads(stop.stdout) == {"stopped": True}
        _wait(lambda: not alive(state["pid"]), 10, "the server to stop")
        assert not _port_open(state["port"])
        stopped_again = subprocess.run([PODCLIPS, "dev", "--stop"], env=env,
                                       capture_output=True, timeout=60)
        assert json.loads(stopped_again.stdout) == {"stopped": False}
    finally:
        if alive(state["pid"]):
            os.kill(state["pid"], signal.SIGKILL)
