"""Deployment as code: the SAM template lints clean and says what the design asks;
the Lambda's import closure holds no Dagster."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from cfnlint.decode import decode

from deploy import package_lambda

REPO = Path(__file__).resolve().parents[1]
TEMPLATE = REPO / "deploy" / "template.yaml"
# The venv's cfn-lint (a dev dependency), else one on PATH.
CFN_LINT = shutil.which("cfn-lint", path=str(Path(sys.executable).parent)) or "cfn-lint"



@pytest.fixture(scope="module")
def template() -> dict:
    parsed, errors = decode(str(TEMPLATE))
    assert not errors
    return parsed


def test_cfn_lint_is_clean():
    lint = subprocess.run([CFN_LINT, str(TEMPLATE)],
                          capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout + lint.stderr


def test_cfn_lint_catches_a_broken_template(tmp_path):
    """The lint above is real: a SAM function with a bogus property fails it."""
    broken = tmp_path / "broken.yaml"
    broken.write_text(TEMPLATE.read_text().replace("      MemorySize: 1024\n",
                                                   "      MemorySize: 1024\n      Bogus: 1\n"))
    lint = subprocess.run([CFN_LINT, str(broken)], capture_output=True,
                          text=True)
    assert lint.returncode != 0 and "Bogus" in lint.stdout


def test_template_declares_the_design(template):
    """The function, its layer, the CDN cache and the usage plan (the other points of the
    template are asserted one by one in tests/test_deploy_template.py)."""
    resources = template["Resources"]
    function = resources["SidecarFunction"]["Properties"]
    assert function["Handler"] == "podclips_dagster.sidecar.lambda_handler.handler"
    assert function["Runtime"] == "python3.12" and function["Architectures"] == ["arm64"]
    assert function["MemorySize"] >= 512
    assert resources["FfmpegLayer"]["Properties"]["CompatibleArchitectures"] == ["arm64"]
    env = function["Environment"]["Variables"]
    assert {"MONGODB_URI_SECRET_NAME", "S3_SOURCE_BUCKET", "S3_CLIPS_BUCKET",
            "CLIPS_PUBLIC_BASE_URL", "FFMPEG_BINARY", "RATE_LIMIT_PER_IP_PER_MINUTE",
            "RATE_LIMIT_PER_KEY_PER_HOUR"} <= set(env)
    assert function["EventInvokeConfig"]["MaximumRetryAttempts"] == 0
    cache = resources["ClipsCachePolicy"]["Properties"]["CachePolicyConfig"]
    assert cache["DefaultTTL"] == cache["MaxTTL"] == 86400
    assert resources["SidecarUsagePlan"]["Type"] == "AWS::ApiGateway::UsagePlan"


def test_lambda_package_leaves_out_dagster():
    requirements = " ".join(package_lambda.lambda_requirements())
    for needed in ("fastapi", "mangum", "pymongo", "boto3", "numpy", "aws-lambda-powertools"):
        assert needed in requirements
    for excluded in ("dagster", "secantusdb", "uvicorn", "imageio-ffmpeg"):
        assert excluded not in requirements


def test_the_handler_imports_without_the_excluded_packages(tmp_path):
    """Import the Lambda entry point in a fresh interpreter where they cannot be imported,
    and without numpy (imported by the first cut, not by the cold start)."""
    probe = textwrap.dedent("""
        import importlib.abc, sys
        BLOCKED = {"dagster", "dagster_aws", "uvicorn", "secantus", "imageio_ffmpeg", "pandas"}
        class Block(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path, target=None):
                if name.split(".")[0] in BLOCKED:
                    raise ImportError(f"{name} is not in the Lambda package")
        sys.meta_path.insert(0, Block())
        from podclips_dagster.sidecar.lambda_handler import handler
        # numpy is for cuts, not for a cold start's first answer (benchmarks/cold_start.py).
        print("ok", callable(handler), "numpy" in sys.modules)
    """)
    env = {"PATH": "/usr/bin:/bin", "MONGODB_URI": "mongodb://127.0.0.1:9/?directConnection=true",
           "PODCLIPS_STORAGE": "s3", "PODCLIPS_HOME": str(tmp_path), "AWS_REGION": "us-east-1",
           "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x", "PYTHONPATH": str(REPO)}
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "ok True False" in result.stdout
