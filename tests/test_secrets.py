"""The MongoDB URI read at run time from Secrets Manager (moto's, over HTTP), cached.

The function's environment holds only the secret's name; Powertools'
parameters utility fetches the value and keeps it for `max_age`.
"""

from __future__ import annotations

import json
import uuid

import boto3
import pytest
from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.parameters.base import DEFAULT_PROVIDERS

from podclips_dagster.config import Settings
from podclips_dagster.core.errors import DependencyUnavailable
from podclips_dagster.core.stores.secrets import mongodb_uri_from_secret
from tests.lambda_fixtures import LambdaContext, rest_v1_event

# One seeded catalogue for every sidecar test module; the Lambda handler fixtures.
pytest_plugins = ["tests.api_fixtures", "tests.lambda_fixtures"]


@pytest.fixture
def secrets(s3_server, monkeypatch):
    """moto's Secrets Manager (ThreadedMotoServer serves every service), reached by boto3's
    own endpoint variable, with Powertools' provider and cache fresh."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", s3_server)
    DEFAULT_PROVIDERS.clear()
    parameters.clear_caches()
    yield boto3.client("secretsmanager", endpoint_url=s3_server, region_name="us-east-1")
    DEFAULT_PROVIDERS.clear()
    parameters.clear_caches()


def _secret(client, value: str) -> str:
    name = f"podclips/mongodb-{uuid.uuid4().hex[:8]}"
    client.create_secret(Name=name, SecretString=value)
    return name


def test_the_uri_is_read_from_the_secret_and_cached(secrets):
    name = _secret(secrets, json.dumps({"uri": "mongodb+srv://u:p@one.example.net/"}))
    assert mongodb_uri_from_secret(name) == "mongodb+srv://u:p@one.example.net/"
    secrets.put_secret_value(SecretId=name, SecretString="mongodb://two.example.net/")
    # Warm invocations do not call Secrets Manager again (until max_age).
    assert mongodb_uri_from_secret(name) == "mongodb+srv://u:p@one.example.net/"
    parameters.clear_caches()
    assert mongodb_uri_from_secret(name) == "mongodb://two.example.net/"  # a bare URI works too


def test_a_missing_or_wrong_secret_is_a_clear_error(secrets):
    with pytest.raises(DependencyUnavailable, match="podclips/absent"):
        mongodb_uri_from_secret("podclips/absent")
    name = _secret(secrets, json.dumps({"url": "mongodb://typo/"}))
    with pytest.raises(DependencyUnavailable, match="holds no MongoDB URI"):
        mongodb_uri_from_secret(name)


def test_only_the_secret_name_is_configured():
    settings = Settings.from_env({"MONGODB_URI_SECRET_NAME": "podclips/mongodb"})
    assert settings.mongodb_uri is None and settings.mongodb_uri_secret_name == "podclips/mongodb"
    assert settings.storage == "s3"


def test_the_handler_reaches_mongodb_through_the_secret(lambda_handler_with, secrets,
                                                        api_catalogue):
    name = _secret(secrets, json.dumps({"uri": api_catalogue.mongo_uri}))
    handler, key, _ = lambda_handler_with(MONGODB_URI=None, MONGODB_URI_SECRET_NAME=name)
    health = handler(rest_v1_event("GET", "/health", "203.0.113.80", {}), LambdaContext())
    assert health["statusCode"] == 200, health["body"]
    assert json.loads(health["body"])["checks"]["mongodb"]["ok"] is True
    # The key was stored by the test through the same server: the handler finds it.
    lookup = handler(rest_v1_event("POST", "/api/audio-clips/lookup", "203.0.113.80",
                                   {"X-API-Key": key, "Content-Type": "application/json"},
                                   {"items": []}), LambdaContext())
    assert lookup["statusCode"] == 200, lookup["body"]
