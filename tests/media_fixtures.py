"""One seeded episode for the media tests, built once per session on the real test servers.

The episode's chunks leave a gap (20-28 s) with no transcript, so the clip of
chunk 1 (12-42 s) has captions at 0-8 s and 16-30 s and none at 8-16 s: the
video test can look for captions where they must and must not be.
"""

from __future__ import annotations

import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pymongo
import pytest

from podclips_dagster.config import Settings
from podclips_dagster.core.api_keys import ApiKeys
from podclips_dagster.core.service import ClipResult, ClipService
from podclips_dagster.core.storage import S3Storage
from podclips_dagster.devstack.synthetic_audio import make_episode
from podclips_dagster.sidecar.app import create_app
from tests.api_fixtures import ServerThread

EPISODE_ID = "media:show/ep-1"  # a colon and a slash: keys and URLs must carry both
EPISODE_TITLE = "Search That Listens"
PODCAST = "The Signal Path"
EPISODE_SECONDS = 60.0
CHUNKS = [
    (0, 0.0, 12.0, "Welcome back to the show. Today we dig into search for audio and why "
                   "transcripts alone are not enough for people who want to hear the moment."),
    (1, 12.0, 20.0, "Here is the first thing. Clips must start exactly where the words do."),
    (2, 28.0, 45.0, "After the break we measured everything. Ranged reads kept each clip under "
                    "half a megabyte, and the waveform made people press play far more often."),
    (3, 45.0, 60.0, "That is all for this week. Thanks for listening and see you next time."),
]
CLIP_CHUNK = 1
CAPTIONED = [(0.5, 7.5), (16.5, 29.5)]  # clip-relative spans with words on screen
UNCAPTIONED = (8.5, 15.5)


def peaks_duration(peaks: dict) -> float:
    """What a player computes from waveform JSON: pixels x samples per pixel / sample rate."""
    return peaks["length"] * peaks["samples_per_pixel"] / peaks["sample_rate"]


@dataclass
class MediaWorld:
    settings: Settings
    service: ClipService
    db: object

    def env(self) -> dict[str, str]:
        s = self.settings
        return {"PODCLIPS_HOME": str(s.home), "MONGODB_URI": s.mongodb_uri,
                "MONGODB_DB": s.mongodb_db, "PODCLIPS_STORAGE": "s3",
                "S3_ENDPOINT_URL": s.s3_endpoint_url, "S3_SOURCE_BUCKET": s.source_bucket,
                "S3_CLIPS_BUCKET": s.clips_bucket,
                "RATE_LIMIT_PER_IP_PER_MINUTE": "100000", "RATE_LIMIT_PER_KEY_PER_HOUR": "100000"}


@pytest.fixture(scope="session")
def media_world(mongo_server, s3_server, tmp_path_factory) -> MediaWorld:
    client = pymongo.MongoClient(mongo_server.uri, tz_aware=True)  # as production reads
    db = client[f"media_{uuid.uuid4().hex[:10]}"]
    storage = S3Storage(endpoint_url=s3_server)
    source, clips = f"raw-media-{uuid.uuid4().hex[:8]}", f"clips-media-{uuid.uuid4().hex[:8]}"
    for bucket in (source, clips):
        storage.client.create_bucket(Bucket=bucket)
    key = "signal-path/ep-1/audio/episode.mp3"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "episode.mp3"
        make_episode(path, EPISODE_SECONDS, "mp3-cbr")
        storage.bucket(source).put_file(key, path, "audio/mpeg", {})
    db["episode_metadata"].insert_one({
        "guid": EPISODE_ID, "episode_title": EPISODE_TITLE, "podcast_name": PODCAST,
        "feed_slug": "signal-path", "s3_audio_path": f"s3://{source}/{key}",
        "duration": EPISODE_SECONDS})
    db["transcript_chunks_768d"].insert_many([
        {"episode_id": EPISODE_ID, "chunk_index": i, "start_time": start, "end_time": end,
         "text": text} for i, start, end, text in CHUNKS])
    home = tmp_path_factory.mktemp("media-home")
    settings = Settings.from_env({
        "PODCLIPS_HOME": str(home), "MONGODB_URI": mongo_server.uri, "MONGODB_DB": db.name,
        "PODCLIPS_STORAGE": "s3", "S3_ENDPOINT_URL": s3_server, "S3_SOURCE_BUCKET": source,
        "S3_CLIPS_BUCKET": clips,
    })
    yield MediaWorld(settings, ClipService.from_settings(settings), db)
    client.drop_database(db.name)
    client.close()


@pytest.fixture(scope="session")
def media_clip(media_world) -> ClipResult:
    """The 30 s clip of chunk 1, cut once for the session."""
    return media_world.service.ensure_clip(EPISODE_ID, CLIP_CHUNK, 30)


@dataclass
class MediaApi:
    url: str
    key: str

    def page_url(self, episode_id: str = EPISODE_ID, chunk: int = CLIP_CHUNK) -> str:
        return f"{self.url}/clips/{quote(episode_id, safe='')}/{chunk}"


@pytest.fixture(scope="session")
def media_api(media_world) -> MediaApi:
    """The sidecar app on the media world, served by uvicorn on a free loopback port."""
    settings = media_world.settings.with_overrides(rate_limit_per_ip_per_minute=100_000,
                                                   rate_limit_per_key_per_hour=100_000)
    app = create_app(settings)
    server = ServerThread(app).start()
    key = ApiKeys(media_world.db["api_keys"]).create(f"media-{uuid.uuid4().hex[:6]}")
    yield MediaApi(server.url, key)
    server.stop()
