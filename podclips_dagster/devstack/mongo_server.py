"""Start SecantusDB, a real MongoDB wire-protocol server, with its data on disk.

Used by `podclips dev` (data under PODCLIPS_HOME, kept across restarts), by
CLI commands on embedded defaults, and by the tests (a throwaway directory).
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

from podclips_dagster.core.errors import DependencyUnavailable


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def uri_for(port: int) -> str:
    return f"mongodb://127.0.0.1:{port}/?directConnection=true"


@dataclass
class EmbeddedMongo:
    process: subprocess.Popen | None
    port: int

    @property
    def uri(self) -> str:
        return uri_for(self.port)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()


def start_mongo(data_dir: Path | str, port: int | None = None, detach: bool = False,
                timeout: float = 30.0) -> EmbeddedMongo:
    """Start a server on `data_dir` (":memory:" for a throwaway one) and wait for it."""
    port = port or free_port()
    if data_dir != ":memory:":
        Path(data_dir).mkdir(parents=True, exist_ok=True)
        log = open(Path(data_dir).parent / "mongodb.log", "ab")
    else:
        log = subprocess.DEVNULL
    cmd = [sys.executable, "-m", "secantus", "--host", "127.0.0.1", "--port", str(port),
           "--storage-path", str(data_dir), "--log-level", "WARNING", "--cache-size", "256M"]
    proc = subprocess.Popen(cmd, stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                            start_new_session=detach)
    deadline = time.monotonic() + timeout
    while not port_open(port):
        if proc.poll() is not None:
            raise DependencyUnavailable(
                f"the embedded MongoDB server exited with code {proc.returncode}"
                f" (data in {data_dir}; see mongodb.log beside it)")
        if time.monotonic() > deadline:
            proc.kill()
            raise DependencyUnavailable(f"the embedded MongoDB server did not start in {timeout} s")
        time.sleep(0.05)
    return EmbeddedMongo(proc, port)


def _state_file(home: Path) -> Path:
    return home / "mongodb.json"


def embedded_mongo_uri(home: Path) -> str:
    """URI of the embedded server for `home`, starting it in the background if needed.

    The server records its port in PODCLIPS_HOME, so every process (CLI,
    Dagster run workers, the API) shares the one server that owns the files.
    """
    state = _state_file(home)
    if state.exists():
        try:
            info = json.loads(state.read_text())
            if port_open(info["port"]):
                return uri_for(info["port"])
        except (ValueError, KeyError, OSError):
            pass
    home.mkdir(parents=True, exist_ok=True)
    server = start_mongo(home / "mongodb", detach=True)
    state.write_text(json.dumps({"port": server.port, "pid": server.process.pid}))
    # It outlives this command (the next one reuses it): say so, once, where it stops.
    print(f"podclips: started the embedded MongoDB-protocol server on 127.0.0.1:{server.port} "
          f"(data in {home / 'mongodb'}); it keeps running for the next commands; "
          "stop it with `podclips dev --stop`", file=sys.stderr, flush=True)
    return server.uri


def stop_embedded_mongo(home: Path, timeout: float = 10.0) -> bool:
    """Stop the server recorded under `home` (if it is still that server); True if one was."""
    state = _state_file(home)
    if not state.exists():
        return False
    try:
        info = json.loads(state.read_text())
        server = psutil.Process(info["pid"])
        if "secantus" not in " ".join(server.cmdline()):
            raise ProcessLookupError  # the pid now belongs to another program
        server.terminate()
        try:
            server.wait(timeout)
        except psutil.TimeoutExpired:
            server.kill()
        stopped = True
    except (ValueError, KeyError, OSError, psutil.Error):
        stopped = False
    state.unlink(missing_ok=True)
    return stopped
