"""ensure_clip end to end: real SecantusDB, moto S3 over HTTP, real FFmpeg."""

import pytest

from podclips_dagster.core.errors import (
    ChunkOutOfRange,
    EpisodeNotFound,
    InvalidDuration,
    SourceMissing,
    SourceUnreadable,
)
from podclips_dagster.core.service import ClipService
from podclips_dagster.core.spec import ClipSpec
from podclips_dagster.core.storage import LocalStorage


def _objects(service):
    return service.clips_bucket.list_keys("audio_clips/")


def test_cuts_stores_records_then_reuses(service, seed_episode, s3_storage):
    ep = seed_episode("substack:post:77", minutes=2)
    chunk = ep["chunks"][2]
    first = service.ensure_clip("substack:post:77", 2)
    assert not first.cached
    assert first.start_time == pytest.approx(chunk["start_time"], abs=0.001)
    assert first.duration == pytest.approx(30, abs=0.03)
    assert 0 < first.bytes_read <= 600_000
    assert first.partition_key == "substack:post:77/2"
    info = service.clips_bucket.head(ClipSpec("substack:post:77", 2).object_key)
    assert info.size == first.file_size_bytes
    record = service.records.find(ClipSpec("substack:post:77", 2))
    for field in ("episode_id", "chunk_index", "s3_url", "public_url", "duration_seconds",
                  "start_time", "end_time", "generated_at", "file_size_bytes",
                  "processing_time_ms"):
        assert field in record, field
    assert record["s3_url"] == f"s3://{service.clips_bucket.name}/audio_clips/substack~3Apost~3A77/2.mp3"

    second = service.ensure_clip("substack:post:77", 2)
    assert second.cached and second.bytes_read == 0
    assert second.s3_url == first.s3_url
    assert "X-Amz-Signature" in second.audio_url  # no CDN configured: a presigned URL


def test_record_whose_object_is_gone_is_cut_again(service, seed_episode):
    seed_episode("ep-heal", minutes=2)
    first = service.ensure_clip("ep-heal", 1)
    service.clips_bucket.delete(ClipSpec("ep-heal", 1).object_key)
    healed = service.ensure_clip("ep-heal", 1)
    assert not healed.cached
    stored = service.clips_bucket.head(ClipSpec("ep-heal", 1).object_key)
    assert stored.size == first.file_size_bytes


def test_durations_and_the_last_chunk(service, seed_episode):
    ep = seed_episode("ep-durations", minutes=2)
    assert service.ensure_clip("ep-durations", 0, 15).duration == pytest.approx(15, abs=0.03)
    assert service.ensure_clip("ep-durations", 0, 60).duration == pytest.approx(60, abs=0.03)
    last = ep["chunks"][-1]
    tail = service.ensure_clip("ep-durations", last["chunk_index"], 60)
    assert tail.duration == pytest.approx(120 - last["start_time"], abs=0.05)
    with pytest.raises(InvalidDuration):
        service.ensure_clip("ep-durations", 0, 45)


def test_source_found_by_listing_when_path_is_missing(service, seed_episode):
    seed_episode("ep-listed", minutes=1, with_path=False)
    assert service.ensure_clip("ep-listed", 0).duration == pytest.approx(30, abs=0.03)


@pytest.mark.parametrize("audio, error", [
    (b"", SourceUnreadable),
    (b"this is a transcript, not audio\n" * 100, SourceUnreadable),
    (bytes(range(256)) * 400, SourceUnreadable),
])
def test_broken_sources_write_nothing(service, seed_episode, audio, error):
    seed_episode("ep-broken", audio=audio)
    with pytest.raises(error) as info:
        service.ensure_clip("ep-broken", 0)
    assert info.value.message
    assert _objects(service) == []
    assert service.records.find(ClipSpec("ep-broken", 0)) is None


def test_truncated_source_is_named(service, seed_episode, media_cache):
    whole = media_cache(2).read_bytes()
    seed_episode("ep-truncated", audio=whole[: len(whole) // 3])
    with pytest.raises(SourceUnreadable):
        service.ensure_clip("ep-truncated", 3)  # starts after the bytes that exist
    assert _objects(service) == []


def test_missing_source_and_unknown_inputs(service, seed_episode):
    ep = seed_episode("ep-missing")
    service.storage.bucket(service.settings.source_bucket).delete(ep["key"])
    with pytest.raises(SourceMissing, match="ep-missing"):
        service.ensure_clip("ep-missing", 0)
    with pytest.raises(EpisodeNotFound):
        service.ensure_clip("no-such-episode", 0)
    with pytest.raises(ChunkOutOfRange, match="has no chunk 999"):
        service.ensure_clip("ep-missing", 999)
    assert _objects(service) == []


def test_local_storage_urls_point_at_the_api(settings, mongo_db, tmp_path, seed_episode,
                                              s3_storage, media_cache):
    local = LocalStorage(tmp_path / "objects", "http://127.0.0.1:8000")
    ep = seed_episode("ep-local", minutes=1)
    local.bucket(settings.source_bucket).put_file(ep["key"], media_cache(1), "audio/mpeg", {})
    service = ClipService(settings.with_overrides(storage="local"), mongo_db, local)
    result = service.ensure_clip("ep-local", 0)
    assert result.audio_url == (
        f"http://127.0.0.1:8000/files/{settings.clips_bucket}/audio_clips/ep-local/0.mp3")
    assert (tmp_path / "objects" / settings.clips_bucket / "audio_clips/ep-local/0.mp3").is_file()
