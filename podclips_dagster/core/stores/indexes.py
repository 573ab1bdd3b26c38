"""Create a collection's indexes once per process, for every store.

Stores read their collections on every request or sensor tick; create_index
is a round trip each time even when the index exists, so each (client,
collection, index) is created once per process and remembered here.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from pymongo import IndexModel

from podclips_dagster.core.stores.mongo_errors import mongo_errors

_created: set[tuple[int, str, str]] = set()  # (client id, collection full name, index name)
_lock = threading.Lock()


def _key(collection, name: str) -> tuple[int, str, str]:
    return id(collection.database.client), collection.full_name, name


def ensure_indexes_once(collection, *indexes: IndexModel) -> None:
    """create_indexes for those of `indexes` this process has not created yet."""
    with _lock:
        missing = [ix for ix in indexes if _key(collection, ix.document["name"]) not in _created]
    if not missing:
        return
    with mongo_errors(f"creating {collection.name} indexes"):
        collection.create_indexes(missing)
    with _lock:
        _created.update(_key(collection, ix.document["name"]) for ix in missing)


def once_per_process(collection, name: str, create: Callable[[], None]) -> None:
    """Run `create` (indexes that need more than create_indexes) once per process."""
    with _lock:
        if _key(collection, name) in _created:
            return
    with mongo_errors(f"creating {collection.name} indexes"):
        create()
    with _lock:
        _created.add(_key(collection, name))
