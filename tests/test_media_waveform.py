"""Waveform peaks (BBC audiowaveform JSON) and their PNG, from real decoded audio."""

import struct
import subprocess
import zlib

import numpy as np
import pytest

from podclips_dagster.core.audio.ffmpeg import find_ffmpeg
from podclips_dagster.core.media.waveform import (
    ANALYSIS_RATE,
    decode_mono_pcm,
    render_waveform_png,
    waveform_peaks,
)
from tests.media_fixtures import peaks_duration


def decode_png(data: bytes) -> np.ndarray:
    """RGBA pixels of a PNG written with filter 0 on every row (what encode_png writes)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, size = 8, b"", None
    while pos < len(data):
        length, tag = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        crc = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])[0]
        assert zlib.crc32(tag + body) & 0xFFFFFFFF == crc
        if tag == b"IHDR":
            size = struct.unpack(">II", body[:8])
        elif tag == b"IDAT":
            idat += body
        pos += 12 + length
    width, height = size
    rows = np.frombuffer(zlib.decompress(idat), np.uint8).reshape(height, 1 + width * 4)
    assert (rows[:, 0] == 0).all()
    return rows[:, 1:].reshape(height, width, 4)


def test_peaks_follow_the_signal_in_the_bbc_format():
    rate = 8000
    quiet = (np.sin(np.arange(rate) / 5) * 1000).astype(np.int16)  # 1 s at ~3% of full scale
    loud = (np.sin(np.arange(rate) / 5) * 30000).astype(np.int16)  # 1 s at ~92%
    peaks = waveform_peaks(np.concatenate([quiet, loud]), rate, points=100)
    assert set(peaks) == {"version", "channels", "sample_rate", "samples_per_pixel", "bits",
                          "length", "data"}
    assert (peaks["version"], peaks["channels"], peaks["bits"]) == (2, 1, 8)
    assert peaks["samples_per_pixel"] == 160 and peaks["length"] == 100
    assert len(peaks["data"]) == 2 * peaks["length"]
    lo, hi = np.array(peaks["data"][0::2]), np.array(peaks["data"][1::2])
    assert (lo <= hi).all() and lo.min() >= -128 and hi.max() <= 127
    assert hi[:50].max() <= 4 and hi[50:].min() >= 110  # 1000 >> 8 = 3; 30000 >> 8 = 117
    assert peaks_duration(peaks) == pytest.approx(2.0)


def test_peaks_of_silence_and_of_nothing():
    assert waveform_peaks(np.zeros(1000, np.int16), points=10)["data"] == [0] * 20
    empty = waveform_peaks(np.zeros(0, np.int16))
    assert empty["length"] == 0 and empty["data"] == []


def test_png_bars_are_as_tall_as_the_peaks():
    peaks = {"length": 4, "data": [-10, 10, -100, 100, 0, 0, -50, 50], "samples_per_pixel": 1,
             "sample_rate": 1}
    image = decode_png(render_waveform_png(peaks, size=(40, 101)))
    assert image.shape == (101, 40, 4)
    heights = [(image[:, x, 3] > 0).sum() for x in (4, 14, 24, 34)]
    assert heights[1] == 101  # the loudest fills the height
    assert heights[0] == pytest.approx(11, abs=2) and heights[3] == pytest.approx(51, abs=2)
    assert heights[2] <= 1  # silence: at most the centre line
    assert (image[:, 3::4, 3] == 0).all()  # the gaps between bars


def test_decoded_mp3_gives_its_duration_and_level(tmp_path):
    ffmpeg = find_ffmpeg()
    audio = tmp_path / "tone.mp3"
    subprocess.run([ffmpeg, "-v", "error", "-f", "lavfi", "-i", "sine=f=440:d=3",
                    "-af", "volume=0.5", "-ac", "2", "-b:a", "128k", str(audio)], check=True)
    samples = decode_mono_pcm(audio, ffmpeg)
    peaks = waveform_peaks(samples)
    assert peaks["sample_rate"] == ANALYSIS_RATE
    assert peaks_duration(peaks) == pytest.approx(3.0, abs=0.1)  # plus the encoder's padding
    # lavfi's sine is at 1/8 of full scale; halved: about 1/16 -> 8-bit peak near 8.
    assert 5 <= max(peaks["data"]) <= 10
