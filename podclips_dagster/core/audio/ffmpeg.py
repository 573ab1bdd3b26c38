"""Finding and running the FFmpeg binary."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from functools import lru_cache

from podclips_dagster.core.errors import CutFailed, DependencyUnavailable


def find_ffmpeg(configured: str | None = None) -> str:
    """FFMPEG_BINARY if given, else `ffmpeg` on PATH (the Lambda layer's
    /opt/bin), else the binary shipped in the imageio-ffmpeg wheel."""
    if configured:
        found = shutil.which(configured) or (configured if os.access(configured, os.X_OK) else None)
        if not found:
            raise DependencyUnavailable(f"FFMPEG_BINARY={configured!r} is not an executable")
        return found
    return _default_ffmpeg()


@lru_cache(maxsize=1)
def _default_ffmpeg() -> str:
    on_path = shutil.which("ffmpeg")
    if on_path:
        return on_path
    try:
        import imageio_ffmpeg
    except ImportError:
        raise DependencyUnavailable(
            "no FFmpeg: set FFMPEG_BINARY, put ffmpeg on PATH or install imageio-ffmpeg"
        ) from None
    return imageio_ffmpeg.get_ffmpeg_exe()


_CONTEXT = re.compile(r"^(\[[^\]]+ @ 0x[0-9a-f]+\] )+")
_LEVEL = re.compile(r"^\[(trace|debug|verbose|info|warning|error|fatal|panic)\]\s*")
_URL = re.compile(r"https?://\S+")


def error_summary(stderr: bytes, lines: int = 4) -> str:
    """FFmpeg's first error lines (the cause comes first), without object
    addresses or (presigned) URLs.

    With `-loglevel level+...` each line carries its level and only errors are
    kept; otherwise (`-loglevel error`) every line is one.
    """
    picked = []
    for raw in stderr.decode("utf-8", "replace").splitlines():
        line = _CONTEXT.sub("", raw.strip())
        level = _LEVEL.match(line)
        if level and level.group(1) not in ("error", "fatal", "panic"):
            continue
        line = _URL.sub("<source URL>", _LEVEL.sub("", line)).strip()
        if line and not line.startswith("Exiting with exit code") and line not in picked:
            picked.append(line)
    return " | ".join(picked[:lines]) or "(FFmpeg gave no reason)"


def run_ffmpeg(ffmpeg: str, args: list[str], *, stdin: bytes | None = None,
               timeout: float = 120.0) -> subprocess.CompletedProcess:
    """Run FFmpeg with `args`; timeouts and a missing binary become CutFailed."""
    command = [ffmpeg, "-hide_banner", "-nostats", *args]
    try:
        return subprocess.run(command, input=stdin, capture_output=True, timeout=timeout,
                              stdin=None if stdin is not None else subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise CutFailed(f"FFmpeg took longer than {timeout:.0f} s") from None
    except OSError as err:
        raise CutFailed(f"could not run FFmpeg at {ffmpeg!r}: {err}") from None
