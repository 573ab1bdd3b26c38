"""The `audio_clips` collection: one document per clip that exists in storage.

A record is written only after its object is complete, so a record never
points at nothing unless the object was removed later (lifecycle, a person);
the service treats such a record as a miss and heals it.
"""

from __future__ import annotations

from datetime import UTC, datetime

from pymongo import IndexModel

from podclips_dagster.core.errors import PodclipsError
from podclips_dagster.core.spec import ClipSpec
from podclips_dagster.core.stores.indexes import ensure_indexes_once
from podclips_dagster.core.stores.mongo_errors import mongo_errors

AUDIO_CLIPS_COLLECTION = "audio_clips"
CLIP_KEY_FIELDS = ("episode_id", "chunk_index", "duration_seconds")
READY = "ready"
DELETING = "deleting"  # claimed by a retention run: no door serves it
# A clip a door serves: "ready", or no status (records written before statuses existed).
_READY_STATUSES = [READY, None]
READY_FILTER = {"status": {"$in": _READY_STATUSES}}
REPORTED_FIELD = "dagster_reported_at"
# A record changed in any of these since it was selected is in use again: a hit revived
# it, a cut replaced it, a HEAD confirmed it. Retention leaves it alone.
USE_FIELDS = ("generated_at", "revived_at", "updated_at", "confirmed_at", "retired_at")


def is_ready(record: dict | None) -> bool:
    """The rule for a clip a door serves, for a record in hand (`READY_FILTER` in queries)."""
    return record is not None and record.get("status") in _READY_STATUSES


def _clip_filter(spec: ClipSpec) -> dict:
    return {"episode_id": spec.episode_id, "chunk_index": spec.chunk_index,
            "duration_seconds": spec.duration_seconds}


def spec_of(record: dict) -> ClipSpec | None:
    """The clip a record names, or None if its identity fields are missing or invalid."""
    try:
        return ClipSpec(record["episode_id"], record["chunk_index"], record["duration_seconds"])
    except (KeyError, PodclipsError):
        return None


class ClipRecords:
    @classmethod
    def in_db(cls, db):
        return cls(db[AUDIO_CLIPS_COLLECTION])

    def __init__(self, collection):
        self.collection = collection

    def ensure_indexes(self) -> None:
        ensure_indexes_once(
            self.collection,
            IndexModel([(f, 1) for f in CLIP_KEY_FIELDS], unique=True, name="clip_identity"),
            IndexModel([("generated_at", 1)], name="generated_at"))

    def find(self, spec: ClipSpec) -> dict | None:
        with mongo_errors(f"reading the record of {spec.describe()}"):
            return self.collection.find_one(_clip_filter(spec), {"_id": 0})

    def find_many(self, specs: list[ClipSpec],
                  fields: tuple[str, ...] | None = None) -> dict[ClipSpec, dict]:
        """Records of many clips in one query (the lookup route's batch), with only
        `fields` (and the clip's identity) when given.

        `$in` on the index's fields, then an exact match here: a `$or` of 100
        clip filters took seconds on SecantusDB with 20,000 records.
        """
        wanted = set(specs)
        if not wanted:
            return {}
        query = {"episode_id": {"$in": sorted({s.episode_id for s in wanted})},
                 "chunk_index": {"$in": sorted({s.chunk_index for s in wanted})},
                 "duration_seconds": {"$in": sorted({s.duration_seconds for s in wanted})}}
        projection = {"_id": 0}
        if fields is not None:
            projection.update({f: 1 for f in (*CLIP_KEY_FIELDS, *fields)})
        with mongo_errors("reading clip records"):
            found = {}
            for doc in self.collection.find(query, projection):
                spec = spec_of(doc)
                if spec in wanted:
                    found[spec] = doc
        return found

    def save(self, spec: ClipSpec, fields: dict) -> dict:
        now = datetime.now(UTC)
        # update_one + find_one: find_one_and_update scans the collection on SecantusDB.
        with mongo_errors(f"recording {spec.describe()}"):
            self.collection.update_one(
                _clip_filter(spec),
                {"$set": {**fields, "updated_at": now}, "$setOnInsert": {"created_at": now}},
                upsert=True,
            )
            return self.collection.find_one(_clip_filter(spec), {"_id": 0})

    def mark_confirmed(self, spec: ClipSpec) -> None:
        with mongo_errors(f"confirming {spec.describe()}"):
            self.collection.update_one(_clip_filter(spec),
                                       {"$set": {"confirmed_at": datetime.now(UTC)}})

    def revive(self, spec: ClipSpec) -> None:
        """A retired clip in use again: retention counts its age from now, and the
        outside-clips sensor registers its partition again."""
        with mongo_errors(f"reviving {spec.describe()}"):
            self.collection.update_one(
                {**_clip_filter(spec), "retired_at": {"$ne": None}},
                {"$unset": {"retired_at": ""},
                 "$set": {"revived_at": datetime.now(UTC), "dagster_reported_at": None}})

    def delete(self, spec: ClipSpec) -> None:
        with mongo_errors(f"deleting the record of {spec.describe()}"):
            self.collection.delete_one(_clip_filter(spec))

    def identities_of_episodes(self, episode_ids: list[str]) -> list[dict]:
        """The identity fields of every record of these episodes."""
        with mongo_errors("reading clip records"):
            return list(self.collection.find({"episode_id": {"$in": episode_ids}},
                                             {"_id": 0, **dict.fromkeys(CLIP_KEY_FIELDS, 1)}))

    def made_since(self, since: datetime, fields: tuple[str, ...]) -> list[dict]:
        """Records generated since `since`, with `fields` (`podclips stats`)."""
        with mongo_errors("reading clip records"):
            return list(self.collection.find({"generated_at": {"$gte": since}},
                                             {"_id": 0, **dict.fromkeys(fields, 1)}))

    def update_unchanged(self, spec: ClipSpec, record: dict, fields: dict) -> bool:
        """Set `fields` on the clip's record unless it was cut again since `record` was read."""
        with mongo_errors(f"recording media of {spec.describe()}"):
            return self.collection.update_one(
                {**_clip_filter(spec), "generated_at": record["generated_at"]},
                {"$set": fields}).matched_count == 1

    def of_episode(self, episode_id: str, fields: tuple[str, ...]) -> list[dict]:
        """The episode's records that are not failed, with `fields`."""
        with mongo_errors(f"listing clips of {episode_id!r}"):
            return list(self.collection.find({"episode_id": episode_id,
                                              "status": {"$ne": "failed"}},
                                             {"_id": 0, **dict.fromkeys(fields, 1)}))

    def ready_made_at(self, episode_id: str, duration: int,
                      chunk_indexes: list[int]) -> dict[int, datetime]:
        """chunk index -> when its ready clip was recorded, in one indexed query."""
        with mongo_errors("reading clip records"):
            docs = self.collection.find(
                {"episode_id": episode_id, "duration_seconds": duration,
                 "chunk_index": {"$in": chunk_indexes}, **READY_FILTER},
                {"_id": 0, "chunk_index": 1, "generated_at": 1})
            return {d["chunk_index"]: d["generated_at"] for d in docs if d.get("generated_at")}

    # -- reporting to Dagster (core/reporting.py) -----------------------------

    def unreported(self, made_before: datetime, limit: int) -> list[dict]:
        with mongo_errors("reading unreported clips"):
            ensure_indexes_once(self.collection, IndexModel(
                [(REPORTED_FIELD, 1), ("generated_at", 1)], name="dagster_reporting"))
            return list(self.collection.find(
                {REPORTED_FIELD: None, "generated_at": {"$lt": made_before}, **READY_FILTER},
            ).sort("generated_at", 1).limit(limit))

    def unreported_videos(self, size: str, made_before: datetime, limit: int) -> list[dict]:
        reported, made = f"videos.{size}.{REPORTED_FIELD}", f"videos.{size}.generated_at"
        with mongo_errors("reading unreported videos"):
            ensure_indexes_once(self.collection, IndexModel(
                [(reported, 1), (made, 1)], name=f"dagster_reporting_{size}"))
            return list(self.collection.find({reported: None, made: {"$lt": made_before}})
                        .sort(made, 1).limit(limit))

    def reject(self, record: dict, err: PodclipsError) -> bool:
        """Mark a malformed record rejected, unless it changed since it was read."""
        now = datetime.now(UTC)
        with mongo_errors("rejecting a malformed clip record"):
            return self.collection.update_one(
                {"_id": record["_id"], "generated_at": record.get("generated_at"),
                 **READY_FILTER},
                {"$set": {"status": "rejected", "error": err.message, "error_code": err.code,
                          REPORTED_FIELD: now, "updated_at": now}}).modified_count == 1

    def reject_video(self, record: dict, size: str, err: PodclipsError) -> bool:
        """Move `videos.{size}` to `rejected_videos.{size}`, unless it changed since read."""
        field = f"videos.{size}"
        with mongo_errors("rejecting a malformed video entry"):
            return self.collection.update_one(
                {"_id": record["_id"],
                 f"{field}.generated_at": record["videos"][size]["generated_at"]},
                {"$unset": {field: ""},
                 "$set": {f"rejected_videos.{size}": {
                     "status": "rejected", "error": err.message, "error_code": err.code,
                     "rejected_at": datetime.now(UTC)}}}).modified_count == 1

    def mark_reported(self, record_ids: list) -> int:
        if not record_ids:
            return 0
        with mongo_errors("marking clips reported"):
            return self.collection.update_many(
                {"_id": {"$in": record_ids}, REPORTED_FIELD: None},
                {"$set": {REPORTED_FIELD: datetime.now(UTC)}}).modified_count

    def mark_video_reported(self, record_id, size: str) -> bool:
        field = f"videos.{size}.{REPORTED_FIELD}"
        with mongo_errors("marking videos reported"):
            return self.collection.update_one(
                {"_id": record_id, field: None},
                {"$set": {field: datetime.now(UTC)}}).modified_count == 1

    # -- retention (core/retention.py) ----------------------------------------

    def expired(self, cutoff: datetime, limit: int, include_retired: bool) -> list[dict]:
        """Records made before `cutoff` and not revived since, oldest first, with their
        identity and `USE_FIELDS`; retired ones and those a crashed deleting run left
        claimed only with `include_retired`."""
        query = {"generated_at": {"$lt": cutoff}, "revived_at": {"$not": {"$gte": cutoff}},
                 "retired_at": None, **READY_FILTER}
        if include_retired:
            query["status"] = {"$in": [*_READY_STATUSES, DELETING]}
            del query["retired_at"]
        with mongo_errors("reading expired clips"):
            return list(self.collection.find(
                query, dict.fromkeys((*CLIP_KEY_FIELDS, *USE_FIELDS), 1),
            ).sort("generated_at", 1).limit(limit))

    def retire_unchanged(self, record: dict, now: datetime) -> bool:
        with mongo_errors("marking clips retired"):
            return self.collection.update_one(
                _unchanged(record), {"$set": {"retired_at": now}}).modified_count == 1

    def claim_for_deletion(self, spec: ClipSpec, record: dict) -> bool:
        with mongo_errors(f"claiming {spec.describe()} for deletion"):
            return self.collection.update_one(
                {**_unchanged(record), "status": {"$in": [*_READY_STATUSES, DELETING]}},
                {"$set": {"status": DELETING}}).modified_count == 1

    def delete_claimed(self, spec: ClipSpec, record: dict) -> None:
        with mongo_errors(f"deleting the record of {spec.describe()}"):
            self.collection.delete_one({"_id": record["_id"], "status": DELETING})


def _unchanged(record: dict) -> dict:
    return {"_id": record["_id"], **{field: record.get(field) for field in USE_FIELDS}}
