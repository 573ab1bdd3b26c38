"""M4A cut by its sample tables: bytes read, pre-roll, stored tables, the FFmpeg fallback.

Accuracy against tone-coded M4A sources (moov first and last, mono and stereo,
44.1 and 48 kHz) runs with the MP3 sources in test_cutter.py; this module
checks what is particular to MP4, on moto's S3 over HTTP.
"""

from __future__ import annotations

import struct
import subprocess
import uuid
from pathlib import Path

import numpy as np
import pytest

from podclips_dagster.core.audio.cutter import cut_clip
from podclips_dagster.core.audio.ffmpeg import find_ffmpeg
from podclips_dagster.core.audio.mp4 import parse_moov
from podclips_dagster.core.audio.sample_table import SampleTable
from podclips_dagster.core.audio.source_index import MemoryFrameIndexStore, source_id_for
from podclips_dagster.core.storage import S3Storage
from podclips_dagster.devstack.synthetic_audio import make_episode
from tests.audio_analysis import decode, start_offset_samples
from tests.test_cutter import CountingBucket, assert_segments_line_up

# name: (seconds, moov first)
SOURCES = {"short-last": (120, False), "long-last": (600, False), "long-first": (600, True)}
MOOV_SLACK = 64 * 1024


@pytest.fixture(scope="module")
def ffmpeg():
    return find_ffmpeg()


@pytest.fixture(scope="module")
def media(tmp_path_factory, ffmpeg) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("m4a")
    return {name: make_episode(folder / f"{name}.m4a", seconds, "m4a", channels=1,
                               ffmpeg=ffmpeg, faststart=first)
            for name, (seconds, first) in SOURCES.items()}


@pytest.fixture(scope="module")
def uploaded(s3_server, media):
    storage = S3Storage(endpoint_url=s3_server, region="us-east-1")
    name = f"m4a-{uuid.uuid4().hex[:8]}"
    storage.client.create_bucket(Bucket=name)
    for path in media.values():
        storage.client.upload_file(str(path), name, path.name)
    return storage.bucket(name)


@pytest.fixture
def bucket(uploaded):
    return CountingBucket(uploaded)


def top_level_boxes(path: Path) -> dict[bytes, int]:
    """Sizes of the file's top-level boxes, read here independently of the parser."""
    data, sizes, pos = path.read_bytes(), {}, 0
    while pos + 8 <= len(data):
        size, kind = struct.unpack_from(">I4s", data, pos)
        size = struct.unpack_from(">Q", data, pos + 8)[0] if size == 1 else size
        sizes[kind] = size
        pos += size
    return sizes


def window_budget(path: Path, seconds: float) -> int:
    """Bytes of 30 s of the track at its mean bitrate (+10 %)."""
    return int(1.1 * 30 * top_level_boxes(path)[b"mdat"] / seconds)


@pytest.mark.parametrize("name", list(SOURCES))
def test_first_cut_reads_the_window_plus_moov_and_no_more(bucket, media, ffmpeg, tmp_path, name):
    seconds = SOURCES[name][0]
    moov = top_level_boxes(media[name])[b"moov"]
    reads = []
    for start in (0.0, seconds / 2, seconds - 30):
        bucket.bytes = 0
        clip = cut_clip(bucket, media[name].name, start, 30, ffmpeg=ffmpeg, workdir=tmp_path,
                        index_store=MemoryFrameIndexStore())
        assert clip.strategy == "mp4-sample-table"
        assert clip.bytes_read == bucket.bytes  # what the cutter reports is what S3 served
        assert clip.bytes_read <= window_budget(media[name], seconds) + moov + MOOV_SLACK
        reads.append(clip.bytes_read)
        clip.path.unlink()
    assert max(reads) - min(reads) <= 0.05 * max(reads)  # flat in the offset


def test_bytes_read_do_not_grow_with_episode_length(bucket, media, ffmpeg, tmp_path):
    store = MemoryFrameIndexStore()
    reads = {}
    for name in ("short-last", "long-last"):
        cut_clip(bucket, media[name].name, 5, 5, ffmpeg=ffmpeg, workdir=tmp_path,
                 index_store=store)  # the table is stored by this first cut
        bucket.bytes = bucket.ranges = 0
        start = SOURCES[name][0] - 40
        clip = cut_clip(bucket, media[name].name, start, 30, ffmpeg=ffmpeg, workdir=tmp_path,
                        index_store=store)
        assert bucket.ranges == 1  # one GET: the window, no box headers, no moov
        assert clip.bytes_read <= window_budget(media[name], SOURCES[name][0]) + MOOV_SLACK
        reads[name] = clip.bytes_read
    assert abs(reads["long-last"] - reads["short-last"]) <= 0.05 * reads["short-last"]
    assert store.puts == 2


def test_stored_table_is_reused_and_the_clip_is_exact(bucket, media, ffmpeg, tmp_path):
    store = MemoryFrameIndexStore()
    cut_clip(bucket, media["long-first"].name, 100, 15, ffmpeg=ffmpeg, workdir=tmp_path,
             index_store=store)
    clip = cut_clip(bucket, media["long-first"].name, 333.3, 30, ffmpeg=ffmpeg,
                    workdir=tmp_path, index_store=store)
    assert store.puts == 1
    assert_segments_line_up(clip.path, ffmpeg, 333.3, 30)


@pytest.mark.parametrize("start", [47.3, 12.01])
def test_pre_roll_makes_the_first_samples_match_the_full_decode(bucket, media, ffmpeg, tmp_path,
                                                                 start):
    """Without pre-roll the first AAC frame decodes without its overlap half (measured:
    errors up to 0.86 of full scale); with it, only the MP3 encoding error is left."""
    reference = decode(media["short-last"], ffmpeg)
    clip = cut_clip(bucket, media["short-last"].name, start, 5, ffmpeg=ffmpeg,
                    workdir=tmp_path, index_store=MemoryFrameIndexStore(), fade_ms=0)
    audio = decode(clip.path, ffmpeg)
    at = round(start * reference.rate)
    error = np.max(np.abs(audio.samples[:1024] - reference.samples[at:at + 1024]))
    assert error < 0.3, error


def test_fragmented_mp4_falls_back_to_ffmpeg_seek(source_fragmented, ffmpeg, tmp_path):
    clip = cut_clip(source_fragmented, "fragmented.m4a", 23.4, 30, ffmpeg=ffmpeg,
                    workdir=tmp_path, index_store=MemoryFrameIndexStore())
    assert (clip.strategy, clip.source_format) == ("ffmpeg-seek", "m4a")
    assert_segments_line_up(clip.path, ffmpeg, 23.4, 30)


@pytest.fixture
def source_fragmented(uploaded, media, ffmpeg, tmp_path):
    """The same audio with an empty `moov` and its samples in fragments (no sample table)."""
    out = tmp_path / "fragmented.m4a"
    subprocess.run([ffmpeg, "-hide_banner", "-loglevel", "error", "-i", str(media["short-last"]),
                    "-c", "copy", "-movflags", "frag_keyframe+empty_moov", "-f", "mp4", str(out)],
                   check=True)
    uploaded.put_bytes("fragmented.m4a", out.read_bytes())
    return uploaded


@pytest.fixture
def source_with_video(uploaded, media, ffmpeg, tmp_path):
    """The same audio muxed with a small video track: audio chunks interleaved with video."""
    out = tmp_path / "with-video.mp4"
    subprocess.run([ffmpeg, "-hide_banner", "-loglevel", "error", "-i", str(media["short-last"]),
                    "-f", "lavfi", "-i", "color=c=black:s=16x16:r=2:d=120", "-map", "1:v",
                    "-map", "0:a", "-c:a", "copy", "-c:v", "mpeg4", "-shortest", "-f", "mp4",
                    str(out)], check=True)
    uploaded.put_bytes("with-video.mp4", out.read_bytes())
    return CountingBucket(uploaded)


def test_audio_interleaved_with_video_is_cut_from_its_own_samples(source_with_video, media,
                                                                   ffmpeg, tmp_path):
    store = MemoryFrameIndexStore()
    cut_clip(source_with_video, "with-video.mp4", 5, 5, ffmpeg=ffmpeg, workdir=tmp_path,
             index_store=store)
    info = source_with_video.head("with-video.mp4")
    stored = store.get(source_id_for(source_with_video, "with-video.mp4", info.etag, info.size))
    assert len(SampleTable.from_bytes(stored).chunk_offsets) > 100  # many interleaved chunks
    source_with_video.bytes = 0
    clip = cut_clip(source_with_video, "with-video.mp4", 47.3, 30, ffmpeg=ffmpeg,
                    workdir=tmp_path, index_store=store)
    assert clip.strategy == "mp4-sample-table"
    assert clip.bytes_read == source_with_video.bytes
    assert clip.bytes_read <= window_budget(media["short-last"], 120) + MOOV_SLACK
    assert_segments_line_up(clip.path, ffmpeg, 47.3, 30)
    lag = start_offset_samples(decode(media["short-last"], ffmpeg), decode(clip.path, ffmpeg),
                               47.3)
    assert abs(lag) <= 2


def _moov_payload(path: Path) -> bytes:
    data = path.read_bytes()
    at = data.index(b"moov")
    return data[at + 4:at - 4 + struct.unpack_from(">I", data, at - 4)[0]]


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def test_priming_comes_from_itunsmpb_when_there_is_no_edit_list(media):
    moov = _moov_payload(media["long-first"])
    assert parse_moov(moov, "x").priming == 1024  # FFmpeg's AAC encoder: elst media_time
    smpb = b" 00000000 00000840 000003C0 0000000000A17600 00000000"
    ilst = _box(b"----", _box(b"mean", bytes(4) + b"com.apple.iTunes")
                + _box(b"name", bytes(4) + b"iTunSMPB") + _box(b"data", bytes(8) + smpb))
    no_edit = moov.replace(b"edts", b"free", 1)
    udta = _box(b"udta", _box(b"meta", bytes(4) + _box(b"ilst", ilst)))
    table = parse_moov(no_edit + udta, "x")
    assert (table.priming, table.content_samples) == (2112, 0xA17600)


def test_a_3h_table_is_stored_compactly_and_round_trips():
    rng = np.random.default_rng(7)
    samples = 466_000  # 3 h of 1024-sample AAC frames at 44.1 kHz
    sizes = rng.integers(200, 420, samples)
    chunk_len = 44  # about one second per chunk, as muxers interleave
    chunks = np.arange(0, samples, chunk_len)
    starts = np.concatenate(([0], np.cumsum(sizes)))[chunks] + 48
    table = SampleTable.build(
        asc=bytes((0x12, 0x10)), timescale=44100, stts=np.array([[samples, 1024]]),
        stsc=np.array([[1, chunk_len]]), sizes=sizes, chunk_offsets=starts, priming=1024,
        content_samples=None)
    stored = table.to_bytes()
    assert len(stored) < 2_000_000  # MongoDB's limit is 16 MB
    back = SampleTable.from_bytes(stored)
    assert np.array_equal(back.sample_offsets(), table.sample_offsets())
    assert np.array_equal(back.sample_offsets()[:3], [48, 48 + sizes[0], 48 + sizes[:2].sum()])
    assert back.duration_seconds == pytest.approx((samples * 1024 - 1024) / 44100)
