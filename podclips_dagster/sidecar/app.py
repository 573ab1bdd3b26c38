"""The sidecar ASGI app: `create_app(settings)`, served by uvicorn locally and Mangum in Lambda."""

from __future__ import annotations

from fastapi import FastAPI

from podclips_dagster.config import Settings
from podclips_dagster.core.stores.request_log import RequestLog
from podclips_dagster.sidecar import clips, files, health, lookup, share, videos
from podclips_dagster.sidecar.body_limit import BodySizeLimit
from podclips_dagster.sidecar.cors import CORSExceptPrefix
from podclips_dagster.sidecar.errors import install_error_handlers
from podclips_dagster.sidecar.observability import (
    RequestObserver,
    configure_observability,
)
from podclips_dagster.sidecar.state import DEFAULT_BUDGET_SECONDS, Sidecar

_RATE_LIMIT_HEADERS = ("Retry-After", "X-RateLimit-Limit", "X-RateLimit-Remaining",
                       "X-RateLimit-Reset")
DESCRIPTION = """Synchronous clip API over the podclips clip service.

Clip routes need an `X-API-Key` header (`podclips api-key create NAME`). The
clip-making routes are limited per client IP (per minute) and per key (per
hour); every answer to them carries `X-RateLimit-Limit`, `X-RateLimit-Remaining`
and `X-RateLimit-Reset` (seconds), and a 429 carries `Retry-After`. Every error
is `{"error": {"code", "message"}}`.
"""


def create_app(settings: Settings | None = None, *,
               budget_seconds: float = DEFAULT_BUDGET_SECONDS) -> FastAPI:
    """The app; `budget_seconds` bounds how long a request waits for a cut before a 202."""
    settings = settings or Settings.from_env()
    configure_observability(on_lambda=settings.lambda_function_name is not None)
    app = FastAPI(title="podclips sidecar", version="0.1.0", description=DESCRIPTION)
    state = Sidecar.from_settings(settings, budget_seconds)
    app.state.sidecar = state
    app.state.settings = settings
    app.state.storage = state.service.storage  # files.py serves the local store from it
    install_error_handlers(app)
    app.add_middleware(BodySizeLimit)
    app.add_middleware(RequestObserver, request_log=RequestLog(state.service.db))
    # The dashboard calls from browsers. Any origin may: the key travels in a header, never
    # in a cookie, so a foreign page gains nothing it does not already hold. Not /files/.
    app.add_middleware(CORSExceptPrefix, excluded_prefix=files.PREFIX, allow_origins=["*"],
                       allow_methods=["GET", "POST"], allow_headers=["Content-Type", "X-API-Key"],
                       expose_headers=list(_RATE_LIMIT_HEADERS), max_age=86400)
    for module in (clips, lookup, health, share, videos, files):
        app.include_router(module.router)
    return app
