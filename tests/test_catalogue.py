import pytest
from bson import ObjectId

from podclips_dagster.core.errors import ChunkOutOfRange, EpisodeNotFound, SourceMissing
from podclips_dagster.core.storage import LocalStorage
from podclips_dagster.core.stores.catalogue import Catalogue


@pytest.fixture
def catalogue(mongo_db):
    oid = ObjectId()
    mongo_db.episode_metadata.insert_many([
        {"_id": oid, "guid": "substack:post:1234", "episode_title": "T", "feed_slug": "feed",
         "s3_audio_path": "s3://raw/feed/substack:post:1234/audio/x.mp3", "duration": 300},
        {"guid": "no-path", "episode_title": "Listed"},
    ])
    mongo_db.transcript_chunks_768d.insert_many([
        {"episode_id": "substack:post:1234", "chunk_index": i, "start_time": i * 20.0,
         "end_time": i * 20.0 + 20, "text": f"chunk {i}", "embedding": [0.1] * 768}
        for i in range(5)
    ] + [{"episode_id": "no-path", "chunk_index": 0, "start_time": 0.0, "feed_slug": "slug",
          "text": "hi"}])
    cat = Catalogue(mongo_db)
    cat.oid = str(oid)
    return cat


def test_episode_by_guid_and_by_object_id(catalogue):
    assert catalogue.episode("substack:post:1234").title == "T"
    assert catalogue.episode(catalogue.oid).guid == "substack:post:1234"
    with pytest.raises(EpisodeNotFound, match="nope"):
        catalogue.episode("nope")
    with pytest.raises(EpisodeNotFound):
        catalogue.episode(str(ObjectId()))


def test_chunks_by_index_and_by_time(catalogue):
    ep = catalogue.episode("substack:post:1234")
    chunk = catalogue.chunk(ep, 3)
    assert (chunk.start_time, chunk.end_time, chunk.text) == (60.0, 80.0, "chunk 3")
    assert catalogue.chunk_at(ep, 65.5).chunk_index == 3
    assert catalogue.chunk_at(ep, 0).chunk_index == 0
    with pytest.raises(ChunkOutOfRange, match="5 chunks, 0 to 4"):
        catalogue.chunk(ep, 5)


def test_embedding_is_never_fetched(catalogue, mongo_db):
    ep = catalogue.episode("substack:post:1234")
    assert not hasattr(catalogue.chunk(ep, 0), "embedding")
    assert [c.chunk_index for c in catalogue.chunks_of(ep.guid)] == [0, 1, 2, 3, 4]


def test_source_from_path_or_listing(catalogue, tmp_path):
    storage = LocalStorage(tmp_path)
    ep = catalogue.episode("substack:post:1234")
    assert catalogue.source_location(ep, storage, "raw") == (
        "raw", "feed/substack:post:1234/audio/x.mp3")
    listed = catalogue.episode("no-path")
    with pytest.raises(SourceMissing, match="slug/no-path/audio/"):
        catalogue.source_location(listed, storage, "raw")
    storage.bucket("raw").put_bytes("slug/no-path/audio/ep_audio.mp3", b"x")
    assert catalogue.source_location(listed, storage, "raw") == (
        "raw", "slug/no-path/audio/ep_audio.mp3")
