"""Build the sidecar's Lambda artifacts and print their sizes.

    python deploy/package_lambda.py                 # build/lambda/ + build/podclips-lambda.zip
    python deploy/package_lambda.py --ffmpeg-layer  # also build/ffmpeg-layer/ + its zip
    python deploy/package_lambda.py --arch x86_64   # for an x86_64 function

The function package holds the core and the sidecar, and the runtime
dependencies of pyproject.toml minus those the Lambda never imports
(Dagster, the embedded MongoDB server, uvicorn, the imageio-ffmpeg wheel: the
layer brings FFmpeg). boto3 is packaged rather than taken from the runtime,
so its version is the tested one and pip resolves it with the rest. Wheels
are fetched for the Lambda's platform (manylinux, CPython 3.12), not this
machine's. The FFmpeg layer is the static binary from the imageio-ffmpeg
wheel for the same architecture, placed at `bin/ffmpeg` so Lambda puts it on
PATH as /opt/bin/ffmpeg. SAM's template (deploy/template.yaml) points at both
directories.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE = "podclips_dagster"
# Distributions the function never imports, and why they stay out.
EXCLUDED = {
    "dagster": "orchestration runs elsewhere",
    "dagster-aws": "orchestration runs elsewhere",
    "dagster-webserver": "orchestration runs elsewhere",
    "dagster-postgres": "Dagster's storage; orchestration runs elsewhere",
    "psycopg2-binary": "Dagster's storage driver; orchestration runs elsewhere",
    "secantusdb": "the embedded MongoDB server is for local stacks",
    "uvicorn": "the local server; Lambda calls the app through Mangum",
    "imageio-ffmpeg": "the FFmpeg layer provides the binary",
    "pandas": "demand scoring runs in Dagster; the sidecar's fast path needs no pandas",
}
# Parts of the package only the other doors use.
SKIPPED_PARTS = ("defs", "definitions.py", "devstack", "cli", "__pycache__")
PLATFORMS = {"arm64": "manylinux2014_aarch64", "x86_64": "manylinux2014_x86_64"}
LAMBDA_UNZIPPED_LIMIT = 250 * 1024 * 1024  # function + layers, unzipped


def lambda_requirements(pyproject: Path = REPO / "pyproject.toml") -> list[str]:
    """The project's runtime dependencies that the function needs."""
    deps = tomllib.loads(pyproject.read_text())["project"]["dependencies"]
    return [d for d in deps if re.split(r"[<>=!~\[; ]", d, maxsplit=1)[0].lower() not in EXCLUDED]


def _pip(target: Path, arch: str, python: str, args: list[str]) -> None:
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--target", str(target),
                    "--platform", PLATFORMS[arch], "--implementation", "cp",
                    "--python-version", python, "--only-binary=:all:", "--upgrade", *args],
                   check=True)


def build_function(out: Path, arch: str, python: str) -> Path:
    if out.exists():
        shutil.rmtree(out)
    _pip(out, arch, python, lambda_requirements())
    shutil.copytree(REPO / PACKAGE, out / PACKAGE,
                    ignore=lambda d, names: [n for n in names if n in SKIPPED_PARTS and (
                        Path(d) == REPO / PACKAGE or n == "__pycache__")])
    return out


def build_ffmpeg_layer(out: Path, arch: str) -> Path:
    if out.exists():
        shutil.rmtree(out)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                        "--platform", PLATFORMS[arch], "--only-binary=:all:", "--dest", tmp,
                        "imageio-ffmpeg"], check=True)
        wheel = next(Path(tmp).glob("imageio_ffmpeg-*.whl"))
        with zipfile.ZipFile(wheel) as whl:
            binary = next(n for n in whl.namelist() if "/binaries/ffmpeg-" in n)
            target = out / "bin" / "ffmpeg"
            target.parent.mkdir(parents=True)
            target.write_bytes(whl.read(binary))
    target.chmod(0o755)
    return out


def zip_dir(source: Path, archive: Path) -> Path:
    archive.unlink(missing_ok=True)
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        for path in sorted(source.rglob("*")):
            if path.is_file():
                info = zipfile.ZipInfo.from_file(path, path.relative_to(source).as_posix())
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, path.read_bytes())
    return archive


def tree_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _mb(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MB"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arch", choices=sorted(PLATFORMS), default="arm64")
    parser.add_argument("--python", default="3.12", help="the Lambda runtime's Python version")
    parser.add_argument("--build-dir", type=Path, default=REPO / "build")
    parser.add_argument("--ffmpeg-layer", action="store_true", help="also build the FFmpeg layer")
    args = parser.parse_args(argv)

    function_dir = build_function(args.build_dir / "lambda", args.arch, args.python)
    if any((function_dir / name).exists() for name in ("dagster", "dagster_aws")):
        raise SystemExit("dagster ended up in the function package; check the dependencies")
    artifacts = [("function", function_dir,
                  zip_dir(function_dir, args.build_dir / "podclips-lambda.zip"))]
    if args.ffmpeg_layer:
        layer_dir = build_ffmpeg_layer(args.build_dir / "ffmpeg-layer", args.arch)
        artifacts.append(("ffmpeg layer", layer_dir,
                          zip_dir(layer_dir, args.build_dir / "ffmpeg-layer.zip")))
    unzipped_total = 0
    for name, directory, archive in artifacts:
        unzipped = tree_size(directory)
        unzipped_total += unzipped
        print(f"{name:13} {archive}  zipped {_mb(archive.stat().st_size)}, "
              f"unzipped {_mb(unzipped)}")
    print(f"{'total':13} unzipped {_mb(unzipped_total)} of Lambda's {_mb(LAMBDA_UNZIPPED_LIMIT)} "
          f"({args.arch}; excluded: {', '.join(sorted(EXCLUDED))})")
    return 0 if unzipped_total <= LAMBDA_UNZIPPED_LIMIT else 1


if __name__ == "__main__":
    sys.exit(main())
