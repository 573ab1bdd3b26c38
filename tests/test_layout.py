"""The layout's promises, checked on the tree itself: what each part may import and read."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

from deploy import package_lambda

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "podclips_dagster"



def test_the_sidecar_imports_no_pandas_and_no_offline_demand_code(tmp_path):
    probe = ("import sys, podclips_dagster.sidecar.lambda_handler\n"
             "loaded = sorted(m for m in sys.modules if m.split('.')[0] == 'pandas'\n"
             "                or m.startswith(('podclips_dagster.core.demand.offline',\n"
             "                                 'podclips_dagster.devstack', 'simulation')))\n"
             "print(loaded)\n")
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), "PODCLIPS_HOME": str(tmp_path),
           "MONGODB_URI": "mongodb://127.0.0.1:9/?directConnection=true",
           "PODCLIPS_STORAGE": "s3", "AWS_REGION": "us-east-1"}
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "[]"


def test_the_lambda_package_leaves_out_offline_demand_code_and_simulation(tmp_path):
    copied = package_lambda.copy_package(tmp_path)
    shipped = {p.relative_to(copied).as_posix() for p in copied.rglob("*.py")}
    assert "sidecar/lambda_handler.py" in shipped
    assert "core/demand/online/precut.py" in shipped
    assert not [p for p in shipped if p.startswith(("core/demand/offline/", "devstack/", "defs/",
                                                    "cli/"))]
    assert not (copied.parent / "simulation").exists()


def _imports(path: Path) -> set[str]:
    """Every module a file imports, at the top or inside a function."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names.add(node.module)
    return names


def test_core_imports_no_door_no_dev_stack_and_no_framework():
    forbidden = ("dagster", "fastapi", "starlette", "mangum", "uvicorn", "secantus",
                 "podclips_dagster.devstack", "podclips_dagster.defs",
                 "podclips_dagster.sidecar", "podclips_dagster.cli")
    found = {f"{path.relative_to(REPO)}: {name}"
             for path in (PACKAGE / "core").rglob("*.py") for name in _imports(path)
             if name in forbidden or name.startswith(tuple(f"{f}." for f in forbidden))}
    assert not found


def test_the_cli_starts_the_embedded_server_itself(tmp_path):
    from podclips_dagster.devstack.mongo_server import stop_embedded_mongo

    env = {"PATH": os.environ["PATH"], "PODCLIPS_HOME": str(tmp_path), "PYTHONPATH": str(REPO)}
    try:
        listed = subprocess.run([sys.executable, "-m", "podclips_dagster.cli", "api-key", "list"],
                                capture_output=True, text=True, env=env, cwd=tmp_path,
                                timeout=120)
    finally:
        stop_embedded_mongo(tmp_path)
    assert listed.returncode == 0, listed.stderr[-2000:]
    assert json.loads(listed.stdout) == {"keys": []}
    assert (tmp_path / "mongodb").is_dir()


def test_every_cli_command_that_needs_mongodb_gets_it_through_cli_settings():
    """Library code raises without MONGODB_URI; a CLI command that built its Settings
    straight from the environment would fail on the embedded defaults (`podclips index`
    did). Only `podclips dev`, which starts the stack itself, and cli_settings may."""
    found = [f"{path.relative_to(REPO)}:{node.lineno}"
             for path in (PACKAGE / "cli").glob("*.py")
             if path.name not in ("dev.py", "settings.py")
             for node in ast.walk(ast.parse(path.read_text()))
             if isinstance(node, ast.Attribute) and node.attr == "from_env"
             and isinstance(node.value, ast.Name) and node.value.id == "Settings"]
    assert not found


# Modules that may touch os.environ besides config.py, and why.
ENVIRON_ALLOWED = {
    # It starts child processes (uvicorn, dagster dev) with the stack's settings added to
    # the environment they inherit; it reads no setting from it.
    "podclips_dagster/devstack/runner.py",
    # The image's entrypoint: it rewrites DAGSTER_PG_URL (parsed by config.dagster_pg_url)
    # for the Dagster process it becomes.
    "podclips_dagster/container.py",
    # FFmpeg runs with a minimal environment built from this one (PATH, locale): no
    # credentials reach the process that parses third-party audio.
    "podclips_dagster/core/audio/ffmpeg.py",
}


def _environ_uses(path: Path) -> list[int]:
    lines = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
                and node.value.id == "os" and node.attr in ("environ", "getenv", "environb"):
            lines.append(node.lineno)
        elif isinstance(node, ast.ImportFrom) and node.module == "os" \
                and {a.name for a in node.names} & {"environ", "getenv", "environb"}:
            lines.append(node.lineno)
    return lines


def test_only_config_reads_the_environment():
    found = {f"{path.relative_to(REPO)}:{line}"
             for path in PACKAGE.rglob("*.py")
             if path.relative_to(REPO).as_posix() not in
             {"podclips_dagster/config.py", *ENVIRON_ALLOWED}
             for line in _environ_uses(path)}
    assert not found
    assert _environ_uses(PACKAGE / "config.py")  # the walk does see a use


def test_no_file_points_at_documents_outside_the_repository():
    # Spelled in pieces so that this file does not match itself.
    outside = [name + ".md" for name in ("DESIGN", "INTERFACES", "DATA_CONTRACT", "STYLE")]
    outside += [".." + "/shared", "/work" + "/shared"]
    skipped_dirs = {".git", ".venv", ".podclips", "build", "__pycache__", ".pytest_cache",
                    ".ruff_cache", "node_modules"}
    found = []
    for directory, dirs, files in os.walk(REPO):
        dirs[:] = [d for d in dirs if d not in skipped_dirs and not d.endswith(".egg-info")]
        for name in files:
            path = Path(directory) / name
            try:
                text = path.read_text()
            except (UnicodeDecodeError, OSError):
                continue  # binary fixtures
            found += [f"{path.relative_to(REPO)}: {ref}" for ref in outside if ref in text]
    assert not found
    assert (REPO / "docs" / "architecture.md").exists()


def test_the_tree_is_ruff_clean():
    ruff = Path(sys.executable).parent / "ruff"  # the dev extra's, pinned in pyproject.toml
    lint = subprocess.run([str(ruff), "check", "--no-cache", str(REPO)], capture_output=True,
                          text=True, cwd=REPO)
    assert lint.returncode == 0, lint.stdout[-3000:] + lint.stderr[-1000:]


# The store classes: the only modules that hold a collection and query it. devstack plays the
# ingestion system (it seeds the catalogue and demo events), so it writes collections itself.
STORE_MODULES = {
    "core/api_keys.py", "core/daily_caps.py", "core/leases.py", "core/rate_limits.py",
    "core/requests.py", "core/demand/online/budget.py", "core/demand/online/events.py",
    "core/demand/offline/store.py",
}


def _collection_uses(path: Path) -> list[int]:
    """Lines that reach a collection: `x.collection`, `db[...]`, `catalogue.episodes|chunks`."""
    lines = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Attribute) and (
                node.attr == "collection"
                or (node.attr in ("episodes", "chunks") and isinstance(node.value, ast.Attribute)
                    and node.value.attr == "catalogue")):
            lines.append(node.lineno)
        elif isinstance(node, ast.Subscript) and (
                (isinstance(node.value, ast.Name) and node.value.id == "db")
                or (isinstance(node.value, ast.Attribute) and node.value.attr == "db")):
            lines.append(node.lineno)
    return lines


def test_only_the_stores_touch_mongodb_collections():
    found = {f"{rel}:{line}"
             for path in PACKAGE.rglob("*.py")
             if not (rel := path.relative_to(PACKAGE).as_posix()).startswith(
                 ("core/stores/", "devstack/")) and rel not in STORE_MODULES
             for line in _collection_uses(path)}
    assert not found, "query through the collection's store class instead"
