"""Episodes and transcript chunks, read from the ingestion system's collections.

Read only. Field names are the ingestion system's (docs/architecture.md); the 768-float embedding is
never fetched.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from bson import ObjectId

from podclips_dagster.core.errors import ChunkOutOfRange, EpisodeNotFound, SourceMissing
from podclips_dagster.core.storage.base import parse_s3_url
from podclips_dagster.core.stores.mongo_errors import mongo_errors

_OBJECT_ID = re.compile(r"^[0-9a-fA-F]{24}$")
_EPISODE_FIELDS = {
    "guid": 1, "episode_title": 1, "podcast_name": 1, "feed_slug": 1,
    "s3_audio_path": 1, "duration": 1, "published_at": 1,
}
_CHUNK_FIELDS = {"_id": 0, "episode_id": 1, "chunk_index": 1, "start_time": 1, "end_time": 1,
                 "text": 1, "feed_slug": 1}
_EPISODE_SUMMARY = {"_id": 1, "guid": 1, "podcast_name": 1, "feed_slug": 1, "published_at": 1}
_AUDIO_SUFFIXES = (".mp3", ".m4a", ".mp4", ".aac")


@dataclass(frozen=True)
class Episode:
    guid: str
    title: str | None
    podcast_name: str | None
    feed_slug: str | None
    s3_audio_path: str | None
    duration: float | None
    published_at: datetime | None


@dataclass(frozen=True)
class Chunk:
    episode_id: str
    chunk_index: int
    start_time: float
    end_time: float | None
    text: str


class Catalogue:
    def __init__(self, db, episodes_collection: str = "episode_metadata",
                 chunks_collection: str = "transcript_chunks_768d"):
        self.episodes = db[episodes_collection]
        self.chunks = db[chunks_collection]

    def episode(self, episode_id: str) -> Episode:
        """By guid (any opaque string), else by the 24-hex ObjectId old clients send.

        `episode_id` is checked by the caller (`core/resolve.py`, `ClipSpec`)."""
        with mongo_errors(f"looking up episode {episode_id!r}"):
            doc = self.episodes.find_one({"guid": episode_id}, _EPISODE_FIELDS)
            if doc is None and _OBJECT_ID.match(episode_id):
                doc = self.episodes.find_one({"_id": ObjectId(episode_id)}, _EPISODE_FIELDS)
        if doc is None or not doc.get("guid"):
            raise EpisodeNotFound(f"episode {episode_id!r} is not in the catalogue")
        duration = doc.get("duration")
        return Episode(
            guid=doc["guid"], title=doc.get("episode_title"), podcast_name=doc.get("podcast_name"),
            feed_slug=doc.get("feed_slug"), s3_audio_path=doc.get("s3_audio_path"),
            duration=float(duration) if isinstance(duration, (int, float)) else None,
            published_at=doc.get("published_at"),
        )

    def guids_newest_first(self) -> list[str]:
        """Every episode's guid, the most recently published first."""
        with mongo_errors("listing the catalogue's episodes"):
            docs = self.episodes.find({"guid": {"$type": "string"}}, {"_id": 0, "guid": 1})
            return [doc["guid"] for doc in docs.sort("published_at", -1)]

    def chunk(self, episode: Episode, chunk_index: int) -> Chunk:
        with mongo_errors(f"looking up chunk {chunk_index} of {episode.guid!r}"):
            doc = self.chunks.find_one({"episode_id": episode.guid, "chunk_index": chunk_index},
                                       _CHUNK_FIELDS)
        if doc is None or not isinstance(doc.get("start_time"), (int, float)):
            count = self.chunk_count(episode)
            raise ChunkOutOfRange(
                f"episode {episode.guid!r} has no chunk {chunk_index}"
                + (f" (it has {count} chunks, 0 to {count - 1})" if count
                   else " (it has no chunks)")
            )
        return self._chunk(doc)

    def has_chunk(self, episode_guid: str, chunk_index: int) -> bool:
        with mongo_errors(f"looking up chunk {chunk_index} of {episode_guid!r}"):
            return self.chunks.find_one({"episode_id": episode_guid, "chunk_index": chunk_index},
                                        {"_id": 1}) is not None

    def chunk_at(self, episode: Episode, time_s: float) -> Chunk:
        """The chunk that contains `time_s` (the last one starting at or before it)."""
        with mongo_errors(f"looking up the chunk at {time_s} s of {episode.guid!r}"):
            doc = self.chunks.find_one(
                {"episode_id": episode.guid, "start_time": {"$lte": time_s}},
                _CHUNK_FIELDS, sort=[("start_time", -1)],
            )
        if doc is None:
            raise ChunkOutOfRange(f"episode {episode.guid!r} has no chunk at {time_s:.3f} s")
        return self._chunk(doc)

    def existing_chunks(self, pairs: set[tuple[str, int]]) -> set[tuple[str, int]]:
        """Which (episode guid, chunk index) pairs name a chunk of the catalogue, in one query.

        `$in` on both fields, then an exact match here (see `ClipRecords.find_many`).
        """
        if not pairs:
            return set()
        query = {"episode_id": {"$in": sorted({e for e, _ in pairs})},
                 "chunk_index": {"$in": sorted({i for _, i in pairs})}}
        with mongo_errors(f"checking {len(pairs)} chunk(s) in the catalogue"):
            docs = self.chunks.find(query, {"_id": 0, "episode_id": 1, "chunk_index": 1,
                                            "start_time": 1})
            found = {(d.get("episode_id"), d.get("chunk_index")) for d in docs
                     if isinstance(d.get("start_time"), (int, float))}
        return pairs & found

    def chunks_around(self, episode_id: str, chunk_index: int, until: float) -> list[Chunk]:
        """The chunks a clip from chunk `chunk_index` to `until` seconds shows: from the one
        before it (it may overlap) to the first that starts at or after `until` (its start
        ends the one before). Read in small batches, so a long episode costs no more."""
        chunks = []
        with mongo_errors(f"reading chunks {chunk_index}.. of {episode_id!r}"):
            cursor = self.chunks.find(
                {"episode_id": episode_id, "chunk_index": {"$gte": chunk_index - 1}},
                _CHUNK_FIELDS).sort("chunk_index", 1).batch_size(8)
            with cursor:
                for doc in cursor:
                    if isinstance(doc.get("start_time"), (int, float)):
                        chunks.append(self._chunk(doc))
                        if chunks[-1].start_time >= until:
                            break
        return chunks

    def chunks_of(self, episode_id: str) -> list[Chunk]:
        with mongo_errors(f"listing chunks of {episode_id!r}"):
            docs = self.chunks.find({"episode_id": episode_id},
                                    _CHUNK_FIELDS).sort("chunk_index", 1)
            return [self._chunk(d) for d in docs if isinstance(d.get("start_time"), (int, float))]

    def chunk_count(self, episode: Episode) -> int:
        with mongo_errors(f"counting chunks of {episode.guid!r}"):
            return self.chunks.count_documents({"episode_id": episode.guid})

    def feed_slug(self, episode: Episode) -> str | None:
        if episode.feed_slug:
            return episode.feed_slug
        with mongo_errors(f"finding the feed of {episode.guid!r}"):
            doc = self.chunks.find_one({"episode_id": episode.guid, "feed_slug": {"$ne": None}},
                                       {"_id": 0, "feed_slug": 1})
        return doc.get("feed_slug") if doc else None

    def source_location(self, episode: Episode, storage, default_bucket: str) -> tuple[str, str]:
        """(bucket, key) of the episode's audio: `s3_audio_path`, else the listed prefix."""
        if episode.s3_audio_path:
            return parse_s3_url(episode.s3_audio_path)
        feed = self.feed_slug(episode)
        if not feed:
            raise SourceMissing(
                f"episode {episode.guid!r} has no s3_audio_path and no feed_slug to find it by")
        prefix = f"{feed}/{episode.guid}/audio/"
        keys = [k for k in storage.bucket(default_bucket).list_keys(prefix)
                if k.lower().endswith(_AUDIO_SUFFIXES)]
        if not keys:
            raise SourceMissing(
                f"episode {episode.guid!r} has no audio under s3://{default_bucket}/{prefix}")
        return default_bucket, keys[0]

    # -- for the demand code: raw summaries of many episodes ---------------------

    def episodes_published(self, published: dict, page: int | None = None) -> list[dict]:
        """Summaries (`_id`, guid, podcast_name, feed_slug, published_at) of the episodes
        whose `published_at` matches `published` (e.g. `{"$gt": t}`); with `page`, the
        oldest `page` of them."""
        with mongo_errors("listing newly published episodes"):
            cursor = self.episodes.find({"published_at": published}, _EPISODE_SUMMARY)
            if page is not None:
                cursor = cursor.sort("published_at", 1).limit(page)
            return list(cursor)

    def episodes_with(self, field: str, values: list) -> list[dict]:
        """Summaries of the episodes whose `field` (guid or _id) is one of `values`."""
        with mongo_errors(f"reading {len(values)} episode(s)"):
            return list(self.episodes.find({field: {"$in": values}}, _EPISODE_SUMMARY))

    def last_chunk_indexes(self, guids: list[str]) -> dict[str, int]:
        """guid -> its highest chunk index, for the episodes that have chunks."""
        with mongo_errors(f"counting chunks of {len(guids)} episode(s)"):
            rows = self.chunks.aggregate([
                {"$match": {"episode_id": {"$in": guids}}},
                {"$project": {"_id": 0, "episode_id": 1, "chunk_index": 1}},
                {"$group": {"_id": "$episode_id", "last": {"$max": "$chunk_index"}}},
            ])
            return {row["_id"]: int(row["last"]) for row in rows if row.get("last") is not None}

    @staticmethod
    def _chunk(doc) -> Chunk:
        end = doc.get("end_time")
        return Chunk(
            episode_id=doc["episode_id"], chunk_index=int(doc["chunk_index"]),
            start_time=float(doc["start_time"]),
            end_time=float(end) if isinstance(end, (int, float)) else None,
            text=doc.get("text") or "",
        )
