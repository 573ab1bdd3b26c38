"""A clip's waveform: peaks in the BBC audiowaveform JSON format, and a PNG of them.

The JSON (`version` 2, one channel, 8-bit min/max pairs) is what
audiowaveform writes and what players such as wavesurfer.js and peaks.js
read: pixel `i` covers samples `[i * samples_per_pixel, (i + 1) *
samples_per_pixel)` at `sample_rate`, and `data` holds its min and max.
Peaks come from decoding the stored clip (what listeners hear), mixed to
mono at 22,050 Hz: plenty for a picture, half the PCM of 44.1 kHz.
"""

from __future__ import annotations

import math
import struct
import zlib
from pathlib import Path
from typing import TYPE_CHECKING

from podclips_dagster.core.audio.ffmpeg import (
    FILE_PROTOCOLS,
    error_summary,
    input_args,
    run_ffmpeg,
)
from podclips_dagster.core.errors import CutFailed

# numpy is imported where it is used: the sidecar's cold start (a Lambda's first answer)
# does not need it, and importing it is about a fifth of that start (benchmarks/cold_start.py).
if TYPE_CHECKING:
    import numpy as np

ANALYSIS_RATE = 22050
DEFAULT_POINTS = 800  # a fixed-size summary: ~6 KB of JSON whatever the clip's length
PNG_SIZE = (1600, 240)  # twice the points: sharp on high-density screens
PNG_COLOR = (56, 189, 248, 255)  # sky blue on transparent, readable on light and dark pages
BAR_GAP_EVERY = 4  # every 4th column left empty


def decode_mono_pcm(audio: Path, ffmpeg: str, sample_rate: int = ANALYSIS_RATE) -> np.ndarray:
    """The audio as mono 16-bit samples."""
    import numpy as np
    proc = run_ffmpeg(ffmpeg, ["-v", "error", *input_args(str(audio), FILE_PROTOCOLS),
                               "-map", "0:a:0", "-ac", "1",
                               "-ar", str(sample_rate), "-f", "s16le", "-acodec", "pcm_s16le", "-"])
    if proc.returncode != 0:
        raise CutFailed(f"FFmpeg could not decode {audio.name} for its waveform: "
                        f"{error_summary(proc.stderr)}")
    return np.frombuffer(proc.stdout, dtype="<i2")


def waveform_peaks(samples: np.ndarray, sample_rate: int = ANALYSIS_RATE,
                   points: int = DEFAULT_POINTS) -> dict:
    """BBC audiowaveform JSON (version 2) with about `points` min/max pairs."""
    import numpy as np
    if samples.size == 0:
        return {"version": 2, "channels": 1, "sample_rate": sample_rate,
                "samples_per_pixel": 1, "bits": 8, "length": 0, "data": []}
    per_pixel = max(1, math.ceil(samples.size / points))
    length = math.ceil(samples.size / per_pixel)
    # Pad the last pixel with silence so every pixel is a whole row.
    padded = np.zeros(length * per_pixel, dtype=np.int16)
    padded[:samples.size] = samples
    rows = padded.reshape(length, per_pixel)
    # 16-bit to 8-bit the way audiowaveform does it: keep the top byte.
    lo = (rows.min(axis=1).astype(np.int32) >> 8).astype(np.int8)
    hi = (rows.max(axis=1).astype(np.int32) >> 8).astype(np.int8)
    data = np.empty(length * 2, dtype=np.int8)
    data[0::2], data[1::2] = lo, hi
    return {"version": 2, "channels": 1, "sample_rate": sample_rate,
            "samples_per_pixel": per_pixel, "bits": 8, "length": length,
            "data": data.tolist()}


def render_waveform_png(peaks: dict, size: tuple[int, int] = PNG_SIZE,
                        color: tuple[int, int, int, int] = PNG_COLOR) -> bytes:
    """A PNG of the peaks: a bar per column (every 4th left out), the loudest peak full height."""
    import numpy as np
    width, height = size
    data = np.asarray(peaks["data"], dtype=np.float64).reshape(-1, 2)
    if data.size == 0:
        data = np.zeros((1, 2))
    # Each column takes the extreme of the pixels it covers (or repeats one, when stretched).
    starts = np.arange(width) * len(data) // width
    lo = np.minimum.reduceat(data[:, 0], starts)
    hi = np.maximum.reduceat(data[:, 1], starts)
    scale = max(np.abs(data).max(), 1.0)
    mid = (height - 1) / 2
    top = np.floor(mid - hi / scale * mid).astype(int)
    bottom = np.ceil(mid - lo / scale * mid).astype(int)
    rows = np.arange(height)[:, None]
    mask = (rows >= np.minimum(top, bottom)[None, :]) & (rows <= np.maximum(top, bottom)[None, :])
    mask[:, BAR_GAP_EVERY - 1::BAR_GAP_EVERY] = False  # bars with gaps read as a waveform
    image = np.zeros((height, width, 4), dtype=np.uint8)
    image[mask] = color
    return encode_png(image)


def encode_png(rgba: np.ndarray) -> bytes:
    """An RGBA uint8 array as PNG bytes (no imaging library needed for one picture)."""
    import numpy as np
    height, width, _ = rgba.shape
    raw = np.hstack([np.zeros((height, 1), dtype=np.uint8), rgba.reshape(height, width * 4)])

    def chunk(tag: bytes, body: bytes) -> bytes:
        return (struct.pack(">I", len(body)) + tag + body
                + struct.pack(">I", zlib.crc32(tag + body) & 0xFFFFFFFF))

    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw.tobytes(), 6))
            + chunk(b"IEND", b""))
