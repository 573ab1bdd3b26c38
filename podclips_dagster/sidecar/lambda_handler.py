"""The Lambda entry point: API Gateway (REST v1 or HTTP v2 events) -> Mangum -> the app,
and the sidecar pre-cut's asynchronous invocations (`{"podclips_precut": [request ids]}`,
sidecar/precut.py) -> the pre-cuts they name.

The app, its MongoDB client and its S3 client are built once per Lambda
instance (at cold start) and reused by every invocation.
"""

from __future__ import annotations

from mangum import Mangum

from podclips_dagster.sidecar.app import create_app
from podclips_dagster.sidecar.body_limit import oversized_event_response
from podclips_dagster.sidecar.observability import logger
from podclips_dagster.sidecar.precut import PRECUT_EVENT, handle_precut_event

_app = create_app()
# No lifespan events: the app keeps no per-invocation startup work.
_adapter = Mangum(_app, lifespan="off")


@logger.inject_lambda_context(clear_state=True)
def handler(event, context):
    if isinstance(event, dict) and PRECUT_EVENT in event:
        return handle_precut_event(_app.state.sidecar, event)
    return oversized_event_response(event) or _adapter(event, context)
