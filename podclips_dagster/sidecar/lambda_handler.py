"""The Lambda entry point: API Gateway (REST v1 or HTTP v2 events) -> Mangum -> the app.

The app, its MongoDB client and its S3 client are built once per Lambda
instance (at cold start) and reused by every invocation.
"""

from __future__ import annotations

from mangum import Mangum

from podclips_dagster.sidecar.app import create_app
from podclips_dagster.sidecar.observability import logger

# No lifespan events: the app keeps no per-invocation startup work.
_adapter = Mangum(create_app(), lifespan="off")


@logger.inject_lambda_context(clear_state=True)
def handler(event, context):
    return _adapter(event, context)
