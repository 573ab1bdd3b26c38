"""A throwaway PostgreSQL server for the tests of Dagster's production instance."""

from __future__ import annotations

import uuid
from pathlib import Path

import psycopg2
import pytest

from podclips_dagster.devstack.postgres_server import postgres_bin_dir, start_postgres

REPO = Path(__file__).resolve().parents[1]
PRODUCTION_YAML = REPO / "deploy" / "dagster" / "dagster.yaml"

needs_postgres = pytest.mark.skipif(
    postgres_bin_dir() is None,
    reason="PostgreSQL server binaries are not installed: run scripts/ensure_postgres.sh "
    "(as root it installs Debian's postgresql)")


@pytest.fixture(scope="session")
def postgres_server():
    server = start_postgres()
    yield server
    server.stop()


@pytest.fixture
def postgres_url(postgres_server) -> str:
    """A fresh database per test: what DAGSTER_PG_URL holds."""
    return postgres_server.create_database(f"t_{uuid.uuid4().hex[:12]}")


def sql(url: str, query: str, *params) -> list[tuple]:
    """Rows of one query, straight from PostgreSQL (not through Dagster)."""
    conn = psycopg2.connect(url.replace("+psycopg2", ""))
    try:
        with conn.cursor() as cursor:
            cursor.execute(query, params)
            return cursor.fetchall()
    finally:
        conn.close()
