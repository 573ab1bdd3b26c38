"""Dagster runs that failed, as the run-failure sensor records them, for `podclips stats`.

One document per run (`_id` is the run id, so a sensor tick evaluated twice
writes it once), kept 30 days.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pymongo import IndexModel

from podclips_dagster.core.stores.indexes import ensure_indexes_once
from podclips_dagster.core.stores.mongo_errors import mongo_errors

RUN_FAILURES_COLLECTION = "run_failures"
KEEP_SECONDS = 30 * 24 * 3600
MAX_ERROR_CHARS = 2000  # a step's error names every failed partition: keep the head


@dataclass(frozen=True)
class RunFailure:
    run_id: str
    job_name: str
    failed_at: datetime
    message: str
    steps: dict[str, str]  # step key -> its error
    tags: dict[str, str]  # what launched it: run key, sensor or schedule, partitions


class RunFailures:
    def __init__(self, db):
        self.collection = db[RUN_FAILURES_COLLECTION]

    def record(self, failure: RunFailure) -> None:
        ensure_indexes_once(self.collection, IndexModel(
            "failed_at", name="ttl_failed_at", expireAfterSeconds=KEEP_SECONDS))
        with mongo_errors("recording a failed run"):
            self.collection.replace_one({"_id": failure.run_id}, {
                "job_name": failure.job_name, "failed_at": failure.failed_at,
                "message": failure.message[:MAX_ERROR_CHARS],
                "steps": [{"step": step, "error": error[:MAX_ERROR_CHARS]}
                          for step, error in failure.steps.items()],
                "tags": failure.tags,
            }, upsert=True)

    def since(self, since: datetime, limit: int = 20) -> list[dict]:
        """The latest failures after `since`, newest first, as JSON-ready dicts."""
        with mongo_errors("reading failed runs"):
            docs = list(self.collection.find({"failed_at": {"$gte": since}})
                        .sort("failed_at", -1).limit(limit))
        return [{"run_id": doc.pop("_id"), **doc, "failed_at": doc["failed_at"].isoformat()}
                for doc in docs]
