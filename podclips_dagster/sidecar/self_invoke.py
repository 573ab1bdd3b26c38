"""Asynchronous invocations of this same Lambda function, for work that must not hold an
answer back (pre-cuts: sidecar/precut.py; audiogram renders: sidecar/videos.py).

A failed invocation is not retried (deploy/template.yaml): its event goes to the
on-failure queue, which an alarm watches.
"""

from __future__ import annotations

import json
from functools import lru_cache

import boto3
from botocore.config import Config


def invoke_async(settings, payload: dict) -> str:
    """Hand `payload` to an asynchronous invocation; returns that invocation's request id."""
    answer = _lambda_client(settings.aws_region, settings.lambda_endpoint_url).invoke(
        FunctionName=settings.lambda_function_name, InvocationType="Event",
        Payload=json.dumps(payload).encode())
    return answer["ResponseMetadata"]["RequestId"]


@lru_cache(maxsize=4)
def _lambda_client(region: str, endpoint_url: str | None):
    # Short timeouts, one retry: the answer waits for this call. The endpoint is AWS's unless
    # AWS_ENDPOINT_URL_LAMBDA names another (Settings.lambda_endpoint_url; tests: moto).
    return boto3.client("lambda", region_name=region, endpoint_url=endpoint_url,
                        config=Config(connect_timeout=2, read_timeout=5,
                                      retries={"max_attempts": 2, "mode": "standard"}))
