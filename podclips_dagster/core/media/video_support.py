"""Whether this installation can render audiograms, checked once per process.

A Lambda layer with a minimal FFmpeg build (no libx264, no libass) or no font
would fail every render after seconds of work; asking FFmpeg what it has
costs two runs of `ffmpeg -encoders/-filters` (about 0.1 s) once.
"""

from __future__ import annotations

import re
from functools import lru_cache

from podclips_dagster.core.audio.ffmpeg import run_ffmpeg
from podclips_dagster.core.errors import CutFailed, DependencyUnavailable, VideoUnsupported
from podclips_dagster.core.media.audiogram import find_font

_ENCODERS = ("libx264", "aac")
_FILTERS = ("showwaves", "overlay", "drawtext", "subtitles")


@lru_cache(maxsize=4)
def missing_for_video(ffmpeg: str, font_file: str | None) -> tuple[str, ...]:
    """What audiograms need and this FFmpeg or system lacks (empty: nothing)."""
    encoders, filters = (_listing(ffmpeg, flag) for flag in ("-encoders", "-filters"))
    missing = [f"the {name} encoder" for name in _ENCODERS
               if not re.search(rf"^\s*\S+\s+{name}\s", encoders, re.MULTILINE)]
    missing += [f"the {name} filter" for name in _FILTERS
                if not re.search(rf"^\s*\S+\s+{name}\s", filters, re.MULTILINE)]
    try:
        find_font(font_file)
    except DependencyUnavailable as err:
        missing.append(f"a font ({err.message})")
    return tuple(missing)


def require_video_support(ffmpeg: str, font_file: str | None) -> None:
    """Raise VideoUnsupported naming what is missing (the API answers 501)."""
    if missing := missing_for_video(ffmpeg, font_file):
        raise VideoUnsupported(
            f"audiogram videos cannot be made here: FFmpeg at {ffmpeg} or the system lacks "
            f"{', '.join(missing)} (deploy/README.md: the FFmpeg layer recipe)")


def _listing(ffmpeg: str, flag: str) -> str:
    # Through run_ffmpeg like every other FFmpeg call: its minimal environment.
    try:
        return run_ffmpeg(ffmpeg, [flag], timeout=30).stdout.decode(errors="replace")
    except CutFailed:  # no binary, or it hung: nothing is listed
        return ""
