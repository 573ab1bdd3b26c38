"""One MongoDB client per process, and pymongo errors as core errors."""

from __future__ import annotations

import contextlib
import threading

import pymongo
from pymongo.errors import ConnectionFailure, OperationFailure, PyMongoError

from podclips_dagster.core.errors import DependencyUnavailable

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
    from podclips_dagster.devstack.mongo_server import embedded_mongo_uri

    return embedded_mongo_uri(settings.home)


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
