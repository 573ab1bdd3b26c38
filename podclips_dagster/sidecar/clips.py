"""The clip-making routes: the seed's POST and the dashboard's GET."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, BackgroundTasks, Depends, Path, Query, Request
from fastapi.responses import JSONResponse

from podclips_dagster.core.errors import InvalidDuration
from podclips_dagster.core.spec import ALLOWED_DURATIONS, MAX_EPISODE_ID_LENGTH
from podclips_dagster.sidecar.budget import Pending, clip_within_budget
from podclips_dagster.sidecar.demand import record_play
from podclips_dagster.sidecar.errors import documented
from podclips_dagster.sidecar.models import (
    ClipResponse,
    DashboardClipResponse,
    GenerateRequest,
    PendingResponse,
)
from podclips_dagster.sidecar.precut import precut_after_play
from podclips_dagster.sidecar.security import require_key_within_limits
from podclips_dagster.sidecar.state import sidecar

router = APIRouter(tags=["clips"])
_ERRORS = documented(400, 401, 404, 422, 429, 502, 503)
_PENDING = {202: {"model": PendingResponse, "description": "The cut continues; poll again "
                  "after Retry-After (the request id is a `clip_requests` record)."}}


@router.post("/api/generate-audio-clip", response_model=ClipResponse,
             responses={**_PENDING, **_ERRORS},
             summary="Get a clip of a chunk, cutting it if needed")
async def generate_audio_clip(body: GenerateRequest, request: Request,
                              background: BackgroundTasks,
                              _key: str = Depends(require_key_within_limits)):
    app = sidecar(request)
    outcome = await clip_within_budget(request, lambda: app.resolved.get(
        ("chunk", body.episode_id, body.chunk_index, body.duration),
        lambda: app.service.resolve(body.episode_id, body.chunk_index, body.duration)))
    background.add_task(record_play, app, outcome.spec)
    background.add_task(precut_after_play, app, outcome.spec)
    if isinstance(outcome, Pending):
        return pending_response(outcome)
    return ClipResponse(**outcome.to_dict())


@router.get("/api/v1/audio_clips/{episode_id:path}", response_model=DashboardClipResponse,
            responses={**_PENDING, **_ERRORS}, summary="The dashboard's clip at a time")
async def dashboard_clip(
    request: Request,
    background: BackgroundTasks,
    episode_id: str = Path(min_length=1, max_length=MAX_EPISODE_ID_LENGTH,
                           description="guid, special id (`substack:post:1`) or 24-hex ObjectId"),
    start_time_ms: int = Query(ge=0, le=2**31, description="A time inside the wanted chunk, "
                               "normally the chunk's start (search results carry it)."),
    duration_ms: int = Query(30_000, description="Clip length: 15000, 30000 or 60000.",
                             json_schema_extra={"enum": [d * 1000 for d in ALLOWED_DURATIONS]}),
    _key: str = Depends(require_key_within_limits),
):
    """The clip of the chunk that contains `start_time_ms`.

    The dashboard passes the chunk's start, so the clip starts there. A time
    inside a chunk gets that chunk's clip (it starts at the chunk's start,
    reported as `start_time_ms`): one stored clip per chunk keeps clips
    cacheable and shareable, where cutting at every requested millisecond
    would make each request a miss.
    """
    started = time.perf_counter()
    duration = _seconds(duration_ms)
    app = sidecar(request)
    outcome = await clip_within_budget(request, lambda: app.resolved.get(
        ("time", episode_id, start_time_ms, duration),
        lambda: app.service.resolve_at(episode_id, start_time_ms / 1000, duration)))
    background.add_task(record_play, app, outcome.spec)
    background.add_task(precut_after_play, app, outcome.spec)
    if isinstance(outcome, Pending):
        return pending_response(outcome)
    ttl = app.settings.clip_url_ttl_seconds
    return DashboardClipResponse(
        clip_url=outcome.audio_url,
        expires_at=(datetime.now(UTC) + timedelta(seconds=ttl)).isoformat(
            timespec="seconds").replace("+00:00", "Z"),
        cache_hit=outcome.cached, episode_id=episode_id,
        start_time_ms=round(outcome.start_time * 1000), duration_ms=round(outcome.duration * 1000),
        generation_time_ms=round((time.perf_counter() - started) * 1000),
        chunk_index=outcome.spec.chunk_index, partition_key=outcome.partition_key,
    )


def _seconds(duration_ms: int) -> int:
    if duration_ms % 1000 or duration_ms // 1000 not in ALLOWED_DURATIONS:
        raise InvalidDuration(f"duration_ms {duration_ms} is not offered; choose one of "
                              f"{tuple(d * 1000 for d in ALLOWED_DURATIONS)}")
    return duration_ms // 1000


def pending_response(pending: Pending) -> JSONResponse:
    """202 with the clip request that will finish the work, and when to poll again."""
    spec = pending.spec
    body = PendingResponse(request_id=pending.request_id, partition_key=spec.partition_key,
                           episode_id=spec.episode_id, chunk_index=spec.chunk_index,
                           duration_seconds=spec.duration_seconds,
                           retry_after_seconds=pending.retry_after)
    return JSONResponse(body.model_dump(), status_code=202,
                        headers={"Retry-After": str(pending.retry_after)})
