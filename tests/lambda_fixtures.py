"""Lambda events as API Gateway sends them (REST v1, HTTP v2), a Lambda context, and the
handler loaded afresh against the test servers: shared by every test of the Lambda door."""


from __future__ import annotations

import importlib
import io
import json
import logging
import time
import uuid
import zipfile

import boto3
import pymongo
import pytest

from podclips_dagster.core.api_keys import ApiKeys
from tests.api_fixtures import clear_owned_collections


class LambdaContext:
    """The attributes the Lambda runtime's context object carries."""

    def __init__(self, remaining_ms: int = 30_000):
        self.function_name = "podclips-sidecar"
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = 1024
        self.invoked_function_arn = (
            "arn:aws:lambda:us-east-1:123456789012:function:podclips-sidecar")
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = "/aws/lambda/podclips-sidecar"
        self.log_stream_name = "2026/11/27/[$LATEST]abc"
        self._deadline = time.monotonic() + remaining_ms / 1000

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def rest_v1_event(method: str, path: str, source_ip: str, headers: dict, body=None,
                  query: dict | None = None) -> dict:
    headers = {"Host": "abc123.execute-api.us-east-1.amazonaws.com", "User-Agent": "curl/8.5.0",
               "X-Forwarded-For": "198.18.0.1, 130.176.0.1", "X-Forwarded-Proto": "https",
               **headers}
    return {
        "resource": "/{proxy+}", "path": path, "httpMethod": method, "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": query,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} if query else None,
        "pathParameters": {"proxy": path.lstrip("/")}, "stageVariables": None,
        "requestContext": {
            "resourceId": "a1b2c3", "resourcePath": "/{proxy+}", "httpMethod": method,
            "extendedRequestId": "Ab1Cd2EfIAMF0Q=", "requestTime": "27/Nov/2026:11:30:00 +0000",
            "path": f"/prod{path}", "accountId": "123456789012", "protocol": "HTTP/1.1",
            "stage": "prod", "domainPrefix": "abc123", "requestTimeEpoch": 1795779000000,
            "requestId": str(uuid.uuid4()),
            "domainName": "abc123.execute-api.us-east-1.amazonaws.com",
            "apiId": "abc123",
            "identity": {"cognitoIdentityPoolId": None, "accountId": None,
                         "cognitoIdentityId": None,
                         "caller": None, "sourceIp": source_ip, "principalOrgId": None,
                         "accessKey": None, "cognitoAuthenticationType": None,
                         "cognitoAuthenticationProvider": None, "userArn": None,
                         "userAgent": "curl/8.5.0", "user": None, "apiKey": "gateway-key",
                         "apiKeyId": "k1"},
        },
        "body": json.dumps(body) if body is not None else None, "isBase64Encoded": False,
    }


def http_v2_event(method: str, path: str, source_ip: str, headers: dict, body=None,
                  query: str = "") -> dict:
    headers = {"host": "xyz789.execute-api.us-east-1.amazonaws.com", "user-agent": "curl/8.5.0",
               "x-forwarded-for": "198.18.0.1", "x-forwarded-proto": "https",
               **{k.lower(): v for k, v in headers.items()}}
    return {
        "version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": query,
        "headers": headers,
        "queryStringParameters": dict(p.split("=", 1) for p in query.split("&")) if query else None,
        "requestContext": {
            "accountId": "123456789012", "apiId": "xyz789",
            "domainName": "xyz789.execute-api.us-east-1.amazonaws.com", "domainPrefix": "xyz789",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1",
                     "sourceIp": source_ip, "userAgent": "curl/8.5.0"},
            "requestId": "JKJaXmPLvHcESHA=", "routeKey": "$default", "stage": "$default",
            "time": "27/Nov/2026:11:30:00 +0000", "timeEpoch": 1795779000000,
        },
        "body": json.dumps(body) if body is not None else None, "isBase64Encoded": False,
    }


@pytest.fixture
def lambda_handler_with(api_catalogue, s3_server, tmp_path, monkeypatch):
    """Loads the handler module afresh with env vars pointing at the test servers, plus
    `extra` ones (None unsets one): returns (handler, an API key, the database)."""
    clients = []
    # On Lambda the package's stdlib loggers write through Powertools' JSON handler and stop
    # propagating; later tests in this process read them through the root logger again.
    stdlib = logging.getLogger("podclips")
    saved = stdlib.handlers[:], stdlib.propagate, stdlib.level

    def load(**extra):
        clips = f"clips-{uuid.uuid4().hex[:10]}"
        boto3.client("s3", endpoint_url=s3_server,
                     region_name="us-east-1").create_bucket(Bucket=clips)
        db_client = pymongo.MongoClient(api_catalogue.mongo_uri)
        clients.append(db_client)
        db = db_client[api_catalogue.db_name]
        clear_owned_collections(db)
        env = {"MONGODB_URI": api_catalogue.mongo_uri, "MONGODB_DB": api_catalogue.db_name,
               "PODCLIPS_STORAGE": "s3", "S3_ENDPOINT_URL": s3_server,
               "PODCLIPS_HOME": str(tmp_path), "S3_SOURCE_BUCKET": api_catalogue.source_bucket,
               "S3_CLIPS_BUCKET": clips,
               "RATE_LIMIT_PER_IP_PER_MINUTE": "2", "RATE_LIMIT_PER_KEY_PER_HOUR": "1000",
               # As on Lambda: pre-cuts go to an asynchronous invocation of the function,
               # here to moto's Lambda API (which accepts it but cannot run it: no Docker).
               "AWS_LAMBDA_FUNCTION_NAME": "podclips-sidecar",
               "AWS_ENDPOINT_URL_LAMBDA": s3_server, **extra}
        _create_function(s3_server, "podclips-sidecar")
        for name, value in env.items():
            if value is None:
                monkeypatch.delenv(name, raising=False)
            else:
                monkeypatch.setenv(name, value)
        module = importlib.reload(importlib.import_module(
            "podclips_dagster.sidecar.lambda_handler"))
        return module.handler, ApiKeys(db["api_keys"]).create("lambda-tests"), db

    yield load
    for db_client in clients:
        db_client.close()
    stdlib.handlers[:], stdlib.propagate, stdlib.level = saved


@pytest.fixture
def lambda_world(lambda_handler_with):
    """The handler with the test servers' env, as on Lambda."""
    return lambda_handler_with()


def _create_function(endpoint: str, name: str) -> None:
    lam = boto3.client("lambda", endpoint_url=endpoint, region_name="us-east-1")
    if name in {f["FunctionName"] for f in lam.list_functions()["Functions"]}:
        return
    role = boto3.client("iam", endpoint_url=endpoint, region_name="us-east-1").create_role(
        RoleName=f"{name}-{uuid.uuid4().hex[:6]}", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return event\n")
    lam.create_function(FunctionName=name, Runtime="python3.12", Role=role,
                        Handler="handler.handler", Code={"ZipFile": code.getvalue()})
