"""Finding and running the FFmpeg binary."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import threading
import time
from functools import lru_cache

from podclips_dagster.core.cancellation import Cancelled
from podclips_dagster.core.cancellation import current as current_cancellation
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


# FFmpeg parses third-party audio: it gets no credentials (AWS_*, MONGODB_URI, ...), only
# what finding libraries, fonts and temp space needs.
_ENV_KEPT = ("PATH", "HOME", "TMPDIR", "LANG", "LANGUAGE", "TZ", "LD_LIBRARY_PATH",
             "FONTCONFIG_FILE", "FONTCONFIG_PATH")
# What each kind of input may open: `-protocol_whitelist` also covers what the input
# refers to (playlists, `concat:`, `subfile,`), so a crafted file cannot reach elsewhere.
PIPE_PROTOCOLS = "pipe"
FILE_PROTOCOLS = "file"
URL_PROTOCOLS = "file,http,https,tcp,tls,crypto"
_POLL_SECONDS = 0.1  # how soon a cancelled cut kills FFmpeg


def ffmpeg_environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k in _ENV_KEPT or k.startswith("LC_")}


def input_args(source: str, protocols: str, input_format: str | None = None) -> list[str]:
    """The options and `-i` for one input: its protocols, and its format when known."""
    forced = ["-f", input_format] if input_format else []
    return ["-protocol_whitelist", protocols, *forced, "-i", source]


def run_ffmpeg(ffmpeg: str, args: list[str], *, stdin: bytes | None = None,
               timeout: float = 120.0, cwd=None) -> subprocess.CompletedProcess:
    """Run FFmpeg with `args` in a minimal environment.

    Timeouts, a missing binary, a kill by a signal and a cancelled cut
    (core/cancellation.py) become CutFailed / Cancelled.
    """
    command = [ffmpeg, "-hide_banner", "-nostats", "-nostdin", *args]
    cancellation = current_cancellation()
    deadline = time.monotonic() + timeout
    # Our own pipe and writer thread: communicate() polled with a timeout stops feeding
    # its input after the first timeout (CPython registers stdin only on the first call).
    read_end, write_end = os.pipe() if stdin is not None else (subprocess.DEVNULL, None)
    try:
        proc = subprocess.Popen(command, stdin=read_end, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=ffmpeg_environment(), cwd=cwd)
    except OSError as err:
        if write_end is not None:
            os.close(write_end)
        raise CutFailed(f"could not run FFmpeg at {ffmpeg!r}: {err}") from None
    finally:
        if write_end is not None:
            os.close(read_end)
    feeder = None
    if write_end is not None:
        feeder = threading.Thread(target=_feed, args=(write_end, stdin), daemon=True)
        feeder.start()
    with proc:
        while True:
            try:
                out, err = proc.communicate(timeout=max(0.0, min(
                    _POLL_SECONDS, deadline - time.monotonic())))
                break
            except subprocess.TimeoutExpired:
                stop = cancellation is not None and cancellation.cancelled
                if stop or time.monotonic() >= deadline:
                    proc.kill()
                    proc.communicate()
                    if stop:
                        raise Cancelled(f"FFmpeg stopped: {cancellation.why()}") from None
                    raise CutFailed(f"FFmpeg took longer than {timeout:.0f} s") from None
    if feeder is not None:
        feeder.join()  # FFmpeg exited: its end of the pipe is closed, the writer is done
    if proc.returncode < 0:
        name = signal.Signals(-proc.returncode).name
        raise CutFailed(f"FFmpeg was killed by {name} (signal {-proc.returncode})")
    return subprocess.CompletedProcess(command, proc.returncode, out, err)


def _feed(fd: int, data: bytes) -> None:
    view = memoryview(data)
    try:
        while view:
            view = view[os.write(fd, view):]
    except BrokenPipeError:
        pass  # FFmpeg stopped reading (it failed, or was killed): its exit says why
    finally:
        os.close(fd)
