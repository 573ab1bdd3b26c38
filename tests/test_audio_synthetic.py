"""Synthetic tone-coded episodes: distinct tones, exact lengths, realistic containers."""

from __future__ import annotations

import struct
import time

import pytest

from podclips_dagster.core.audio.ffmpeg import find_ffmpeg
from podclips_dagster.core.audio.mp3 import describe_mp3_file, id3v2_size
from podclips_dagster.devstack.synthetic_audio import (
    SEGMENTS,
    make_episode,
    make_transcript_chunks,
    segment_at,
    segment_frequency,
)
from tests.audio_analysis import decode, segment_of


def test_segment_tones_are_distinct_and_neighbours_far_apart():
    tones = [segment_frequency(i) for i in range(SEGMENTS)]
    assert len(set(tones)) == SEGMENTS  # 3 h of 10 s segments
    assert min(tones) >= 200 and max(tones) <= 5000
    assert min(abs(a - b) for a, b in zip(tones, tones[1:], strict=False)) >= 1000
    assert segment_at(23.4) == 2 and segment_at(30.0) == 3


def test_cbr_episode_with_a_big_cover_is_quick_to_make_and_exact(tmp_path):
    began = time.perf_counter()
    path = make_episode(tmp_path / "e.mp3", 300, "mp3-cbr", cover_kb=400)
    elapsed = time.perf_counter() - began
    data = path.read_bytes()
    assert id3v2_size(data) >= 400 * 1024 and b"APIC" in data[:100]
    info = describe_mp3_file(path)
    assert (info.duration_seconds, info.bitrate_kbps) == (300.0, 128)
    assert elapsed < 4.0  # ~1.2 s on an idle 2-core machine


def test_tones_decode_to_their_segments(tmp_path):
    ffmpeg = find_ffmpeg()
    path = make_episode(tmp_path / "e.mp3", 40, "mp3-vbr", sample_rate=48000, channels=1)
    audio = decode(path, ffmpeg)
    assert audio.rate == 48000 and audio.duration == pytest.approx(40, abs=1e-3)
    for segment in range(4):
        middle = int((segment * 10 + 5) * audio.rate)
        assert segment_of(audio.samples[middle:middle + audio.rate // 2], audio.rate) == segment


def _top_level_atoms(data: bytes) -> list[bytes]:
    atoms, pos = [], 0
    while pos + 8 <= len(data):
        size, name = struct.unpack_from(">I4s", data, pos)
        atoms.append(name)
        pos += size
    return atoms


def test_m4a_keeps_moov_at_the_end(tmp_path):
    atoms = _top_level_atoms(make_episode(tmp_path / "e.m4a", 20, "m4a").read_bytes())
    assert atoms.index(b"mdat") < atoms.index(b"moov")


def test_m4a_with_faststart_puts_moov_first(tmp_path):
    atoms = _top_level_atoms(make_episode(tmp_path / "e.m4a", 20, "m4a", faststart=True)
                             .read_bytes())
    assert atoms.index(b"moov") < atoms.index(b"mdat")


def test_bad_arguments_are_refused(tmp_path):
    with pytest.raises(ValueError):
        make_episode(tmp_path / "e.wav", 10, "wav")
    with pytest.raises(ValueError):
        make_episode(tmp_path / "e.m4a", 10, "m4a", cover_kb=10)
    with pytest.raises(ValueError):
        make_episode(tmp_path / "e.mp3", 10, "mp3-cbr", faststart=True)


def test_transcript_chunks_cover_the_episode():
    chunks = make_transcript_chunks(600, seed=7)
    assert [c["chunk_index"] for c in chunks] == list(range(len(chunks)))
    assert chunks[0]["start_time"] == 0 and chunks[-1]["end_time"] == 600
    for before, after in zip(chunks, chunks[1:], strict=False):
        assert before["end_time"] == after["start_time"]
        assert 20 <= before["end_time"] - before["start_time"] <= 40.01
    assert all(len(c["text"].split()) >= 8 and c["text"].endswith(".") for c in chunks)
    assert make_transcript_chunks(600, seed=7) == chunks
