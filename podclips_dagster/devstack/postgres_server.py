"""A PostgreSQL server of our own from Debian's binaries, for Dagster's storage.

Used by the tests and benchmarks (a throwaway directory, removed on stop) and by
`podclips dev --postgres` (data under PODCLIPS_HOME, kept). The binaries come
from Debian's `postgresql` package (`scripts/ensure_postgres.sh`); PostgreSQL
refuses to run as root, so as root every binary runs as the `postgres` user.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml

from podclips_dagster.core.errors import DependencyUnavailable
from podclips_dagster.devstack.mongo_server import free_port

REPO_ROOT = Path(__file__).resolve().parents[2]
PRODUCTION_DAGSTER_YAML = REPO_ROOT / "deploy" / "dagster" / "dagster.yaml"
DATABASE = "dagster"


def postgres_bin_dir() -> Path | None:
    """The newest /usr/lib/postgresql/<version>/bin holding initdb and pg_ctl, if any."""
    found = [Path(d) for d in glob.glob("/usr/lib/postgresql/*/bin")
             if (Path(d) / "initdb").exists() and (Path(d) / "pg_ctl").exists()]
    return max(found, key=lambda d: int(d.parent.name), default=None)


def _as_server_user() -> list[str]:
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


@dataclass
class PostgresServer:
    bin_dir: Path
    data_dir: Path
    port: int
    throwaway: bool

    @property
    def socket_dir(self) -> Path:
        return self.data_dir / "sockets"

    @property
    def url(self) -> str:
        return self.url_for(DATABASE)

    def url_for(self, database: str) -> str:
        """What DAGSTER_PG_URL holds; psycopg2 named, as dagster-postgres needs."""
        return f"postgresql+psycopg2://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """A new empty database on this server; returns its URL."""
        self._run(str(self.bin_dir / "createdb"), "-h", str(self.socket_dir),
                  "-p", str(self.port), "-U", "postgres", name)
        return self.url_for(name)

    def _run(self, *args: str) -> None:
        done = subprocess.run([*_as_server_user(), *args], capture_output=True, text=True)
        if done.returncode != 0:
            raise DependencyUnavailable(f"{Path(args[0]).name} failed: {done.stderr.strip()}")

    def stop(self) -> None:
        self._run(str(self.bin_dir / "pg_ctl"), "stop", "-D", str(self.data_dir / "pgdata"),
                  "-m", "fast", "-w")
        if self.throwaway:
            shutil.rmtree(self.data_dir, ignore_errors=True)


def start_postgres(data_dir: Path | str | None = None, port: int | None = None,
                   durable: bool | None = None) -> PostgresServer:
    """Start a server on 127.0.0.1 (a fresh temp directory when `data_dir` is None) with a
    database `dagster`; an existing `data_dir` is reused. `durable=False` turns fsync off
    (default: off for throwaway servers only)."""
    bin_dir = postgres_bin_dir()
    if bin_dir is None:
        raise DependencyUnavailable(
            "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin: "
            "run scripts/ensure_postgres.sh (apt-get install postgresql)")
    throwaway = data_dir is None
    # Not under pytest's 0700 tmp dirs: the postgres user must reach it.
    root = Path(tempfile.mkdtemp(prefix="podclips-pg-")) if throwaway else Path(data_dir)
    server = PostgresServer(bin_dir, root, port or free_port(), throwaway)
    fresh = not (root / "pgdata" / "PG_VERSION").exists()
    server.socket_dir.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        shutil.chown(server.socket_dir, "postgres")
    if fresh:
        server._run(str(bin_dir / "initdb"), "-D", str(root / "pgdata"), "-U", "postgres",
                    "-A", "trust", "-E", "UTF8", "--no-sync")
    options = f"-c listen_addresses=127.0.0.1 -p {server.port} -k {server.socket_dir}"
    if not (durable if durable is not None else not throwaway):
        options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    server._run(str(bin_dir / "pg_ctl"), "start", "-D", str(root / "pgdata"), "-w", "-t", "60",
                "-l", str(root / "server.log"), "-o", options)
    if fresh:
        server.create_database(DATABASE)
    return server


def local_instance_yaml(keep_compute_logs: bool = False) -> str:
    """deploy/dagster/dagster.yaml for a machine without ECS: the default run launcher
    (a process per run) and, unless kept, local compute logs."""
    config = yaml.safe_load(PRODUCTION_DAGSTER_YAML.read_text())
    config.pop("run_launcher")
    if not keep_compute_logs:
        config.pop("compute_logs")
    return yaml.safe_dump(config, sort_keys=False)


def create_dagster_schema(dagster_home: Path) -> None:
    """Create Dagster's tables once, before several processes (webserver, daemon) race to:
    two creating them at once fail on PostgreSQL (`type ... already exists`)."""
    from dagster import DagsterInstance

    DagsterInstance.from_config(str(dagster_home)).dispose()
