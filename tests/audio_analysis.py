"""Decode clips and find the tones in them: the tests' ears."""

from __future__ import annotations

import math
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from podclips_dagster.devstack.synthetic_audio import SEGMENT_SECONDS, SEGMENTS, segment_frequency


@dataclass(frozen=True)
class Decoded:
    samples: np.ndarray  # mono float32 in [-1, 1]
    rate: int

    @property
    def duration(self) -> float:
        return len(self.samples) / self.rate


def decode(path: Path | str, ffmpeg: str) -> Decoded:
    """Decode with FFmpeg (gapless trimming applied, as a player does) to mono PCM."""
    probe = subprocess.run([ffmpeg, "-hide_banner", "-i", str(path)], capture_output=True)
    rate = int(re.search(rb"Audio: .*?(\d+) Hz", probe.stderr).group(1))
    result = subprocess.run(
        [ffmpeg, "-hide_banner", "-loglevel", "error", "-i", str(path), "-map", "0:a:0",
         "-ac", "1", "-f", "f32le", "-"], capture_output=True, check=True)
    return Decoded(np.frombuffer(result.stdout, "<f4"), rate)


def stream_info(path: Path | str, ffmpeg: str) -> str:
    """FFmpeg's description of the file's streams (its stderr from `-i`)."""
    probe = subprocess.run([ffmpeg, "-hide_banner", "-i", str(path)], capture_output=True)
    return probe.stderr.decode("utf-8", "replace")


def dominant_frequency(samples: np.ndarray, rate: int) -> float:
    """Strongest frequency (Hz) by FFT with a Hann window and parabolic peak fit."""
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    peak = int(np.argmax(spectrum[1:-1])) + 1
    a, b, c = np.log(spectrum[peak - 1:peak + 2] + 1e-12)
    shift = 0.5 * (a - c) / (a - 2 * b + c)
    return (peak + shift) * rate / len(samples)


def segment_of(samples: np.ndarray, rate: int) -> int:
    """The synthetic segment whose tone dominates `samples` (>= 0.3 s for 4 Hz steps)."""
    freq = dominant_frequency(samples, rate)
    table = np.array([segment_frequency(i) for i in range(SEGMENTS)])
    return int(np.argmin(np.abs(table - freq)))


def tone_amplitude(samples: np.ndarray, rate: int, freq: float, window: int) -> np.ndarray:
    """Moving amplitude of one tone: demodulate at `freq`, average over `window` samples."""
    n = np.arange(len(samples))
    mixed = samples * np.exp(-2j * np.pi * freq * n / rate)
    sums = np.cumsum(np.concatenate(([0], mixed)))
    return 2 * np.abs(sums[window:] - sums[:-window]) / window


def tone_change_time(samples: np.ndarray, rate: int, before_hz: float, after_hz: float,
                     near: float, search: float = 0.2) -> float:
    """Time (s) where `after_hz` takes over from `before_hz`, searched within
    `near` +/- `search` seconds: where their 5 ms moving amplitudes cross."""
    window = int(rate * 0.005)
    lo = max(0, int((near - search) * rate))
    hi = min(len(samples), int((near + search) * rate))
    part = samples[lo:hi]
    after = tone_amplitude(part, rate, after_hz, window)
    diff = after - tone_amplitude(part, rate, before_hz, window)
    crossing = int(np.argmax(diff > 0))
    # The window ending at sample i covers (i - window, i]: centre it on the change.
    return (lo + crossing + window / 2) / rate


def rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(samples, dtype=np.float64)))) if len(samples) else 0.0


def leading_silence(samples: np.ndarray, rate: int, threshold: float = 0.01) -> float:
    """Seconds before the first 1 ms block whose RMS reaches `threshold` (-40 dBFS)."""
    block = max(1, rate // 1000)
    for i in range(0, len(samples), block):
        if rms(samples[i:i + block]) >= threshold:
            return i / rate
    return len(samples) / rate


def start_offset_samples(reference: Decoded, clip: Decoded, expected_start: float,
                         search: int = 2000) -> int:
    """How late (samples; negative: early) the clip starts against the reference
    decode of its source: least-squares match of 0.2 s around the first tone
    boundary 0.15 s or more into the clip (a steady tone alone repeats every period)."""
    boundary = math.ceil((expected_start + 0.15) / SEGMENT_SECONDS) * SEGMENT_SECONDS
    at = round((boundary - expected_start - 0.1) * clip.rate)
    piece = clip.samples[at:at + round(0.2 * clip.rate)]
    centre = round((boundary - 0.1) * reference.rate)
    errors = [
        np.sum(np.square(reference.samples[centre + lag:centre + lag + len(piece)] - piece))
        for lag in range(-search, search + 1)
    ]
    return search - int(np.argmin(errors))
