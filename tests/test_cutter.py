"""The clip cutter against tone-coded episodes in moto's S3 over HTTP, real FFmpeg.

Every 10 s segment of a synthetic episode is its own tone, so an FFT of the
clip says where in the episode it starts and ends.
"""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from podclips_dagster.core.audio.cutter import cut_clip
from podclips_dagster.core.audio.ffmpeg import find_ffmpeg
from podclips_dagster.core.audio.mp3 import (
    describe_mp3_file,
    find_frame,
    id3v2_size,
    parse_frame_header,
    parse_info_tag,
)
from podclips_dagster.core.audio.source_index import MemoryFrameIndexStore
from podclips_dagster.core.errors import (
    ChunkOutOfRange,
    CutFailed,
    SourceMissing,
    SourceUnreadable,
)
from podclips_dagster.core.storage import LocalStorage, S3Storage
from podclips_dagster.devstack.synthetic_audio import (
    SEGMENT_SECONDS,
    make_episode,
    segment_frequency,
)
from tests.audio_analysis import (
    decode,
    leading_silence,
    rms,
    segment_of,
    start_offset_samples,
    stream_info,
    tone_change_time,
)

MAX_BYTES_30S = 600_000
# name: (kind, seconds, sample rate, channels, cover KiB)
SOURCES = {
    "cbr": ("mp3-cbr", 180, 44100, 2, 0),
    "cbr48-mono": ("mp3-cbr", 120, 48000, 1, 0),
    "cbr-long": ("mp3-cbr", 900, 44100, 1, 0),
    "vbr": ("mp3-vbr", 180, 44100, 2, 0),
    "vbr48-mono": ("mp3-vbr", 120, 48000, 1, 0),
    "cbr22-mono": ("mp3-cbr", 120, 22050, 1, 0),   # MPEG-2 Layer III: 576-sample frames
    "vbr22-mono": ("mp3-vbr", 120, 22050, 1, 0),
    "cover": ("mp3-cbr", 120, 44100, 2, 400),
    "m4a": ("m4a", 180, 44100, 2, 0),                # moov at the end
    "m4a48-mono": ("m4a", 120, 48000, 1, 0),
    "m4a48-first": ("m4a", 120, 48000, 2, 0),        # moov first (faststart)
    "m4a-first-mono": ("m4a", 120, 44100, 1, 0),
}
FASTSTART = {"m4a48-first", "m4a-first-mono"}
ALL = list(SOURCES)


@pytest.fixture(scope="session")
def ffmpeg():
    return find_ffmpeg()


@pytest.fixture(scope="session")
def media(tmp_path_factory, ffmpeg) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("media")

    def make(name):
        kind, seconds, rate, channels, cover = SOURCES[name]
        suffix = ".m4a" if kind == "m4a" else ".mp3"
        return name, make_episode(folder / f"{name}{suffix}", seconds, kind, rate, channels,
                                  cover, ffmpeg=ffmpeg, faststart=name in FASTSTART)

    with ThreadPoolExecutor(2) as pool:  # one FFmpeg encoder per core
        return dict(pool.map(make, SOURCES))


class CountingBucket:
    """An S3Bucket whose reads are counted here, independently of the cutter."""

    def __init__(self, bucket):
        self._bucket = bucket
        self.name = bucket.name
        self.bytes = 0
        self.ranges = 0
        self.streams = 0

    def __getattr__(self, attr):
        return getattr(self._bucket, attr)

    def read_range(self, key, start, end):
        data = self._bucket.read_range(key, start, end)
        self.ranges += 1
        self.bytes += len(data)
        return data

    def iter_chunks(self, key, chunk_size=1 << 20):
        self.streams += 1
        for chunk in self._bucket.iter_chunks(key, chunk_size):
            self.bytes += len(chunk)
            yield chunk


@pytest.fixture(scope="session")
def source_bucket(s3_server, media):
    storage = S3Storage(endpoint_url=s3_server, region="us-east-1")
    name = f"audio-{uuid.uuid4().hex[:8]}"
    storage.client.create_bucket(Bucket=name)
    for path in media.values():
        storage.client.upload_file(str(path), name, f"feed/{path.name}")
    return storage.bucket(name)


@pytest.fixture
def bucket(source_bucket):
    return CountingBucket(source_bucket)


def key(media, name):
    return f"feed/{media[name].name}"


def seconds_of(name):
    return SOURCES[name][1]


@pytest.fixture(scope="session")
def references(media, ffmpeg):
    """Full decodes of the sources (what a player hears), made on first use."""
    cache = {}

    def get(name):
        if name not in cache:
            cache[name] = decode(media[name], ffmpeg)
        return cache[name]

    return get


def cut(bucket, media, name, start, duration, ffmpeg, workdir, store=None):
    return cut_clip(bucket, key(media, name), start, duration, ffmpeg=ffmpeg, workdir=workdir,
                    index_store=store)


def assert_segments_line_up(clip_path, ffmpeg, start, duration):
    """Tone changes at the right clip times (within one MP3 frame), right tones at
    both ends, exact duration, and no muted start."""
    audio = decode(clip_path, ffmpeg)
    frame = 1152 / audio.rate
    assert abs(audio.duration - duration) <= 0.03, audio.duration
    first_boundary = (int(start // SEGMENT_SECONDS) + 1) * SEGMENT_SECONDS
    boundary = first_boundary
    while boundary < start + duration - 0.3:
        index = int(boundary // SEGMENT_SECONDS)
        expected = boundary - start
        found = tone_change_time(audio.samples, audio.rate, segment_frequency(index - 1),
                                 segment_frequency(index), expected)
        assert abs(found - expected) <= frame, (boundary, found, expected)
        boundary += SEGMENT_SECONDS
    head, tail = audio.samples[: int(0.4 * audio.rate)], audio.samples[-int(0.4 * audio.rate):]
    if first_boundary - start >= 0.4:
        assert segment_of(head, audio.rate) == int(start // SEGMENT_SECONDS)
    end = start + audio.duration
    if end - (boundary - SEGMENT_SECONDS) >= 0.4:
        assert segment_of(tail, audio.rate) == int((end - 1e-6) // SEGMENT_SECONDS)
    # A 5 ms fade-in is not silence; a muted first frame (26 ms) would be.
    assert leading_silence(audio.samples, audio.rate) <= 0.002
    assert rms(audio.samples[: int(0.02 * audio.rate)]) > 0.25
    return audio


@pytest.mark.parametrize("name", [n for n in ALL if n != "cbr-long"])
@pytest.mark.parametrize("start", [23.4, 61.05])
def test_clip_starts_and_ends_in_the_right_segment(bucket, media, ffmpeg, tmp_path, name, start):
    clip = cut(bucket, media, name, start, 30, ffmpeg, tmp_path, MemoryFrameIndexStore())
    assert_segments_line_up(clip.path, ffmpeg, start, 30)
    assert clip.start_time == start
    assert clip.duration_seconds == pytest.approx(30, abs=0.03)
    assert clip.end_time == pytest.approx(start + 30, abs=0.03)
    assert clip.path.parent == tmp_path and clip.path.stat().st_size == clip.file_size_bytes
    expected_strategy = {"mp3-cbr": "ranged-cbr", "mp3-vbr": "ranged-frame-index",
                         "m4a": "mp4-sample-table"}[SOURCES[name][0]]
    assert clip.strategy == expected_strategy
    assert clip.source_format == SOURCES[name][0]
    assert clip.source_duration_seconds == pytest.approx(seconds_of(name), abs=0.05)


@pytest.mark.parametrize("name", ["cbr", "vbr", "cover", "m4a", "m4a48-mono", "m4a48-first",
                                  "m4a-first-mono"])
def test_clip_is_sample_exact_against_the_full_decode(bucket, media, ffmpeg, tmp_path,
                                                      references, name):
    start = 47.3
    clip = cut(bucket, media, name, start, 15, ffmpeg, tmp_path, MemoryFrameIndexStore())
    lag = start_offset_samples(references(name), decode(clip.path, ffmpeg), start)
    assert abs(lag) <= 2, f"clip starts {lag} samples late"


@pytest.mark.parametrize("name", ["cbr", "vbr", "m4a"])
@pytest.mark.parametrize("duration", [15, 60])
def test_other_clip_lengths(bucket, media, ffmpeg, tmp_path, name, duration):
    clip = cut(bucket, media, name, 44.2, duration, ffmpeg, tmp_path, MemoryFrameIndexStore())
    assert_segments_line_up(clip.path, ffmpeg, 44.2, duration)
    assert clip.duration_seconds == pytest.approx(duration, abs=0.03)


@pytest.mark.parametrize("name", ["cbr", "cbr48-mono", "vbr48-mono", "cbr22-mono", "cover",
                                  "m4a48-mono", "m4a48-first"])
def test_output_is_a_128k_cbr_mp3_with_the_source_rate_and_channels(bucket, media, ffmpeg,
                                                                    tmp_path, name):
    clip = cut(bucket, media, name, 12.0, 30, ffmpeg, tmp_path, MemoryFrameIndexStore())
    _, _, rate, channels, _ = SOURCES[name]
    info = describe_mp3_file(clip.path)
    assert (info.sample_rate, info.channels, info.bitrate_kbps) == (rate, channels, 128)
    assert (clip.sample_rate, clip.channels, clip.bitrate_kbps) == (rate, channels, 128)
    data = clip.path.read_bytes()
    first = find_frame(data, id3v2_size(data))
    tag = parse_info_tag(data, first, parse_frame_header(data, first))
    assert tag.name == "Info" and tag.frames == info.frames  # CBR header: players know the length
    described = stream_info(clip.path, ffmpeg)
    assert "Audio: mp3" in described and "128 kb/s" in described
    assert "Video:" not in described  # the source's cover art is not carried over
    assert clip.file_size_bytes == pytest.approx(30 * 128_000 / 8, rel=0.03)


@pytest.mark.parametrize("name", ["cbr", "cover", "cbr-long", "cbr48-mono"])
def test_bytes_read_for_30s_stay_small_at_any_offset(bucket, media, ffmpeg, tmp_path, name):
    reads = []
    for start in (0.0, seconds_of(name) / 2, seconds_of(name) - 30):
        bucket.bytes = 0
        clip = cut(bucket, media, name, start, 30, ffmpeg, tmp_path)
        assert clip.bytes_read == bucket.bytes  # what the cutter reports is what S3 served
        assert clip.bytes_read <= MAX_BYTES_30S, (start, clip.bytes_read)
        reads.append(clip.bytes_read)
        clip.path.unlink()
    assert max(reads) - min(reads) <= 0.05 * max(reads)  # no growth with the offset


def test_bytes_read_do_not_grow_with_episode_length(bucket, media, ffmpeg, tmp_path):
    short = cut(bucket, media, "cbr", 90.0, 30, ffmpeg, tmp_path)
    long = cut(bucket, media, "cbr-long", 860.0, 30, ffmpeg, tmp_path)
    assert abs(long.bytes_read - short.bytes_read) <= 0.05 * short.bytes_read


def test_vbr_frame_index_is_built_once_then_reused(bucket, media, ffmpeg, tmp_path):
    store = MemoryFrameIndexStore()
    size = media["vbr"].stat().st_size
    first = cut(bucket, media, "vbr", 100.0, 30, ffmpeg, tmp_path, store)
    assert store.puts == 1 and bucket.streams == 1
    assert first.bytes_read >= size  # building the index read the object once
    bucket.bytes = 0
    second = cut(bucket, media, "vbr", 130.0, 30, ffmpeg, tmp_path, store)
    assert store.puts == 1 and bucket.streams == 1  # not rebuilt
    assert second.strategy == "ranged-frame-index"
    assert second.bytes_read == bucket.bytes <= MAX_BYTES_30S
    assert_segments_line_up(second.path, ffmpeg, 130.0, 30)


def test_cbr_layout_is_stored_so_later_cuts_need_one_ranged_read(bucket, media, ffmpeg,
                                                                   tmp_path):
    store = MemoryFrameIndexStore()
    cut(bucket, media, "cover", 10.0, 30, ffmpeg, tmp_path, store)
    assert store.puts == 1 and bucket.streams == 0
    bucket.ranges = bucket.bytes = 0
    clip = cut(bucket, media, "cover", 70.0, 30, ffmpeg, tmp_path, store)
    assert (bucket.ranges, clip.strategy, store.puts) == (1, "ranged-cbr", 1)
    assert clip.bytes_read == bucket.bytes <= 30 * 16_000 + 10_000  # window + pre-roll only
    assert_segments_line_up(clip.path, ffmpeg, 70.0, 30)


def test_cbr_with_junk_between_frames_falls_back_to_a_frame_index(source_bucket, media, ffmpeg,
                                                                    tmp_path):
    data = media["cbr"].read_bytes()
    at = find_frame(data, 60 * 16_000)  # a frame header about a minute in
    junk_key = f"bad/junk-{uuid.uuid4().hex[:6]}.mp3"
    source_bucket.put_bytes(junk_key, data[:at] + bytes(200) + data[at:])  # byte math now drifts
    store = MemoryFrameIndexStore()
    for start in (100.0, 20.0):
        clip = cut_clip(source_bucket, junk_key, start, 30, ffmpeg=ffmpeg, workdir=tmp_path,
                        index_store=store)
        assert (clip.strategy, clip.source_format) == ("ranged-frame-index", "mp3-cbr")
        assert_segments_line_up(clip.path, ffmpeg, start, 30)


def test_replaced_object_gets_a_new_frame_index(s3_server, media, ffmpeg, tmp_path):
    storage = S3Storage(endpoint_url=s3_server, region="us-east-1")
    name = f"replace-{uuid.uuid4().hex[:8]}"
    storage.client.create_bucket(Bucket=name)
    bucket, store = storage.bucket(name), MemoryFrameIndexStore()
    storage.client.upload_file(str(media["vbr48-mono"]), name, "episode.mp3")
    cut_clip(bucket, "episode.mp3", 10, 15, ffmpeg=ffmpeg, workdir=tmp_path, index_store=store)
    storage.client.upload_file(str(media["vbr"]), name, "episode.mp3")
    clip = cut_clip(bucket, "episode.mp3", 150, 15, ffmpeg=ffmpeg, workdir=tmp_path,
                    index_store=store)
    assert store.puts == 2
    assert clip.sample_rate == 44100 and clip.source_duration_seconds == pytest.approx(180)


@pytest.mark.parametrize("name", ["cbr", "vbr", "m4a"])
def test_clip_near_the_end_is_shorter_with_its_real_duration(bucket, media, ffmpeg, tmp_path, name):
    start = seconds_of(name) - 12.5
    clip = cut(bucket, media, name, start, 30, ffmpeg, tmp_path, MemoryFrameIndexStore())
    assert clip.duration_seconds == pytest.approx(12.5, abs=0.03)
    assert clip.end_time == pytest.approx(seconds_of(name), abs=0.03)
    assert decode(clip.path, ffmpeg).duration == pytest.approx(12.5, abs=0.03)


@pytest.mark.parametrize("name", ["cbr", "vbr", "m4a"])
@pytest.mark.parametrize("past", [0.0, 5.0, 10_000.0])
def test_start_at_or_past_the_end_is_out_of_range(bucket, media, ffmpeg, tmp_path, name, past):
    with pytest.raises(ChunkOutOfRange, match="end of the audio"):
        cut(bucket, media, name, seconds_of(name) + past, 30, ffmpeg, tmp_path,
            MemoryFrameIndexStore())
    assert list(tmp_path.iterdir()) == []


def _bad_sources(media):
    cbr, vbr, m4a = (media[n].read_bytes() for n in ("cbr", "vbr", "m4a"))
    return {
        "empty": (b"", SourceUnreadable, "empty"),
        "truncated-cbr": (cbr[: len(cbr) // 2], SourceUnreadable, "truncated"),
        "truncated-vbr": (vbr[: len(vbr) // 2], SourceUnreadable, "truncated"),
        "truncated-m4a": (m4a[: len(m4a) // 2], SourceUnreadable, "moov atom not found"),
        "truncated-m4a-moov-first": (media["m4a48-first"].read_bytes()[: 1_000_000 // 3],
                                     SourceUnreadable, "truncated"),
        "only-the-cover": (media["cover"].read_bytes()[:200_000], SourceUnreadable, "truncated"),
        "tiny": (b"ID", SourceUnreadable, "too short"),
        "random-bytes": (uuid.uuid4().bytes * 20_000, SourceUnreadable, "not audio"),
        "text": (b"Episode notes\nThanks for listening!\n" * 100, SourceUnreadable, "text"),
        "png": (b"\x89PNG\r\n\x1a\n" + bytes(5000), SourceUnreadable, "PNG"),
    }


@pytest.mark.parametrize("case", ["empty", "truncated-cbr", "truncated-vbr", "truncated-m4a",
                                  "truncated-m4a-moov-first",
                                  "only-the-cover", "tiny", "random-bytes", "text", "png"])
def test_bad_sources_raise_a_clear_error_and_leave_no_file(source_bucket, media, ffmpeg,
                                                           tmp_path, case):
    data, error, message = _bad_sources(media)[case]
    bad_key = f"bad/{case}-{uuid.uuid4().hex[:6]}"
    source_bucket.put_bytes(bad_key, data)
    with pytest.raises(error, match=message) as raised:
        cut_clip(source_bucket, bad_key, 30.0, 30, ffmpeg=ffmpeg, workdir=tmp_path,
                 index_store=MemoryFrameIndexStore())
    assert "X-Amz-Signature" not in raised.value.message  # no presigned URL in errors
    assert list(tmp_path.iterdir()) == []


def test_missing_object_raises_source_missing(source_bucket, ffmpeg, tmp_path):
    with pytest.raises(SourceMissing):
        cut_clip(source_bucket, "feed/nope.mp3", 0, 30, ffmpeg=ffmpeg, workdir=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_ffmpeg_failure_is_cut_failed_and_leaves_no_file(bucket, media, tmp_path):
    with pytest.raises(CutFailed, match="could not run FFmpeg"):
        cut(bucket, media, "cbr", 10, 30, str(tmp_path / "no-such-ffmpeg"), tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_local_bucket_serves_mp3_and_m4a(media, ffmpeg, tmp_path):
    storage = LocalStorage(tmp_path / "objects")
    bucket = storage.bucket("raw")
    for name in ("vbr", "m4a"):
        bucket.put_file(key(media, name), media[name], "audio/mpeg", {})
        clip = cut_clip(bucket, key(media, name), 23.4, 30, ffmpeg=ffmpeg,
                        workdir=tmp_path / "work", index_store=MemoryFrameIndexStore())
        assert_segments_line_up(clip.path, ffmpeg, 23.4, 30)
