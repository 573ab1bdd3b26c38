from podclips_dagster.core.spec import ClipSpec
from podclips_dagster.core.stores.clip_records import ClipRecords


def test_find_many_returns_exactly_the_asked_clips(mongo_db):
    records = ClipRecords(mongo_db.audio_clips)
    records.ensure_indexes()
    stored = [ClipSpec(e, i, d) for e in ("a", "b") for i in (1, 2) for d in (15, 30)]
    for spec in stored:
        records.save(spec, {"s3_url": f"s3://b/{spec.partition_key}"})
    asked = [ClipSpec("a", 1), ClipSpec("b", 2, 15), ClipSpec("c", 1)]
    found = records.find_many(asked)
    assert set(found) == {ClipSpec("a", 1), ClipSpec("b", 2, 15)}
    assert found[ClipSpec("b", 2, 15)]["s3_url"] == "s3://b/b/2/15s"
    assert records.find_many([]) == {}


def test_save_upserts_and_keeps_created_at(mongo_db):
    records = ClipRecords(mongo_db.audio_clips)
    first = records.save(ClipSpec("a", 1), {"file_size_bytes": 1})
    second = records.save(ClipSpec("a", 1), {"file_size_bytes": 2})
    assert second["file_size_bytes"] == 2 and second["created_at"] == first["created_at"]
    assert mongo_db.audio_clips.count_documents({}) == 1
