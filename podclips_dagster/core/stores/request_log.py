"""The sidecar's request log, `api_requests`: one document per API request.

Written after each answer (`sidecar/observability.py`), read by `podclips
stats`; documents expire after `REQUEST_LOG_DAYS` (stats look back days, not
months).
"""

from __future__ import annotations

from datetime import datetime

from pymongo import IndexModel

from podclips_dagster.core.stores.indexes import ensure_indexes_once
from podclips_dagster.core.stores.mongo_errors import mongo_errors

REQUESTS_COLLECTION = "api_requests"
REQUEST_LOG_DAYS = 30


class RequestLog:
    def __init__(self, db):
        self.collection = db[REQUESTS_COLLECTION]

    def record(self, doc: dict) -> None:
        ensure_indexes_once(self.collection, IndexModel(
            "ts", expireAfterSeconds=REQUEST_LOG_DAYS * 86400, name="ts_ttl"))
        with mongo_errors("recording an API request"):
            self.collection.insert_one(doc)

    def since(self, since: datetime, fields: tuple[str, ...]) -> list[dict]:
        with mongo_errors("reading the API request log"):
            return list(self.collection.find({"ts": {"$gte": since}},
                                             {"_id": 0, **dict.fromkeys(fields, 1)}))
