"""`GET /health`: MongoDB, object storage and FFmpeg, each checked and timed."""

from __future__ import annotations

import os
import time

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from podclips_dagster.core.errors import PodclipsError
from podclips_dagster.sidecar.models import HealthCheck, HealthResponse
from podclips_dagster.sidecar.state import sidecar

router = APIRouter(tags=["operations"])
# A key under the clips prefix: the function's IAM policy allows HEAD there and nowhere else.
_PROBE_KEY = "audio_clips/.health"


@router.get("/health", response_model=HealthResponse,
            responses={503: {"model": HealthResponse, "description": "A dependency is down"}})
def health(request: Request):
    service = sidecar(request).service
    checks = {
        "mongodb": _check(lambda: service.db.command("ping")),
        "storage": _check(lambda: service.clips_bucket.head(_PROBE_KEY)),
        "ffmpeg": _check(lambda: _executable(service.ffmpeg)),
    }
    ok = all(c.ok for c in checks.values())
    body = HealthResponse(status="ok" if ok else "unavailable", checks=checks)
    return JSONResponse(body.model_dump(), status_code=200 if ok else 503)


def _check(probe) -> HealthCheck:
    started = time.perf_counter()
    try:
        probe()
        error = None
    except PodclipsError as err:
        error = err.code
    except Exception as err:  # a health check reports, it never raises
        error = type(err).__name__
    return HealthCheck(ok=error is None, error=error,
                       latency_ms=round((time.perf_counter() - started) * 1000, 2))


def _executable(path: str) -> None:
    if not os.access(path, os.X_OK):
        raise FileNotFoundError(path)
