"""deploy/dagster/Dockerfile without a container engine: its own entrypoint and command run
from the project environment and answer its own health check; the build steps are sane."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from podclips_dagster.devstack.mongo_server import free_port

REPO = Path(__file__).resolve().parents[1]
DOCKERFILE = REPO / "deploy" / "dagster" / "Dockerfile"
BIN = Path(sys.executable).parent


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text())
    return [tuple(line.split(None, 1)) for line in text.splitlines()
            if line.strip() and not line.lstrip().startswith("#")]


def _exec_form(name: str) -> list[str]:
    (args,) = [a for i, a in _instructions() if i == name]
    if name == "HEALTHCHECK":
        args = args.split(" CMD ", 1)[1]
    return json.loads(args)


def _local(argv: list[str], port: int) -> list[str]:
    """The image's command on this machine: the venv's executables, loopback, a free port."""
    swap = {"python": sys.executable, "dagster": str(BIN / "dagster"), "0.0.0.0": "127.0.0.1",
            "4000": str(port)}
    return [swap.get(arg, arg) for arg in argv]


@pytest.mark.slow
def test_the_images_entrypoint_serves_the_code_location_and_passes_its_health_check(tmp_path):
    port = free_port()
    command = _local(_exec_form("ENTRYPOINT") + _exec_form("CMD"), port)
    health = _local(_exec_form("HEALTHCHECK"), port)
    assert command[1:4] == ["-m", "podclips_dagster.container", str(BIN / "dagster")]
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAGSTER_")}
    env["DAGSTER_HOME"] = str(tmp_path)
    (tmp_path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    # Before the server is up the check fails: it is a real probe, not an exit 0.
    assert subprocess.run(health, env=env, capture_output=True, timeout=60).returncode != 0
    log = open(tmp_path / "code-server.log", "wb")
    server = subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
                              start_new_session=True)
    try:
        began = time.monotonic()
        while True:
            check = subprocess.run(health, env=env, capture_output=True, text=True, timeout=60)
            if check.returncode == 0:
                break
            assert server.poll() is None, (tmp_path / "code-server.log").read_text()[-3000:]
            assert time.monotonic() - began < 180, check.stdout + check.stderr
            time.sleep(1)
    finally:
        os.killpg(server.pid, 15)
        server.wait(30)


def test_the_dockerfile_builds_a_small_non_root_production_image():
    steps = _instructions()
    names = [name for name, _ in steps]
    assert steps[0] == ("FROM", "python:3.12-slim")
    runs = " ".join(args for name, args in steps if name == "RUN")
    assert "--no-install-recommends fonts-dejavu-core" in runs  # the audiogram font
    assert "rm -rf /var/lib/apt/lists/*" in runs
    assert "pip install . " in runs + " " and "[dev]" not in runs  # production deps only
    assert "imageio_ffmpeg" in runs  # FFmpeg from the wheel, checked at build time
    user = [args for name, args in steps if name == "USER"]
    assert user and user[-1] not in ("root", "0")
    assert names.index("USER") < names.index("ENTRYPOINT")
    assert "HEALTHCHECK" in names and "EXPOSE" in names
    # Every file the build copies exists in the repo (the build context is the repo root).
    for name, args in steps:
        if name == "COPY":
            *sources, _ = args.split()
            for source in sources:
                assert (REPO / source).exists(), source


def test_the_webserver_and_daemon_workspace_names_the_code_server(monkeypatch):
    import yaml
    from dagster._config import process_config

    # Internal on purpose: no public API checks a workspace file without loading its code
    # locations (this one names a code server that exists only in ECS); it is the schema
    # the webserver and daemon apply to it.
    from dagster._core.workspace.config_schema import WORKSPACE_CONFIG_SCHEMA

    monkeypatch.setenv("DAGSTER_CODE_SERVER_HOST", "code.podclips.local")
    workspace = yaml.safe_load((DOCKERFILE.parent / "workspace.yaml").read_text())
    processed = process_config(WORKSPACE_CONFIG_SCHEMA, workspace)
    assert processed.success, processed.errors
    (location,) = processed.value["load_from"]
    assert location["grpc_server"] == {"host": "code.podclips.local", "port": 4000,
                                       "location_name": "podclips"}
