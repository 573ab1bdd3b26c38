"""`POST /api/generate-video-clip`: an audiogram MP4 of a clip, never rendered inside a
Lambda request.

A render takes about 9 s of two cores, about 30 s at Lambda's 1024 MB: more
than API Gateway waits. On Lambda the route answers a stored video at once,
else 202 with the request id of an asynchronous invocation of this function
that renders it (`{"podclips_video": {...}}`, `handle_video_event`); asking
again returns the video once it is stored. A local server (`podclips api`)
renders within the request. Either way, an FFmpeg without what audiograms
need (libx264, libass, freetype) or a missing font answers 501 at once
(checked once per process).
"""

from __future__ import annotations

import logging
from functools import partial
from typing import Literal

import anyio
from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import BotoCoreError, ClientError
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from podclips_dagster.core.errors import DependencyUnavailable, PodclipsError
from podclips_dagster.core.media.audiogram import DEFAULT_VIDEO_SIZE, VIDEO_SIZES
from podclips_dagster.core.media.share_assets import clip_record
from podclips_dagster.core.media.video_support import require_video_support
from podclips_dagster.core.media.videos import ensure_video, find_video
from podclips_dagster.core.spec import DEFAULT_DURATION, ClipSpec
from podclips_dagster.sidecar.budget import Pending, clip_within_budget
from podclips_dagster.sidecar.clips import pending_response
from podclips_dagster.sidecar.errors import documented
from podclips_dagster.sidecar.models import ChunkIndex, Duration, EpisodeId, PendingResponse
from podclips_dagster.sidecar.observability import add_metric
from podclips_dagster.sidecar.security import require_key_within_limits
from podclips_dagster.sidecar.self_invoke import invoke_async
from podclips_dagster.sidecar.state import sidecar

log = logging.getLogger("podclips.sidecar.videos")
router = APIRouter(tags=["share"])
VIDEO_EVENT = "podclips_video"  # the key of the asynchronous invocation's payload
RENDER_RETRY_AFTER_SECONDS = 30
_NOT_RETRIED_KINDS = {"bad_input", "not_found", "unsupported"}  # a retry would fail the same way


class VideoRequest(BaseModel):
    episode_id: str = EpisodeId
    chunk_index: int = ChunkIndex
    duration: Duration = Field(DEFAULT_DURATION, description="Clip length in seconds.")
    size: Literal[VIDEO_SIZES] = Field(DEFAULT_VIDEO_SIZE, description="Frame size: square "
                                       "for social feeds, 16:9 for YouTube.")


class VideoResponse(BaseModel):
    """An audiogram MP4 (H.264 + AAC) of the clip; `cached` says whether it existed."""

    video_url: str
    s3_url: str
    public_url: str | None
    size: str
    duration: float
    file_size_bytes: int
    render_time_ms: int
    generated_at: str
    cached: bool
    episode_id: str
    chunk_index: int
    duration_seconds: int
    partition_key: str


class VideoPendingResponse(BaseModel):
    """The render runs in an asynchronous invocation: ask again after Retry-After."""

    request_id: str = Field(description="The Lambda request id of the render (its logs).")
    partition_key: str
    episode_id: str
    chunk_index: int
    duration_seconds: int
    size: str
    retry_after_seconds: int


@router.post("/api/generate-video-clip", response_model=VideoResponse,
             responses={202: {"model": VideoPendingResponse | PendingResponse,
                              "description": "The render (or the clip's cut) continues; "
                              "ask again after Retry-After."},
                        **documented(400, 401, 404, 422, 429, 501, 502, 503)},
             summary="Render (or reuse) an audiogram video of a clip")
async def generate_video_clip(body: VideoRequest, request: Request,
                              _key: str = Depends(require_key_within_limits)):
    app = sidecar(request)
    service = app.service
    await anyio.to_thread.run_sync(require_video_support, service.ffmpeg, app.settings.font_file)
    outcome = await clip_within_budget(
        request, lambda: service.resolve(body.episode_id, body.chunk_index, body.duration))
    if isinstance(outcome, Pending):
        return pending_response(outcome)
    if app.settings.lambda_function_name:
        return await anyio.to_thread.run_sync(_stored_or_render_later, app, outcome.spec,
                                              body.size)
    video = await anyio.to_thread.run_sync(partial(ensure_video, service, outcome.spec, body.size,
                                                   made_by="sidecar"))
    return VideoResponse(**video.to_dict())


def video_event(spec: ClipSpec, size: str) -> dict:
    """The payload of the asynchronous invocation that renders this video."""
    return {VIDEO_EVENT: {"episode_id": spec.episode_id, "chunk_index": spec.chunk_index,
                          "duration": spec.duration_seconds, "size": size}}


def _stored_or_render_later(app, spec: ClipSpec, size: str):
    if stored := find_video(app.service, spec, size, clip_record(app.service, spec)):
        return VideoResponse(**stored.to_dict())
    try:
        request_id = invoke_async(app.settings, video_event(spec, size))
    except (ClientError, BotoCoreError) as err:
        raise DependencyUnavailable(f"could not start the render of {spec.partition_key} "
                                    f"({size}): {err}") from None
    body = VideoPendingResponse(
        request_id=request_id, partition_key=spec.partition_key, episode_id=spec.episode_id,
        chunk_index=spec.chunk_index, duration_seconds=spec.duration_seconds, size=size,
        retry_after_seconds=RENDER_RETRY_AFTER_SECONDS)
    return JSONResponse(body.model_dump(), status_code=202,
                        headers={"Retry-After": str(RENDER_RETRY_AFTER_SECONDS)})


def handle_video_event(app, event: dict) -> dict:
    """The asynchronous invocation: render and store the video (or find it made already).

    Errors a retry would repeat are logged and answered; others raise, so the
    invocation fails and its event lands in the on-failure queue (an alarm)."""
    job = event[VIDEO_EVENT]
    try:
        spec = ClipSpec(job["episode_id"], int(job["chunk_index"]), int(job["duration"]))
        video = ensure_video(app.service, spec, job["size"], made_by="sidecar")
    except PodclipsError as err:
        if err.kind not in _NOT_RETRIED_KINDS:
            raise
        log.warning("video not rendered: %s: %s", err.code, err.message)
        return {"error": {"code": err.code, "message": err.message}}
    add_metric("VideosRendered", MetricUnit.Count, int(not video.cached))
    log.info("video %s %s %s in %d ms", spec.partition_key, job["size"],
             "found" if video.cached else "rendered", video.render_time_ms)
    return {"video_url": video.video_url, "cached": video.cached}
