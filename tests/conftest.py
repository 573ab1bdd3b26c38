"""Real servers for the tests: SecantusDB over a socket, moto's S3 over HTTP."""

from __future__ import annotations

import os
import uuid

import boto3
import pymongo
import pytest
from moto.server import ThreadedMotoServer

from podclips_dagster.config import Settings
from podclips_dagster.core.storage import S3Storage
from podclips_dagster.devstack.mongo_server import free_port, start_mongo

# boto3 needs credentials even for moto; never let tests reach real AWS.
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")


@pytest.fixture(scope="session")
def mongo_server():
    server = start_mongo(":memory:")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def s3_server():
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def mongo_db(mongo_server):
    """A fresh database per test on the shared server."""
    client = pymongo.MongoClient(mongo_server.uri, serverSelectionTimeoutMS=5000, tz_aware=True)
    name = f"t_{uuid.uuid4().hex[:12]}"
    yield client[name]
    client.drop_database(name)
    client.close()


@pytest.fixture
def s3_storage(s3_server):
    return S3Storage(endpoint_url=s3_server, region="us-east-1")


@pytest.fixture
def buckets(s3_storage):
    """Fresh source and clips buckets per test: (source_name, clips_name)."""
    suffix = uuid.uuid4().hex[:10]
    names = (f"raw-{suffix}", f"clips-{suffix}")
    for name in names:
        s3_storage.client.create_bucket(Bucket=name)
    return names


@pytest.fixture
def settings(tmp_path, mongo_server, mongo_db, s3_server, buckets):
    """Settings pointing at the test servers, as the env vars would."""
    return Settings.from_env({
        "PODCLIPS_HOME": str(tmp_path / "home"),
        "MONGODB_URI": mongo_server.uri,
        "MONGODB_DB": mongo_db.name,
        "PODCLIPS_STORAGE": "s3",
        "S3_ENDPOINT_URL": s3_server,
        "S3_SOURCE_BUCKET": buckets[0],
        "S3_CLIPS_BUCKET": buckets[1],
    })


def boto3_client(endpoint):
    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")


@pytest.fixture
def service(settings):
    from podclips_dagster.core.service import ClipService

    return ClipService.from_settings(settings)


@pytest.fixture
def resource(settings):
    """The Dagster resource pointed at the test servers."""
    from tests.sensor_harness import resource_for

    return resource_for(settings)


@pytest.fixture(scope="session")
def media_cache(tmp_path_factory):
    """Synthetic episodes made once per session: (minutes, kind, rate, channels, cover) -> path."""
    from podclips_dagster.devstack.synthetic_audio import make_episode

    root = tmp_path_factory.mktemp("media")
    made = {}

    def get(minutes: float, kind: str = "mp3-cbr", sample_rate: int = 44100, channels: int = 2,
            cover_kb: int = 0):
        key = (minutes, kind, sample_rate, channels, cover_kb)
        if key not in made:
            ext = "m4a" if kind == "m4a" else "mp3"
            made[key] = make_episode(root / f"{'-'.join(map(str, key))}.{ext}", minutes * 60,
                                     kind, sample_rate=sample_rate, channels=channels,
                                     cover_kb=cover_kb)
        return made[key]

    return get


@pytest.fixture
def seed_episode(settings, mongo_db, s3_storage, media_cache):
    """Put an episode in the catalogue and its audio in the source bucket.

    Returns a function: seed_episode(guid, minutes=2, kind="mp3-cbr", audio=None, ...);
    `audio` (bytes) replaces the synthetic file, e.g. to store a broken source.
    """
    from podclips_dagster.devstack.synthetic_audio import make_transcript_chunks

    source = s3_storage.bucket(settings.source_bucket)

    def seed(guid: str, minutes: float = 2, kind: str = "mp3-cbr", audio: bytes | None = None,
             with_path: bool = True, **media_kwargs) -> dict:
        ext = "m4a" if kind == "m4a" else "mp3"
        key = f"demo-feed/{guid}/audio/episode_{guid[:8]}_audio.{ext}"
        if audio is None:
            source.put_file(key, media_cache(minutes, kind, **media_kwargs), "audio/mpeg", {})
        else:
            source.put_bytes(key, audio)
        doc = {"guid": guid, "episode_title": f"Episode {guid}", "podcast_name": "Test Pod",
               "feed_slug": "demo-feed", "duration": minutes * 60}
        if with_path:
            doc["s3_audio_path"] = f"s3://{source.name}/{key}"
        mongo_db[settings.episodes_collection].insert_one(doc)
        chunks = [{**c, "episode_id": guid, "feed_slug": "demo-feed"}
                  for c in make_transcript_chunks(minutes * 60, seed=1)]
        mongo_db[settings.chunks_collection].insert_many(chunks)
        return {"guid": guid, "key": key, "chunks": chunks}

    return seed
