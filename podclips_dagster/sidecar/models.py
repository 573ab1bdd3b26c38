"""Request and response bodies of the sidecar (they are its OpenAPI schema)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from podclips_dagster.core.spec import DEFAULT_DURATION, MAX_CHUNK_INDEX, MAX_EPISODE_ID_LENGTH

MAX_LOOKUP_ITEMS = 100

EpisodeId = Field(min_length=1, max_length=MAX_EPISODE_ID_LENGTH,
                  description="The episode's guid, a special id such as `substack:post:1234`, "
                  "or its 24-hex ObjectId.", examples=["0d6f4c3e-5b1a-4f0e-9c57-3a2d1e8b7f01"])
ChunkIndex = Field(ge=0, le=MAX_CHUNK_INDEX, description="0-based transcript chunk index.")
Duration = Literal[15, 30, 60]


class GenerateRequest(BaseModel):
    episode_id: str = EpisodeId
    chunk_index: int = ChunkIndex
    duration: Duration = Field(DEFAULT_DURATION, description="Clip length in seconds.")


class ClipResponse(BaseModel):
    """A clip that exists; `cached` says whether this request found it or cut it."""

    audio_url: str
    duration: float = Field(description="The clip's real length in seconds (shorter only "
                            "at the end of an episode).")
    cached: bool
    episode_id: str = Field(description="The episode's guid.")
    chunk_index: int
    duration_seconds: int = Field(description="The duration asked for.")
    start_time: float
    end_time: float
    s3_url: str
    public_url: str | None
    file_size_bytes: int
    processing_time_ms: int
    generated_at: str
    partition_key: str
    bytes_read: int = Field(description="Source bytes read by this request (0 on a hit).")


class DashboardClipResponse(BaseModel):
    clip_url: str
    expires_at: str = Field(description="ISO 8601 time until which `clip_url` stays valid.")
    cache_hit: bool
    episode_id: str = Field(description="The episode id as requested.")
    start_time_ms: int = Field(description="Where the clip starts: the start of the chunk "
                               "containing the requested time.")
    duration_ms: int = Field(description="The clip's real length.")
    generation_time_ms: int = Field(description="Time this request spent, in milliseconds.")
    chunk_index: int
    partition_key: str


class PendingResponse(BaseModel):
    """The cut did not finish within this request's time; the request id tracks it."""

    status: Literal["pending"] = "pending"
    request_id: str
    partition_key: str
    episode_id: str
    chunk_index: int
    duration_seconds: int
    retry_after_seconds: int


class LookupItem(BaseModel):
    episode_id: str = EpisodeId
    chunk_index: int = ChunkIndex
    duration: Duration = Field(DEFAULT_DURATION, description="Clip length in seconds.")


class LookupRequest(BaseModel):
    items: list[LookupItem] = Field(max_length=MAX_LOOKUP_ITEMS,
                                    description="Search results in rank order (rank 1 first).")


class AudioClipState(BaseModel):
    available: bool
    url: str | None
    duration: float | None


class LookupResult(BaseModel):
    episode_id: str
    chunk_index: int
    audio_clip: AudioClipState


class LookupResponse(BaseModel):
    results: list[LookupResult]


class HealthCheck(BaseModel):
    ok: bool
    latency_ms: float
    error: str | None = None


class HealthResponse(BaseModel):
    status: Literal["ok", "unavailable"]
    checks: dict[str, HealthCheck]


class ErrorDetail(BaseModel):
    code: str = Field(examples=["chunk_out_of_range"])
    message: str


class ErrorResponse(BaseModel):
    error: ErrorDetail
