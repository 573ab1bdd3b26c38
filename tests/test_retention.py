from datetime import UTC, datetime, timedelta

import dagster as dg

from podclips_dagster.core.media.share_assets import ensure_share_assets
from podclips_dagster.core.retention import derived_keys, expired_clips, retire
from podclips_dagster.core.spec import ClipSpec
from podclips_dagster.defs.retention.jobs import retire_expired_clips_job


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
    assert retire(service, expired, delete_clips=True) == 1
    assert service.clips_bucket.list_keys("audio_clips/ep-retire/") == []
    assert service.records.find(clip.spec) is None


def _age(service, spec: ClipSpec, days: int, **fields) -> None:
    record = service.records.find(spec)
    service.records.collection.update_one({"episode_id": spec.episode_id,
                                           "chunk_index": spec.chunk_index}, {"$set": {
        "generated_at": record["generated_at"] - timedelta(days=days), **fields}})


def test_a_clip_revived_between_selection_and_delete_keeps_its_object(service, seed_episode):
    seed_episode("ep-revived", minutes=1)
    clip = service.ensure_clip("ep-revived", 0)
    _age(service, clip.spec, 40, retired_at=datetime.now(UTC) - timedelta(days=5))
    expired = expired_clips(service, datetime.now(UTC) - timedelta(days=30), 10,
                            include_retired=True)
    assert [spec for _, spec in expired] == [clip.spec]
    # Someone plays it before the delete: a hit, which revives the retired clip.
    assert service.ensure_clip("ep-revived", 0).cached
    assert retire(service, expired, delete_clips=True) == 0
    assert service.clips_bucket.head(clip.spec.object_key) is not None
    assert service.records.find(clip.spec)["status"] == "ready"
    # Re-cut since selection (a forced cut): kept as well.
    clip2 = service.ensure_clip("ep-revived", 1)
    _age(service, clip2.spec, 40)
    stale = expired_clips(service, datetime.now(UTC) - timedelta(days=30), 10)
    service.ensure_clip("ep-revived", 1, force=True)
    assert retire(service, stale, delete_clips=True) == 0
    assert service.clips_bucket.head(clip2.spec.object_key) is not None


def test_a_deleting_run_deletes_what_an_earlier_run_only_retired(service, resource,
                                                                 seed_episode):
    seed_episode("ep-twice", minutes=1)
    clip = service.ensure_clip("ep-twice", 0)
    _age(service, clip.spec, 40)
    job = dg.Definitions(jobs=[retire_expired_clips_job],
                         resources={"clip_service": resource}).resolve_job_def(
                             "retire_expired_clips_job")

    def run(delete: bool):
        config = {"ops": {"retire_expired_clips": {"config": {"max_age_days": 30,
                                                              "delete_clips": delete}}}}
        assert job.execute_in_process(instance=instance, run_config=config).success

    with dg.instance_for_test() as instance:
        run(delete=False)
        assert service.records.find(clip.spec)["retired_at"] is not None
        assert service.clips_bucket.head(clip.spec.object_key) is not None
        run(delete=True)
    assert service.clips_bucket.head(clip.spec.object_key) is None
    assert service.records.find(clip.spec) is None
