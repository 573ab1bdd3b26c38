"""On-demand clip requests in MongoDB `clip_requests`, and their lifecycle.

    pending -> queued (a run was requested: run_key, later run_id) -> done | failed
    pending -> rejected (unknown episode, chunk out of range, bad duration)
    pending -> done at once when the clip already exists (no run)

Every status move names the status it expects in its filter, so two sensor
ticks, or a tick and a run, can never both move one request. We use
`update_one`/`update_many` with that filter rather than `find_one_and_update`:
same compare-and-set, but on SecantusDB findAndModify scans the collection
(56 ms per call at 10,000 requests against 1.4 ms for update_one).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from bson import ObjectId
from pymongo import IndexModel

from podclips_dagster.core.errors import DependencyUnavailable, PodclipsError
from podclips_dagster.core.stores.indexes import ensure_indexes_once
from podclips_dagster.core.stores.mongo_errors import mongo_errors

if TYPE_CHECKING:
    from podclips_dagster.core.resolve import ResolvedClip
    from podclips_dagster.core.service import ClipService

log = logging.getLogger("podclips.requests")

COLLECTION = "clip_requests"
PENDING, QUEUED, DONE, FAILED, REJECTED = "pending", "queued", "done", "failed", "rejected"
ACTIVE = [PENDING, QUEUED]
FINAL = (DONE, FAILED, REJECTED)
MAX_ATTEMPTS = 3  # runs a request may get before it is failed
INVALID_KINDS = {"bad_input", "not_found"}  # the requester's mistake: rejected, never retried


def _now() -> datetime:
    return datetime.now(UTC)


def request_view(doc: dict) -> dict:
    """What a requester sees: id, partition key, status, and the outcome once there is one."""
    view = {"request_id": str(doc["_id"]), "partition_key": doc.get("partition_key"),
            "status": doc["status"]}
    for field in ("episode_id", "chunk_index", "duration_seconds", "clip_url", "s3_url",
                  "error", "error_code", "attempts", "run_key", "run_id", "requested_at",
                  "finished_at"):
        if doc.get(field) is not None:
            view[field] = doc[field]
    return view


def _clip_fields(clip) -> dict:
    return {"clip_url": clip.audio_url, "s3_url": clip.s3_url}


def _error_fields(err: PodclipsError) -> dict:
    return {"error": err.message, "error_code": err.code}


class ClipRequests:
    def __init__(self, db):
        self.collection = db[COLLECTION]

    def ensure_indexes(self) -> None:
        # The sensor's page, the watchdog's scan, and settling by clip.
        ensure_indexes_once(
            self.collection,
            IndexModel([("status", 1), ("priority", 1), ("requested_at", 1)],
                       name="pending_order"),
            IndexModel([("status", 1), ("queued_at", 1)], name="queued_age"),
            IndexModel([("partition_key", 1), ("status", 1)], name="by_clip"),
            IndexModel([("run_key", 1)], name="by_run_key", sparse=True))

    def get(self, request_id: str) -> dict | None:
        ids = [ObjectId(request_id), request_id] if ObjectId.is_valid(request_id) else [request_id]
        with mongo_errors(f"reading request {request_id}"):
            return self.collection.find_one({"_id": {"$in": ids}})

    def insert(self, doc: dict) -> dict:
        with mongo_errors("recording a clip request"):
            self.collection.insert_one(doc)
        return doc

    def insert_many(self, docs: list[dict]) -> list[dict]:
        if docs:
            with mongo_errors(f"recording {len(docs)} clip requests"):
                self.collection.insert_many(docs, ordered=False)
        return docs

    def queued_with_ids(self, request_ids: list) -> list[dict]:
        with mongo_errors("reading claimed clip requests"):
            return list(self.collection.find({"_id": {"$in": request_ids}, "status": QUEUED}))

    # -- the sensor's side --------------------------------------------------

    def pending_page(self, limit: int) -> list[dict]:
        """People's requests before pre-cuts (`priority` 1; absent sorts first),
        then the oldest: a requeued request goes ahead of newer ones."""
        with mongo_errors("reading pending clip requests"):
            return list(self.collection.find({"status": PENDING})
                        .sort([("priority", 1), ("requested_at", 1), ("_id", 1)]).limit(limit))

    def set_partition_key(self, request_id, partition_key: str) -> None:
        with mongo_errors(f"updating request {request_id}"):
            self.collection.update_one({"_id": request_id, "status": PENDING},
                                       {"$set": {"partition_key": partition_key}})

    def queued_for(self, partition_keys: list[str]) -> dict[str, str]:
        """partition key -> run_key of a run already making that clip."""
        with mongo_errors("reading queued clip requests"):
            docs = self.collection.find(
                {"status": QUEUED, "partition_key": {"$in": partition_keys}},
                {"partition_key": 1, "run_key": 1})
            return {d["partition_key"]: d["run_key"] for d in docs if d.get("run_key")}

    def reject(self, request_id, err: PodclipsError, expected: str = PENDING) -> None:
        self._move(request_id, expected, REJECTED, {**_error_fields(err), "finished_at": _now()})

    def claim(self, request_ids: list, run_key: str) -> int:
        """pending -> queued under `run_key`; returns how many this call won."""
        now = _now()
        with mongo_errors("claiming clip requests"):
            return self.collection.update_many(
                {"_id": {"$in": request_ids}, "status": PENDING},
                {"$set": {"status": QUEUED, "run_key": run_key, "queued_at": now,
                          "updated_at": now},
                 "$unset": {"run_id": "", "error": "", "error_code": ""},
                 "$inc": {"attempts": 1}},
            ).modified_count

    def claimed_keys(self, run_key: str) -> set[str]:
        with mongo_errors("reading claimed clip requests"):
            return set(self.collection.distinct("partition_key",
                                                {"run_key": run_key, "status": QUEUED}))

    def active_keys(self, partition_keys: list[str]) -> set[str]:
        with mongo_errors("reading active clip requests"):
            return set(self.collection.distinct(
                "partition_key", {"partition_key": {"$in": partition_keys},
                                  "status": {"$in": ACTIVE}}))

    def active_identities_of_episodes(self, episode_ids: list[str]) -> list[dict]:
        """episode_id, chunk_index, duration_seconds of the open requests of these episodes."""
        with mongo_errors("reading active clip requests"):
            return list(self.collection.find(
                {"status": {"$in": ACTIVE}, "episode_id": {"$in": episode_ids}},
                {"_id": 0, "episode_id": 1, "chunk_index": 1, "duration_seconds": 1}))

    def record_run(self, run_key: str, run_id: str) -> None:
        with mongo_errors("recording a run id on clip requests"):
            self.collection.update_many({"run_key": run_key, "status": QUEUED},
                                        {"$set": {"run_id": run_id, "updated_at": _now()}})

    def queued_older_than(self, cutoff: datetime, limit: int) -> list[dict]:
        with mongo_errors("reading queued clip requests"):
            return list(self.collection.find(
                {"status": QUEUED, "queued_at": {"$lt": cutoff}},
                {"partition_key": 1, "run_key": 1, "queued_at": 1}).limit(limit))

    # -- closing the loop ---------------------------------------------------

    def settle(self, spec, outcome, run_key: str | None, run_id: str | None) -> None:
        """Record what a run made of one clip on the requests waiting for it.

        Never raises: a request left `queued` is closed by the watchdog instead.
        """
        try:
            if isinstance(outcome, PodclipsError):
                self.settle_failed(spec.partition_key, run_key, outcome, run_id)
            else:
                self.settle_done(spec.partition_key, outcome, run_id)
        except DependencyUnavailable as err:
            log.warning("could not settle requests for %s: %s", spec.partition_key, err.message)

    def settle_done(self, partition_key: str, clip, run_id: str | None = None) -> int:
        """Every active request for the clip is answered, whoever asked and whichever run."""
        now = _now()
        fields = {"status": DONE, **_clip_fields(clip), "finished_at": now, "updated_at": now}
        if run_id:
            fields["run_id"] = run_id
        with mongo_errors(f"settling requests for {partition_key}"):
            return self.collection.update_many(
                {"partition_key": partition_key, "status": {"$in": ACTIVE}},
                {"$set": fields, "$unset": {"error": "", "error_code": ""}}).modified_count

    def settle_failed(self, partition_key: str, run_key: str | None, err: PodclipsError,
                      run_id: str | None = None) -> int:
        """Requests this run was launched for: retried if the failure may pass, else failed."""
        if not run_key:  # a run started by hand or a backfill answers no request's failure
            return 0
        where = {"partition_key": partition_key, "status": QUEUED, "run_key": run_key}
        return self.requeue_or_fail(where, err.message, err.code, retry=err.kind == "unavailable",
                                    run_id=run_id)

    def requeue_or_fail(self, where: dict, reason: str, code: str, retry: bool = True,
                        run_id: str | None = None) -> int:
        """queued -> pending while attempts remain (if `retry`), the rest -> failed."""
        now = _now()
        extra = {"run_id": run_id} if run_id else {}
        moved = 0
        with mongo_errors("settling failed clip requests"):
            if retry:
                moved += self.collection.update_many(
                    {**where, "status": QUEUED, "attempts": {"$lt": MAX_ATTEMPTS}},
                    {"$set": {"status": PENDING, "error": reason, "error_code": code,
                              "updated_at": now},
                     "$unset": {"run_key": "", "run_id": "", "queued_at": ""}}).modified_count
            moved += self.collection.update_many(
                {**where, "status": QUEUED},
                {"$set": {"status": FAILED, "error": reason, "error_code": code,
                          "finished_at": now, "updated_at": now, **extra}}).modified_count
        return moved

    def _move(self, request_id, expected: str, status: str, fields: dict) -> bool:
        with mongo_errors(f"updating request {request_id}"):
            return self.collection.update_one(
                {"_id": request_id, "status": expected},
                {"$set": {"status": status, "updated_at": _now(), **fields}},
            ).modified_count == 1


def request_document(episode_id, chunk_index, duration, source: str, now: datetime,
                     **fields) -> dict:
    """A `clip_requests` document: every request, from any door, is shaped here."""
    return {"_id": ObjectId(), "episode_id": episode_id, "chunk_index": chunk_index,
            "duration_seconds": duration, "source": source, "requested_at": now,
            "updated_at": now, "attempts": 0, **fields}


def create_request(service: ClipService, resolved: ResolvedClip, source: str = "cli") -> dict:
    """Record a request for a resolved clip; returns the stored document.

    A clip that already exists answers `done` at once, without a run.
    """
    spec, now = resolved.spec, _now()
    clip = service.find_clip(spec)
    outcome = ({"status": DONE, **_clip_fields(clip), "finished_at": now} if clip is not None
               else {"status": PENDING})
    return _store(service).insert(request_document(
        spec.episode_id, spec.chunk_index, spec.duration_seconds, source, now,
        partition_key=spec.partition_key, **outcome))


def request_clip(service: ClipService, episode_id, chunk_index, duration=30,
                 source: str = "cli") -> dict:
    """Resolve plain input and record the request; returns the stored document.

    Invalid requests are recorded as `rejected` with the reason (so every
    requester can look its request up) rather than raised; only an
    unreachable dependency raises.
    """
    try:
        resolved = service.resolve(episode_id, chunk_index, duration)
    except PodclipsError as err:
        if err.kind not in INVALID_KINDS:
            raise
        now = _now()
        return _store(service).insert(request_document(
            episode_id, chunk_index, duration, source, now, status=REJECTED,
            **_error_fields(err), finished_at=now))
    return create_request(service, resolved, source)


def _store(service: ClipService) -> ClipRequests:
    store = ClipRequests(service.db)
    store.ensure_indexes()
    return store
