"""One MongoDB client per process, and the database the settings name.

Library code never starts a server: without MONGODB_URI it raises
MissingConfiguration. The CLI and `podclips dev` start the embedded one
(devstack) and pass its URI in the settings.
"""

from __future__ import annotations

import threading

import pymongo

from podclips_dagster.core.errors import MissingConfiguration

_clients: dict[str, pymongo.MongoClient] = {}
_lock = threading.Lock()


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
