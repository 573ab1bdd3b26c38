"""Cold start of the sidecar Lambda: import the handler and answer a first `/health`.

    .venv/bin/python -m benchmarks.cold_start [--runs 7] [--build-dir DIR] [--reuse-build]

Builds the function package with deploy/package_lambda.py (for this machine's
architecture and Python, so it can run here), then times, in a fresh
interpreter per run with only that directory on PYTHONPATH and no
site-packages (`python -S`, as Lambda's /var/task), importing
`podclips_dagster.sidecar.lambda_handler` and answering a REST v1 `GET /health`
against a local MongoDB-protocol server and moto's S3. Baseline, in the same
run, interleaved: the same with the whole project as the development venv
holds it, importing the Dagster definitions first (Dagster, pandas), as a
package that bundled everything would. Goal: 1 s or less (the running
system's cold start is 1.65 s). Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import boto3
from moto.server import ThreadedMotoServer

from podclips_dagster.core.audio.ffmpeg import find_ffmpeg
from podclips_dagster.devstack.mongo_server import free_port, start_mongo

REPO = Path(__file__).resolve().parents[1]
GOAL_SECONDS = 1.0
RUNNING_SYSTEM_SECONDS = 1.65
CLIPS_BUCKET, SOURCE_BUCKET = "cold-start-clips", "cold-start-raw"
# What the Lambda runtime does on a cold start: import the handler, then invoke it once.
CHILD = """
import json, sys, time
began = time.perf_counter()
for name in sys.argv[1:]:
    __import__(name)
from podclips_dagster.sidecar.lambda_handler import handler
imported = time.perf_counter()

class Context:
    function_name = "podclips-sidecar"
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:podclips-sidecar"
    aws_request_id = "cold-start"
    def get_remaining_time_in_millis(self):
        return 28000

event = {"resource": "/health", "path": "/health", "httpMethod": "GET",
         "headers": {"Host": "abc123.execute-api.us-east-1.amazonaws.com"},
         "multiValueHeaders": {"Host": ["abc123.execute-api.us-east-1.amazonaws.com"]},
         "queryStringParameters": None, "multiValueQueryStringParameters": None,
         "pathParameters": None, "stageVariables": None, "body": None, "isBase64Encoded": False,
         "requestContext": {"stage": "prod", "requestId": "cold-start", "path": "/prod/health",
                            "httpMethod": "GET", "resourcePath": "/health",
                            "domainName": "abc123.execute-api.us-east-1.amazonaws.com",
                            "identity": {"sourceIp": "203.0.113.1"}}}
answer = handler(event, Context())
answered = time.perf_counter()
print(json.dumps({"import_s": imported - began, "first_s": answered - imported,
                  "status": answer["statusCode"]}))
"""


def build_package(build_dir: Path) -> Path:
    from deploy import package_lambda as packager

    arch = "arm64" if os.uname().machine in ("aarch64", "arm64") else "x86_64"
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    return packager.build_function(build_dir / "lambda", arch, python)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_once(python_args: list[str], env: dict, preload: list[str]) -> dict:
    started, cpu = time.perf_counter(), _children_cpu()
    proc = subprocess.run([*python_args, "-c", CHILD, *preload], env=env, capture_output=True,
                          text=True, timeout=300)
    wall, cpu = time.perf_counter() - started, _children_cpu() - cpu
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-2000:])
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    if result["status"] != 200:
        raise RuntimeError(f"/health answered {result['status']}: {proc.stdout[-1000:]}")
    return {**result, "init_s": result["import_s"] + result["first_s"], "wall_s": wall,
            "cpu_s": cpu}


def summary(runs: list[dict]) -> dict:
    pick = {key: [run[key] for run in runs] for key in ("import_s", "first_s", "init_s",
                                                        "wall_s", "cpu_s")}
    return {f"{key.removesuffix('_s')}_p50_s": round(statistics.median(values), 3)
            for key, values in pick.items()} | {
        "init_max_s": round(max(pick["init_s"]), 3), "wall_max_s": round(max(pick["wall_s"]), 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--build-dir", type=Path, default=REPO / "build" / "cold-start")
    parser.add_argument("--reuse-build", action="store_true",
                        help="time the package already in --build-dir/lambda")
    args = parser.parse_args()

    package = args.build_dir / "lambda"
    if not args.reuse_build:
        print(f"building the function package into {package} ...", flush=True)
        package = build_package(args.build_dir)
    package_mb = sum(p.stat().st_size for p in package.rglob("*") if p.is_file()) / 2**20

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto logs every request
    mongo = start_mongo(":memory:")
    s3_port = free_port()
    s3 = ThreadedMotoServer(ip_address="127.0.0.1", port=s3_port, verbose=False)
    s3.start()
    endpoint = f"http://127.0.0.1:{s3_port}"
    try:
        client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                              aws_access_key_id="x", aws_secret_access_key="x")
        for bucket in (CLIPS_BUCKET, SOURCE_BUCKET):
            client.create_bucket(Bucket=bucket)
        with tempfile.TemporaryDirectory(prefix="podclips-cold-") as home:
            env = {"PATH": "/usr/bin:/bin", "HOME": home, "PODCLIPS_HOME": home,
                   "MONGODB_URI": mongo.uri, "PODCLIPS_STORAGE": "s3",
                   "S3_ENDPOINT_URL": endpoint, "S3_CLIPS_BUCKET": CLIPS_BUCKET,
                   "S3_SOURCE_BUCKET": SOURCE_BUCKET, "AWS_REGION": "us-east-1",
                   "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x",
                   "AWS_LAMBDA_FUNCTION_NAME": "podclips-sidecar",
                   "FFMPEG_BINARY": find_ffmpeg(None), "PYTHONDONTWRITEBYTECODE": "1"}
            ours_cmd = ([sys.executable, "-S"], {**env, "PYTHONPATH": str(package)}, [])
            base_cmd = ([sys.executable], {**env, "PYTHONPATH": str(REPO)},
                        ["podclips_dagster.definitions"])
            ours, baseline = [], []
            for _ in range(args.runs):  # interleaved: both see the same machine load
                ours.append(run_once(*ours_cmd))
                baseline.append(run_once(*base_cmd))
    finally:
        s3.stop()
        mongo.stop()

    ours_s, base_s = summary(ours), summary(baseline)
    load = os.getloadavg()[0]
    print(f"\ncold start, {args.runs} fresh processes each (load average {load:.1f} on "
          f"{os.cpu_count()} cores; package {package_mb:.1f} MB unzipped)")
    print(f"{'':34} {'import p50':>10} {'/health p50':>11} {'init p50':>9} {'init max':>9} "
          f"{'wall p50':>9} {'CPU p50':>8}")
    for name, row in (("Lambda package (python -S)", ours_s),
                      ("baseline: full project + Dagster", base_s)):
        print(f"{name:34} {row['import_p50_s']:>9.3f}s {row['first_p50_s']:>10.3f}s "
              f"{row['init_p50_s']:>8.3f}s {row['init_max_s']:>8.3f}s {row['wall_p50_s']:>8.3f}s "
              f"{row['cpu_p50_s']:>7.3f}s")
    ratio = base_s["init_p50_s"] / ours_s["init_p50_s"]
    print(f"init = import + first /health; ratio baseline/ours {ratio:.2f}x; goal <= "
          f"{GOAL_SECONDS:.1f} s (running system {RUNNING_SYSTEM_SECONDS} s): "
          f"{'met' if ours_s['init_p50_s'] <= GOAL_SECONDS else 'NOT met'} at p50")
    print("CPU = user + sys seconds of the whole process (interpreter start included): what "
          "the start costs when the machine is not shared, for loaded runs")
    print(json.dumps({"runs": args.runs, "load_average": round(load, 2),
                      "package_mb": round(package_mb, 1), "goal_s": GOAL_SECONDS,
                      "running_system_s": RUNNING_SYSTEM_SECONDS,
                      "ours": ours_s, "baseline": base_s, "ratio": round(ratio, 2)}))


if __name__ == "__main__":
    main()
