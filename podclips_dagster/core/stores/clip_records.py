"""The `audio_clips` collection: one document per clip that exists in storage.

A record is written only after its object is complete, so a record never
points at nothing unless the object was removed later (lifecycle, a person);
the service treats such a record as a miss and heals it.
"""

from __future__ import annotations

from datetime import datetime, timezone

import pymongo

from podclips_dagster.core.spec import ClipSpec
from podclips_dagster.core.stores.mongo import mongo_errors

CLIP_KEY_FIELDS = ("episode_id", "chunk_index", "duration_seconds")


def _clip_filter(spec: ClipSpec) -> dict:
    return {"episode_id": spec.episode_id, "chunk_index": spec.chunk_index,
            "duration_seconds": spec.duration_seconds}


class ClipRecords:
    def __init__(self, collection):
        self.collection = collection

    def ensure_indexes(self) -> None:
        with mongo_errors("creating audio_clips indexes"):
            self.collection.create_index([(f, 1) for f in CLIP_KEY_FIELDS], unique=True,
                                         name="clip_identity")
            self.collection.create_index([("generated_at", 1)], name="generated_at")

    def find(self, spec: ClipSpec) -> dict | None:
        with mongo_errors(f"reading the record of {spec.describe()}"):
            return self.collection.find_one(_clip_filter(spec), {"_id": 0})

    def find_many(self, specs: list[ClipSpec]) -> dict[ClipSpec, dict]:
        """Records of many clips in one query (the lookup route's batch)."""
        if not specs:
            return {}
        with mongo_errors("reading clip records"):
            docs = self.collection.find({"$or": [_clip_filter(s) for s in specs]}, {"_id": 0})
            found = {}
            for doc in docs:
                spec = ClipSpec(doc["episode_id"], doc["chunk_index"], doc["duration_seconds"])
                found[spec] = doc
        return found

    def save(self, spec: ClipSpec, fields: dict) -> dict:
        now = datetime.now(timezone.utc)
        with mongo_errors(f"recording {spec.describe()}"):
            return self.collection.find_one_and_update(
                _clip_filter(spec),
                {"$set": {**fields, "updated_at": now}, "$setOnInsert": {"created_at": now}},
                upsert=True, return_document=pymongo.ReturnDocument.AFTER,
                projection={"_id": 0},
            )

    def mark_confirmed(self, spec: ClipSpec) -> None:
        with mongo_errors(f"confirming {spec.describe()}"):
            self.collection.update_one(_clip_filter(spec),
                                       {"$set": {"confirmed_at": datetime.now(timezone.utc)}})

    def delete(self, spec: ClipSpec) -> None:
        with mongo_errors(f"deleting the record of {spec.describe()}"):
            self.collection.delete_one(_clip_filter(spec))
