"""API keys for the sidecar: created and revoked by name, stored only as hashes.

A key is 32 random bytes, so a plain SHA-256 of it cannot be reversed by
guessing (there is no dictionary of likely keys to try); a slow password
hash would add tens of milliseconds to every request for nothing. The hash
is the document's `_id`, so checking a key is one indexed lookup.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from pymongo import IndexModel
from pymongo.errors import DuplicateKeyError

from podclips_dagster.core.errors import PodclipsError
from podclips_dagster.core.stores.indexes import ensure_indexes_once
from podclips_dagster.core.stores.mongo_errors import mongo_errors

API_KEYS_COLLECTION = "api_keys"
KEY_PREFIX = "pk_"
MAX_KEY_LENGTH = 128
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class InvalidKeyName(PodclipsError):
    kind = "bad_input"
    code = "invalid_key_name"


class KeyNameTaken(PodclipsError):
    kind = "bad_input"
    code = "key_name_taken"


class KeyNotFound(PodclipsError):
    kind = "not_found"
    code = "key_not_found"


@dataclass(frozen=True)
class KeyInfo:
    name: str
    created_at: datetime
    revoked_at: datetime | None


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


class ApiKeys:
    @classmethod
    def in_db(cls, db):
        return cls(db[API_KEYS_COLLECTION])

    def __init__(self, collection):
        self.collection = collection

    def create(self, name: str) -> str:
        """A new key for `name`, returned once; only its hash is stored."""
        if not isinstance(name, str) or not _NAME.match(name):
            raise InvalidKeyName(
                f"key name {name!r} must be 1-64 letters, digits, '_', '.' or '-'")
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        with mongo_errors(f"creating the API key {name!r}"):
            self.ensure_indexes()
            try:
                self.collection.insert_one({"_id": hash_key(key), "name": name,
                                            "created_at": datetime.now(UTC),
                                            "revoked_at": None})
            except DuplicateKeyError:
                raise KeyNameTaken(
                    f"an active key named {name!r} exists; revoke it first") from None
        return key

    def ensure_indexes(self) -> None:
        """One active key per name, enforced by MongoDB: two `create` calls racing (two
        terminals, two deploy scripts) cannot both win, as a check-then-insert could."""
        ensure_indexes_once(
            self.collection, IndexModel("name", name="name"),
            # Its own key pattern, so it sits beside the older "name" index on any version.
            IndexModel([("name", 1), ("revoked_at", 1)], name="one_active_key_per_name",
                       unique=True, partialFilterExpression={"revoked_at": {"$type": "null"}}))

    def revoke(self, name: str) -> int:
        """Revoke the active key(s) named `name`; how many were revoked."""
        with mongo_errors(f"revoking the API key {name!r}"):
            result = self.collection.update_many(
                {"name": name, "revoked_at": None},
                {"$set": {"revoked_at": datetime.now(UTC)}})
        if result.modified_count == 0:
            raise KeyNotFound(f"no active API key is named {name!r}")
        return result.modified_count

    def verify(self, key: str | None) -> str | None:
        """The name of the active key `key`, or None (missing, unknown or revoked)."""
        if not key or len(key) > MAX_KEY_LENGTH or not key.isascii():
            return None
        with mongo_errors("checking an API key"):
            doc = self.collection.find_one({"_id": hash_key(key), "revoked_at": None},
                                           {"name": 1})
        return doc["name"] if doc else None

    def list(self) -> list[KeyInfo]:
        with mongo_errors("listing API keys"):
            docs = self.collection.find({}, {"_id": 0, "name": 1, "created_at": 1,
                                             "revoked_at": 1}).sort("created_at", 1)
            return [KeyInfo(d["name"], d["created_at"], d.get("revoked_at")) for d in docs]
