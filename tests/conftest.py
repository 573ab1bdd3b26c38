"""Real servers for the tests: SecantusDB over a socket, moto's S3 over HTTP."""

from __future__ import annotations

import os
import uuid

import boto3
import pymongo
import pytest
from moto.server import ThreadedMotoServer

from podclips_dagster.config import Settings
from podclips_dagster.core.storage import S3Storage
from podclips_dagster.devstack.mongo_server import free_port, start_mongo

# boto3 needs credentials even for moto; never let tests reach real AWS.
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")


@pytest.fixture(scope="session")
def mongo_server():
    server = start_mongo(":memory:")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def s3_server():
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def mongo_db(mongo_server):
    """A fresh database per test on the shared server."""
    client = pymongo.MongoClient(mongo_server.uri, serverSelectionTimeoutMS=5000)
    name = f"t_{uuid.uuid4().hex[:12]}"
    yield client[name]
    client.drop_database(name)
    client.close()


@pytest.fixture
def s3_storage(s3_server):
    return S3Storage(endpoint_url=s3_server, region="us-east-1")


@pytest.fixture
def buckets(s3_storage):
    """Fresh source and clips buckets per test: (source_name, clips_name)."""
    suffix = uuid.uuid4().hex[:10]
    names = (f"raw-{suffix}", f"clips-{suffix}")
    for name in names:
        s3_storage.client.create_bucket(Bucket=name)
    return names


@pytest.fixture
def settings(tmp_path, mongo_server, mongo_db, s3_server, buckets):
    """Settings pointing at the test servers, as the env vars would."""
    return Settings.from_env({
        "PODCLIPS_HOME": str(tmp_path / "home"),
        "MONGODB_URI": mongo_server.uri,
        "MONGODB_DB": mongo_db.name,
        "PODCLIPS_STORAGE": "s3",
        "S3_ENDPOINT_URL": s3_server,
        "S3_SOURCE_BUCKET": buckets[0],
        "S3_CLIPS_BUCKET": buckets[1],
    })


def boto3_client(endpoint):
    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
