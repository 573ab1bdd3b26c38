from datetime import UTC, datetime, timedelta

from podclips_dagster.core.media.share_assets import ensure_share_assets
from podclips_dagster.core.retention import derived_keys, expired_clips, retire
from podclips_dagster.core.spec import ClipSpec


def test_deleting_an_expired_clip_removes_its_objects_then_its_record(service, seed_episode):
    seed_episode("ep-retire", minutes=1)
    clip = service.ensure_clip("ep-retire", 0)
    ensure_share_assets(service, clip.spec)
    stored = service.clips_bucket.list_keys("audio_clips/ep-retire/")
    assert clip.spec.object_key in stored and len(stored) > 1  # the clip and its share assets
    assert set(stored) <= set(derived_keys(clip.spec) + [clip.spec.object_key])

    later = datetime.now(UTC) + timedelta(days=1)
    expired = expired_clips(service, later, limit=10)
    assert [spec for _, spec in expired] == [ClipSpec("ep-retire", 0)]
    retire(service, [record_id for record_id, _ in expired], [clip.spec], delete_clips=True)
    assert service.clips_bucket.list_keys("audio_clips/ep-retire/") == []
    assert service.records.find(clip.spec) is None
