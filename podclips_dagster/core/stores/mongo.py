"""One MongoDB client per process, and pymongo errors as core errors.

Library code never starts a server: without MONGODB_URI it raises
MissingConfiguration. The CLI and `podclips dev` start the embedded one
(devstack) and pass its URI in the settings.
"""

from __future__ import annotations

import contextlib
import threading

import pymongo
from pymongo.errors import ConnectionFailure, OperationFailure, PyMongoError

from podclips_dagster.core.errors import DependencyUnavailable, MissingConfiguration

_clients: dict[str, pymongo.MongoClient] = {}
_lock = threading.Lock()
_indexes: set[tuple[str, str]] = set()  # (collection, index name) ensured by this process


def mongo_client(uri: str) -> pymongo.MongoClient:
    """A shared client for `uri`: pymongo pools connections, so reuse is the fast path."""
    with _lock:
        client = _clients.get(uri)
        if client is None:
            client = pymongo.MongoClient(
                uri, serverSelectionTimeoutMS=3000, connectTimeoutMS=3000,
                socketTimeoutMS=30000, tz_aware=True, appname="podclips",
            )
            _clients[uri] = client
        return client


def ensure_index_once(collection, keys: list, name: str) -> None:
    """create_index, but once per process: for code that reads a collection every tick."""
    if (collection.full_name, name) not in _indexes:
        collection.create_index(keys, name=name)
        _indexes.add((collection.full_name, name))


def resolve_mongo_uri(settings) -> str:
    if settings.mongodb_uri:
        return settings.mongodb_uri
    if settings.mongodb_uri_secret_name:
        from podclips_dagster.core.stores.secrets import mongodb_uri_from_secret

        return mongodb_uri_from_secret(settings.mongodb_uri_secret_name)
    raise MissingConfiguration(
        "MONGODB_URI is not set (nor MONGODB_URI_SECRET_NAME): point it at a MongoDB server "
        "(only the `podclips` CLI and `podclips dev` start the embedded one under PODCLIPS_HOME)")


def database_for(settings):
    return mongo_client(resolve_mongo_uri(settings))[settings.mongodb_db]


@contextlib.contextmanager
def mongo_errors(doing: str):
    """Turn driver errors into DependencyUnavailable naming what we were doing."""
    try:
        yield
    except ConnectionFailure as err:
        raise DependencyUnavailable(f"MongoDB is unreachable while {doing}: {err}") from None
    except OperationFailure as err:
        raise DependencyUnavailable(f"MongoDB refused {doing}: {err}") from None
    except PyMongoError as err:
        if isinstance(err, pymongo.errors.DuplicateKeyError):
            raise
        raise DependencyUnavailable(f"MongoDB failed while {doing}: {err}") from None
