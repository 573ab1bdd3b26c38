"""The Lambda entry point: API Gateway (REST v1 or HTTP v2 events) -> Mangum -> the app,
and this function's own asynchronous invocations: pre-cuts (`{"podclips_precut": [request
ids]}`, sidecar/precut.py) and audiogram renders (`{"podclips_video": {...}}`,
sidecar/videos.py).

The app, its MongoDB client and its S3 client are built once per Lambda
instance (at cold start) and reused by every invocation. Each invocation's
metrics are flushed once, with the cold-start metric, by Powertools; its log
lines carry API Gateway's request id as the correlation id.
"""

from __future__ import annotations

from aws_lambda_powertools.logging import correlation_paths
from mangum import Mangum

from podclips_dagster.sidecar.app import create_app
from podclips_dagster.sidecar.body_limit import oversized_event_response
from podclips_dagster.sidecar.links import base_path
from podclips_dagster.sidecar.observability import logger, metrics
from podclips_dagster.sidecar.precut import PRECUT_EVENT, handle_precut_event
from podclips_dagster.sidecar.videos import VIDEO_EVENT, handle_video_event

_app = create_app()
# No lifespan events: the app keeps no per-invocation startup work. On a custom domain with
# a base path mapping, API Gateway leaves the base path in the event's path.
_adapter = Mangum(_app, lifespan="off",
                  api_gateway_base_path=base_path(_app.state.settings.share_base_url))


@metrics.log_metrics(capture_cold_start_metric=True)
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST,
                              clear_state=True)
def handler(event, context):
    if isinstance(event, dict) and PRECUT_EVENT in event:
        return handle_precut_event(_app.state.sidecar, event)
    if isinstance(event, dict) and VIDEO_EVENT in event:
        return handle_video_event(_app.state.sidecar, event)
    return oversized_event_response(event) or _adapter(event, context)
