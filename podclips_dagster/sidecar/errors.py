"""Every error leaves the sidecar as `{"error": {"code", "message"}}`, never a traceback.

Core errors are translated by their `kind`, never by their message. Client
mistakes (4xx) keep the core's message, which names the problem; for 5xx
the details (hosts, bucket paths, driver errors) go to the log only.
"""

from __future__ import annotations

import anyio
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from podclips_dagster.core.errors import PodclipsError
from podclips_dagster.sidecar.models import ErrorResponse
from podclips_dagster.sidecar.observability import logger

STATUS_BY_KIND = {"bad_input": 422, "not_found": 404, "source": 502, "unavailable": 503,
                  "permission": 500, "unsupported": 501}
# Kinds whose 5xx message is shown: a permission error names only the bucket, key and action,
# which is what fixes the deployment's policy; an unsupported one names what is missing.
_SHOWN_SERVER_KINDS = {"permission", "unsupported"}
_SERVER_MESSAGES = {
    502: "the episode's audio could not be read or cut",
    503: "a dependency (database or object storage) is unavailable; try again shortly",
}
_HTTP_CODES = {400: "bad_request", 401: "unauthorized", 404: "not_found",
               405: "method_not_allowed", 413: "payload_too_large", 415: "unsupported_media_type"}
_DESCRIPTIONS = {
    400: "Malformed JSON body", 401: "Missing, unknown or revoked API key",
    404: "Unknown episode, or chunk out of range", 413: "Request body over 1 MB",
    422: "Invalid parameters",
    429: "Rate limit exceeded (see Retry-After)",
    501: "This installation cannot do it (e.g. FFmpeg without libx264, or no font)",
    502: "The episode's audio is unreadable",
    503: "A dependency is down",
}


def documented(*statuses: int) -> dict:
    """OpenAPI `responses` for these error statuses (the schema is the clients' contract)."""
    return {s: {"model": ErrorResponse, "description": _DESCRIPTIONS[s]} for s in statuses}


class ApiError(Exception):
    """An error the sidecar itself decides on (auth, rate limits)."""

    def __init__(self, status: int, code: str, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers


def error_response(status: int, code: str, message: str, headers=None) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status,
                        headers=headers)


async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
    return error_response(exc.status, exc.code, exc.message, exc.headers)


async def _core_error(request: Request, exc: PodclipsError) -> JSONResponse:
    status = STATUS_BY_KIND.get(exc.kind, 500)
    if status < 500:
        return error_response(status, exc.code, exc.message)
    logger.warning("request failed", extra={"error_code": exc.code, "error": exc.message})
    if exc.kind in _SHOWN_SERVER_KINDS:
        return error_response(status, exc.code, exc.message)
    return error_response(status, exc.code, _SERVER_MESSAGES.get(status, "internal error"))


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        from podclips_dagster.sidecar.security import enforce_ip_limit  # it imports this module

        try:
            await anyio.to_thread.run_sync(enforce_ip_limit, request)
        except ApiError as err:
            return await _api_error(request, err)
        return error_response(400, "malformed_json", "the request body is not valid JSON")
    problems = "; ".join(
        f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', 'invalid')}"
        for e in errors[:5])
    return error_response(422, "invalid_request", problems or "invalid request")


async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    message = exc.detail if isinstance(exc.detail, str) else "request failed"
    if exc.status_code == 404 and message == "Not Found":
        message = f"no route {request.url.path!r}"
    elif exc.status_code == 405:
        message = f"method {request.method} is not allowed on {request.url.path!r}"
    return error_response(exc.status_code, _HTTP_CODES.get(exc.status_code, "http_error"),
                          message, getattr(exc, "headers", None))


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unhandled error")
    return error_response(500, "internal_error", "internal error")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(PodclipsError, _core_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
