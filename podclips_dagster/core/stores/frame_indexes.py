"""Per-episode MP3 frame indexes, built once and kept in MongoDB for every cut."""

from __future__ import annotations

from datetime import UTC, datetime

from bson import Binary

from podclips_dagster.core.stores.mongo_errors import mongo_errors

FRAME_INDEX_COLLECTION = "audio_frame_indexes"


class MongoFrameIndexStore:
    @classmethod
    def in_db(cls, db):
        return cls(db[FRAME_INDEX_COLLECTION])

    def __init__(self, collection):
        self.collection = collection

    def get(self, source_id: str) -> bytes | None:
        with mongo_errors("reading a frame index"):
            doc = self.collection.find_one({"_id": source_id}, {"data": 1})
        return bytes(doc["data"]) if doc else None

    def put(self, source_id: str, data: bytes) -> None:
        with mongo_errors("storing a frame index"):
            self.collection.replace_one(
                {"_id": source_id},
                {"data": Binary(data), "size_bytes": len(data),
                 "created_at": datetime.now(UTC)},
                upsert=True,
            )
