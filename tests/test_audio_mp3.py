"""MP3 layout parsing and the frame index, on real LAME output and built streams."""

from __future__ import annotations

import random
import time

import numpy as np
import pytest

from podclips_dagster.core.audio.ffmpeg import find_ffmpeg
from podclips_dagster.core.audio.frame_index import SEEK_STEP, FrameIndex, build_frame_index
from podclips_dagster.core.audio.mp3 import (
    Mp3Layout,
    cbr_offsets_regular,
    describe_mp3_file,
    find_frame,
    frame_length,
    id3v2_size,
    parse_frame_header,
    parse_layout,
    walk_frames,
)
from podclips_dagster.devstack.synthetic_audio import make_episode

MPEG1_STEREO = 0xFFFB0040  # MPEG-1 Layer III, no CRC, 44.1 kHz, joint stereo


def header(bitrate_index: int, padding: int = 0, base: int = MPEG1_STEREO) -> int:
    return base | (bitrate_index << 12) | (padding << 9)


@pytest.fixture(scope="module")
def episodes(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mp3")
    ffmpeg = find_ffmpeg()
    return {kind: make_episode(folder / f"{kind}.mp3", 40, kind, ffmpeg=ffmpeg).read_bytes()
            for kind in ("mp3-cbr", "mp3-vbr")}


def layout_of(data: bytes) -> Mp3Layout:
    return parse_layout(data, find_frame(data, id3v2_size(data)))


def test_id3v2_size_reads_the_syncsafe_size_and_footer():
    assert id3v2_size(b"ID3\x04\x00\x00\x00\x00\x02\x01" + bytes(300)) == 10 + 257
    assert id3v2_size(b"ID3\x04\x00\x10\x00\x00\x02\x01") == 10 + 257 + 10  # footer flag
    assert id3v2_size(b"ID3\x03\x00\x00\x00\x00\x00\x80") == 0  # not syncsafe: not a tag
    assert id3v2_size(b"\xff\xfb\x90\x44" + bytes(10)) == 0


@pytest.mark.parametrize("word, length, samples, rate, channels", [
    (header(9), 417, 1152, 44100, 2),                 # 128 kbps, 44.1 kHz
    (header(9, padding=1), 418, 1152, 44100, 2),
    (0xFFFB94C4, 384, 1152, 48000, 1),                # 128 kbps, 48 kHz, mono
    (0xFFF38444, 192, 576, 24000, 2),                 # MPEG-2, 64 kbps, 24 kHz
    (0xFFE38444, 384, 576, 12000, 2),                 # MPEG-2.5, 64 kbps, 12 kHz
])
def test_frame_header_fields(word, length, samples, rate, channels):
    parsed = parse_frame_header(word.to_bytes(4, "big"), 0)
    assert (parsed.length, parsed.samples, parsed.sample_rate, parsed.channels) == (
        length, samples, rate, channels)


@pytest.mark.parametrize("word", [
    header(0),        # free format
    header(15),       # bad bitrate
    0xFFFD9044,       # Layer II
    0xFFFB9C44,       # reserved sample rate
    0xFFEB9044,       # reserved version
])
def test_invalid_headers_are_rejected(word):
    assert frame_length(word) is None


def test_find_frame_skips_a_lone_sync_word():
    frames = b"".join(header(9).to_bytes(4, "big") + bytes(413) for _ in range(5))
    noise = header(9).to_bytes(4, "big") + bytes(100)  # valid header, no chain behind it
    assert find_frame(noise + frames) == len(noise)


def test_lame_layout_of_cbr_and_vbr(episodes):
    cbr, vbr = layout_of(episodes["mp3-cbr"]), layout_of(episodes["mp3-vbr"])
    assert not cbr.vbr and vbr.vbr
    for layout, data in ((cbr, episodes["mp3-cbr"]), (vbr, episodes["mp3-vbr"])):
        assert layout.start_skip == 576 + 529 and layout.sample_rate == 44100
        assert layout.content_samples(layout.frames) == 40 * 44100  # gapless: exact length
        assert layout.stream_end == len(data)
        word = parse_frame_header(data, layout.audio_start).word
        assert walk_frames(data, layout.audio_start, word) == (layout.frames, len(data))
    assert cbr_offsets_regular(episodes["mp3-cbr"][cbr.audio_start:], cbr, cbr.audio_start)
    assert not cbr_offsets_regular(episodes["mp3-vbr"][vbr.audio_start:], vbr, vbr.audio_start)


def test_describe_mp3_file_gives_the_gapless_duration(episodes, tmp_path):
    path = tmp_path / "episode.mp3"
    path.write_bytes(episodes["mp3-vbr"])
    info = describe_mp3_file(path)
    assert (info.duration_seconds, info.sample_rate, info.channels) == (40.0, 44100, 2)
    path.write_bytes(b"no audio here")
    assert describe_mp3_file(path) is None


def _walked_offsets(data: bytes, start: int) -> list[int]:
    offsets, pos = [], start
    while (parsed := parse_frame_header(data, pos)) and pos + parsed.length <= len(data):
        offsets.append(pos)
        pos += parsed.length
    return offsets


@pytest.mark.parametrize("chunk", [1 << 20, 1000, 97])
def test_index_matches_a_walk_and_survives_serialization(episodes, chunk):
    data = episodes["mp3-vbr"]
    layout = layout_of(data)
    index = build_frame_index((data[i:i + chunk] for i in range(0, len(data), chunk)), layout)
    offsets = _walked_offsets(data, layout.audio_start)
    assert index.frame_count == len(offsets) == layout.frames
    assert list(index.seek_offsets) == offsets[::SEEK_STEP]
    restored = FrameIndex.from_bytes(index.to_bytes())
    assert restored.layout == layout and restored.frame_count == index.frame_count
    assert list(restored.seek_offsets) == offsets[::SEEK_STEP]
    for first, end in ((0, 10), (37, 1200), (len(offsets) - 5, len(offsets))):
        start, stop, frame = restored.byte_span(first, end)
        assert frame <= first and start == offsets[frame]
        assert stop >= (offsets[end] if end < len(offsets) else len(data))


def test_index_resyncs_after_garbage_and_ignores_trailing_tags(episodes):
    data = episodes["mp3-cbr"]
    layout = layout_of(data)
    offsets = _walked_offsets(data, layout.audio_start)
    cut = offsets[500]
    garbage = random.Random(3).randbytes(700)
    damaged = data[:cut] + garbage + data[cut:] + b"TAG" + bytes(125)
    index = build_frame_index((damaged[i:i + 4096] for i in range(0, len(damaged), 4096)), layout)
    assert index.frame_count == len(offsets)
    assert index.audio_end == len(data) + len(garbage)
    point = 512 // SEEK_STEP
    assert index.seek_offsets[point] == offsets[point * SEEK_STEP] + len(garbage)


def test_index_stops_at_a_cut_off_last_frame(episodes):
    data = episodes["mp3-vbr"]
    layout = layout_of(data)
    offsets = _walked_offsets(data, layout.audio_start)
    truncated = data[:offsets[-10] + 20]
    index = build_frame_index([truncated], layout)
    assert index.frame_count == len(offsets) - 10 and index.audio_end == offsets[-10]


def test_index_of_an_hour_of_vbr_is_small_and_quick():
    # Headers of a random 64-160 kbps VBR stream: harder to compress than real speech.
    rng = np.random.default_rng(1)
    indexes = rng.choice(np.arange(5, 12), 137_813)  # one hour of 44.1 kHz frames
    lengths = {int(i): frame_length(header(int(i)))[0] for i in range(5, 12)}
    sizes = np.array([lengths[int(i)] for i in indexes])
    stream = bytearray(int(sizes.sum()))
    offsets = np.concatenate(([0], np.cumsum(sizes)[:-1])).tolist()
    for offset, i in zip(offsets, indexes.tolist(), strict=False):
        stream[offset:offset + 4] = header(i).to_bytes(4, "big")
    data = bytes(stream)
    layout = Mp3Layout(0, 44100, 2, 1152, 128, True, None, None, 0, None)
    began = time.perf_counter()
    index = build_frame_index((data[i:i + (1 << 20)] for i in range(0, len(data), 1 << 20)), layout)
    elapsed = time.perf_counter() - began
    assert index.frame_count == len(indexes)
    assert len(index.to_bytes()) <= 20_000
    assert elapsed < 2.0  # ~0.12 s on an idle core


def test_a_damaged_index_record_is_rejected(episodes):
    data = episodes["mp3-vbr"]
    record = build_frame_index([data], layout_of(data)).to_bytes()
    for damaged in (b"not an index", record[:40], record[:-5] + b"xxxxx"):
        with pytest.raises(ValueError):
            FrameIndex.from_bytes(damaged)


def test_index_survives_a_damaged_first_frame(episodes):
    data = bytearray(episodes["mp3-cbr"])
    layout = layout_of(bytes(data))
    offsets = _walked_offsets(bytes(data), layout.audio_start)
    data[layout.audio_start:layout.audio_start + 4] = bytes(4)
    index = build_frame_index([bytes(data)], layout)
    assert index.seek_offsets[0] == offsets[1] and index.frame_count == len(offsets) - 1
    restored = FrameIndex.from_bytes(index.to_bytes())
    assert list(restored.seek_offsets) == list(index.seek_offsets)
