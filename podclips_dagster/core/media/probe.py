"""What a media file holds (duration, streams, frame size), read from FFmpeg's own report.

The FFmpeg binary we ship (imageio-ffmpeg) comes without ffprobe, so this
parses the input summary `ffmpeg -i FILE` prints.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from podclips_dagster.core.audio.ffmpeg import FILE_PROTOCOLS, input_args, run_ffmpeg

_DURATION = re.compile(r"Duration: (\d+):(\d+):(\d+(?:\.\d+)?)")
_STREAM = re.compile(r"Stream #\d+:\d+.*?: (Audio|Video): (\w+)([^\n]*)")
_SIZE = re.compile(r", (\d{2,5})x(\d{2,5})[ ,\[]")


@dataclass(frozen=True)
class MediaInfo:
    duration: float | None
    audio_codecs: tuple[str, ...]
    video_codecs: tuple[str, ...]
    video_size: tuple[int, int] | None


def probe_media(path: Path, ffmpeg: str) -> MediaInfo:
    # `ffmpeg -i` alone exits 1 ("no output file") after printing the summary we want.
    report = run_ffmpeg(ffmpeg, input_args(str(path), FILE_PROTOCOLS),
                        timeout=30).stderr.decode("utf-8", "replace")
    duration = None
    if m := _DURATION.search(report):
        duration = int(m.group(1)) * 3600 + int(m.group(2)) * 60 + float(m.group(3))
    audio, video, size = [], [], None
    for kind, codec, rest in _STREAM.findall(report):
        if kind == "Audio":
            audio.append(codec)
        elif codec not in ("png", "mjpeg"):  # cover art is a video stream too
            video.append(codec)
            if size is None and (s := _SIZE.search(rest)):
                size = (int(s.group(1)), int(s.group(2)))
    return MediaInfo(duration, tuple(audio), tuple(video), size)
