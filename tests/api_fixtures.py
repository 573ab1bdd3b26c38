"""Fixtures for the sidecar tests: a seeded catalogue, and the app served by uvicorn.

The catalogue (two short synthetic episodes in moto's S3, their metadata and
chunks in SecantusDB) is built once per session; each test gets a fresh
clips bucket, empty podclips collections and its own server(s) on free
loopback ports, so tests never see each other's clips, keys or counters.

Test modules load this as a plugin (`pytest_plugins`) after importing its
constants, so pytest cannot rewrite its asserts (it has none): PYTEST_DONT_REWRITE.
"""

from __future__ import annotations

import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pymongo
import pytest
import uvicorn

from podclips_dagster.config import Settings
from podclips_dagster.core.api_keys import ApiKeys
from podclips_dagster.core.storage import S3Storage
from podclips_dagster.devstack.mongo_server import free_port
from podclips_dagster.devstack.synthetic_audio import make_episode, make_transcript_chunks
from podclips_dagster.sidecar.app import create_app

CBR_GUID = "5f1c2a9e-8d3b-4c7a-9e21-0b6d4f3a2c10"
VBR_GUID = "substack:post:7777"
OWNED_COLLECTIONS = ("audio_clips", "clip_leases", "api_rate_limits", "api_requests",
                     "clip_requests", "clip_demand_events", "api_keys", "precut_budget",
                     "daily_caps")


@dataclass
class Catalogue:
    mongo_uri: str
    db_name: str
    s3_endpoint: str
    source_bucket: str
    object_ids: dict[str, str]  # guid -> 24-hex ObjectId
    chunks: dict[str, list[dict]]  # guid -> chunks


def _seed(db, storage, bucket: str, guid: str, seconds: float, kind: str) -> tuple[str, list]:
    key = f"feed/{guid}/audio/episode_{kind}.mp3"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "episode.mp3"
        make_episode(path, seconds, kind)
        storage.bucket(bucket).put_file(key, path, "audio/mpeg", {})
    chunks = make_transcript_chunks(seconds, seed=len(guid))
    db["transcript_chunks_768d"].insert_many(
        [{**c, "episode_id": guid, "feed_slug": "feed", "embedding": [0.0] * 768} for c in chunks])
    inserted = db["episode_metadata"].insert_one({
        "guid": guid, "episode_title": f"Episode {kind}", "podcast_name": "Test Pod",
        "feed_slug": "feed", "s3_audio_path": f"s3://{bucket}/{key}", "duration": seconds})
    return str(inserted.inserted_id), chunks


@pytest.fixture(scope="session")
def api_catalogue(mongo_server, s3_server) -> Catalogue:
    client = pymongo.MongoClient(mongo_server.uri, tz_aware=True)  # as production reads
    db = client[f"api_{uuid.uuid4().hex[:10]}"]
    storage = S3Storage(endpoint_url=s3_server)
    source = f"raw-api-{uuid.uuid4().hex[:8]}"
    storage.client.create_bucket(Bucket=source)
    ids, chunks = {}, {}
    for guid, seconds, kind in [(CBR_GUID, 150, "mp3-cbr"), (VBR_GUID, 100, "mp3-vbr")]:
        ids[guid], chunks[guid] = _seed(db, storage, source, guid, seconds, kind)
    db["transcript_chunks_768d"].create_index([("episode_id", 1), ("chunk_index", 1)])
    db["episode_metadata"].create_index("guid", unique=True)
    yield Catalogue(mongo_server.uri, db.name, s3_server, source, ids, chunks)
    client.drop_database(db.name)
    client.close()


def clear_owned_collections(db) -> None:
    """Forget every clip, key, counter and request of earlier tests (the catalogue stays).

    Documents only: the stores create each index once per process and remember it, keyed
    by the client's id(), which a new client may reuse. Dropping the collection under them
    once left `api_keys` without its unique index (eight racing creates all won)."""
    for name in OWNED_COLLECTIONS:
        db[name].delete_many({})


class ServerThread:
    """One app served by uvicorn on a free loopback port, in a thread."""

    def __init__(self, app):
        # proxy_headers=False: the client IP is the socket peer, whatever X-Forwarded-For says.
        config = uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning",
                                proxy_headers=False, lifespan="off")
        self.server = uvicorn.Server(config)
        self.url = f"http://127.0.0.1:{config.port}"
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@dataclass
class Api:
    settings: Settings
    db: object
    url: str
    key: str
    app: object
    servers: list = field(default_factory=list)

    def client(self, key: str | None = "default", **kwargs) -> httpx.Client:
        headers = {} if key is None else {"X-API-Key": self.key if key == "default" else key}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60, **kwargs)

    @property
    def service(self):
        return self.app.state.sidecar.service

    def another_server(self, **app_kwargs) -> str:
        """A second app instance (its own process state) on the same MongoDB and buckets."""
        server = ServerThread(create_app(self.settings, **app_kwargs)).start()
        self.servers.append(server)
        return server.url


def api_settings(catalogue: Catalogue, clips_bucket: str, home: Path, **env) -> Settings:
    return Settings.from_env({
        "PODCLIPS_HOME": str(home), "MONGODB_URI": catalogue.mongo_uri,
        "MONGODB_DB": catalogue.db_name, "PODCLIPS_STORAGE": "s3",
        "S3_ENDPOINT_URL": catalogue.s3_endpoint, "S3_SOURCE_BUCKET": catalogue.source_bucket,
        "S3_CLIPS_BUCKET": clips_bucket,
        "RATE_LIMIT_PER_IP_PER_MINUTE": "100000", "RATE_LIMIT_PER_KEY_PER_HOUR": "100000",
        # Pre-cuts wait for the sensor unless a test asks for them: a route's own counts stay exact.
        "PRECUT_MODE": "queue",
        **env,
    })


@pytest.fixture
def make_api(api_catalogue, tmp_path):
    """make_api(budget_seconds=..., **env) -> Api: a fresh world served over HTTP."""
    servers: list[ServerThread] = []
    client = pymongo.MongoClient(api_catalogue.mongo_uri)
    db = client[api_catalogue.db_name]

    def make(budget_seconds: float = 20.0, **env) -> Api:
        clear_owned_collections(db)
        clips = f"clips-{uuid.uuid4().hex[:10]}"
        S3Storage(endpoint_url=api_catalogue.s3_endpoint).client.create_bucket(Bucket=clips)
        settings = api_settings(api_catalogue, clips, tmp_path / "home", **env)
        app = create_app(settings, budget_seconds=budget_seconds)
        server = ServerThread(app).start()
        servers.append(server)
        key = ApiKeys(db["api_keys"]).create(f"tests-{uuid.uuid4().hex[:6]}")
        return Api(settings, db, server.url, key, app, servers)

    yield make
    for server in servers:
        server.stop()
    client.close()


@pytest.fixture
def api(make_api) -> Api:
    return make_api()
