"""The repository is a `dg` project: `dg check defs` passes and `dg list defs` lists the
names others rely on, loaded without touching the network."""

import json
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

REPO = Path(__file__).resolve().parents[1]
DG = Path(sys.executable).parent / "dg"


def run_dg(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "VIRTUAL_ENV": str(Path(sys.executable).parent.parent),
           "MONGODB_URI": "mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=1",
           "S3_ENDPOINT_URL": "http://127.0.0.1:1"}
    return subprocess.run([str(DG), *args], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=300)


@pytest.fixture(scope="module")
def listed() -> dict:
    done = run_dg("list", "defs", "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_dg_check_defs_passes():
    done = run_dg("check", "defs")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "All definitions loaded successfully" in done.stdout + done.stderr


def test_dg_lists_the_merged_domains(listed):
    assets = {a["asset_key"]: a for a in listed["assets"]}
    assert {"audio_clips", "clip_demand", "episode_metadata", "transcript_chunks",
            "audio_frame_indexes", "clip_share_assets", "clip_videos"} <= set(assets)
    assert {"clip_request_sensor", "record_run_failures", "outside_clips_sensor"} <= {
        s["name"] for s in listed["sensors"]}
    assert "pregenerate_high_demand_clips" in {s["name"] for s in listed["schedules"]}
    assert {"audio_clips_job", "retire_expired_clips_job"} <= {j["name"] for j in listed["jobs"]}
    for key, asset in assets.items():  # every asset says who answers for it and its domain
        assert asset["owners"], key
        assert any(tag["key"] == "domain" for tag in asset["tags"]), key


def test_the_code_location_is_the_merge_of_the_domains():
    from podclips_dagster import definitions

    dg.Definitions.validate_loadable(definitions.defs)
    merged = {spec.key for spec in definitions.defs.resolve_all_asset_specs()}
    by_domain = {key for domain in definitions.DOMAINS for asset in domain.defs.assets or ()
                 for key in (asset.keys if isinstance(asset, dg.AssetsDefinition)
                             else [asset.key])}
    assert merged == by_domain
    sensors = [s.name for domain in definitions.DOMAINS for s in domain.defs.sensors or ()]
    assert sorted(sensors) == sorted(s.name for s in definitions.defs.sensors)
