"""Demo episodes for the embedded stack: synthetic tone-coded audio + transcript chunks.

Seeding is idempotent: an episode already in the catalogue is left alone.
"""

from __future__ import annotations

import logging
import random
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from podclips_dagster.core.spec import ClipSpec
from podclips_dagster.devstack.demo_demand import seed_demo_events
from podclips_dagster.devstack.synthetic_audio import make_episode, make_transcript_chunks

log = logging.getLogger("podclips.demo")
_AUDIO_EXT = {"mp3-cbr": "mp3", "mp3-vbr": "mp3", "m4a": "m4a"}


@dataclass(frozen=True)
class DemoEpisode:
    guid: str
    podcast_name: str
    feed_slug: str
    title: str
    minutes: float
    kind: str
    sample_rate: int = 44100
    channels: int = 2
    cover_kb: int = 0

    @property
    def audio_key(self) -> str:
        name = self.title.lower().replace(" ", "_")[:24]
        extension = _AUDIO_EXT[self.kind]
        return f"{self.feed_slug}/{self.guid}/audio/{name}_{self.guid[:8]}_audio.{extension}"


# Ids cover the forms the catalogue really holds: UUIDs and prefixed special ids.
DEMO_EPISODES = [
    DemoEpisode("0d6f4c3e-5b1a-4f0e-9c57-3a2d1e8b7f01", "The Signal Path", "signal-path",
                "Building Search That Listens", 4, "mp3-cbr"),
    DemoEpisode("substack:post:1234", "Margins", "margins",
                "Why Founders Write", 3, "mp3-vbr", sample_rate=48000, channels=1),
    DemoEpisode("flightcast:abc-def", "Runway Notes", "runway-notes",
                "Pricing in Public", 3, "mp3-cbr", cover_kb=300),
    DemoEpisode("7a1e9b52-2c4d-4e8f-b0a6-5d3c2b1a0f02", "The Signal Path", "signal-path",
                "Latency Budgets", 3, "m4a", sample_rate=48000),
    DemoEpisode("3c9d8e7f-6a5b-4c3d-9e2f-1a0b9c8d7e03", "Margins", "margins",
                "Editing Out Loud", 5, "mp3-vbr"),
]


def seed_demo(service, count: int | None = None) -> list[dict]:
    """Insert demo episodes (audio, metadata, chunks); returns what was seeded or found."""
    settings = service.settings
    source = service.storage.bucket(settings.source_bucket)
    episodes = service.catalogue.episodes
    chunks = service.catalogue.chunks
    chunks.create_index([("episode_id", 1), ("chunk_index", 1)], name="episode_chunk")
    episodes.create_index([("guid", 1)], unique=True, name="guid")
    now = datetime.now(UTC)
    summary = []
    for n, demo in enumerate(DEMO_EPISODES[:count]):
        existing = episodes.find_one({"guid": demo.guid}, {"_id": 1})
        if existing is None or source.head(demo.audio_key) is None:
            _seed_one(demo, source, episodes, chunks, published_at=now - timedelta(days=n))
        summary.append({"episode_id": demo.guid, "title": demo.title, "podcast": demo.podcast_name,
                        "format": demo.kind,
                        "chunks": chunks.count_documents({"episode_id": demo.guid})})
    return summary


def _seed_one(demo: DemoEpisode, source, episodes, chunks, published_at: datetime) -> None:
    duration = demo.minutes * 60
    with tempfile.TemporaryDirectory(prefix="podclips-demo-") as tmp:
        path = Path(tmp) / Path(demo.audio_key).name
        make_episode(path, duration, demo.kind, sample_rate=demo.sample_rate,
                     channels=demo.channels, cover_kb=demo.cover_kb)
        content_type = "audio/mpeg" if demo.kind.startswith("mp3") else "audio/mp4"
        source.put_file(demo.audio_key, path, content_type, {})
    rng = random.Random(demo.guid)
    chunk_docs = [
        {**c, "episode_id": demo.guid, "feed_slug": demo.feed_slug,
         # Real chunks carry a 768-float embedding; podclips must never fetch it.
         "embedding": [round(rng.uniform(-1, 1), 4) for _ in range(768)]}
        for c in make_transcript_chunks(duration, seed=demo.guid)
    ]
    chunks.delete_many({"episode_id": demo.guid})
    chunks.insert_many(chunk_docs)
    episodes.replace_one({"guid": demo.guid}, {
        "guid": demo.guid, "episode_title": demo.title, "podcast_name": demo.podcast_name,
        "feed_slug": demo.feed_slug, "s3_audio_path": f"s3://{source.name}/{demo.audio_key}",
        "duration": duration, "published_at": published_at,
    }, upsert=True)


def seed_and_register(settings, count: int | None) -> dict:
    """Seed demo episodes and, when DAGSTER_HOME names an instance, their clip partitions."""
    from podclips_dagster.core.service import ClipService

    service = ClipService.from_settings(settings)
    log.info("seeding demo episodes (the first time takes a few seconds of FFmpeg)")
    episodes = seed_demo(service, count)
    demand_events = seed_demo_events(service)
    added = 0
    if settings.dagster_home:
        from dagster import DagsterInstance

        from podclips_dagster.defs.clips.registration import register_clip_partitions

        keys = [ClipSpec(e["episode_id"], i).partition_key
                for e in episodes for i in range(e["chunks"])]
        with DagsterInstance.get() as instance:
            added = len(register_clip_partitions(instance, keys))
    for e in episodes:
        log.info("demo episode %s: %s (%s, %d chunks)", e["episode_id"], e["title"], e["format"],
                 e["chunks"])
    return {"episodes": episodes, "partitions_added": added, "demand_events": demand_events}
