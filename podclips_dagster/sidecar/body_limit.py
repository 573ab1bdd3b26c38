"""Request bodies over 1 MB are answered 413 before they are read whole.

No route takes more than a lookup of 100 results (about 15 KB). A declared
`Content-Length` over the limit is refused at once, without reading a byte;
a body sent without one (chunked) or with a smaller one than it really has is
counted as it arrives and refused as soon as it passes the limit. A body
within the limit is handed to the app as it came. Before this, a 200 MB body
was read and parsed before the key check (seconds, about 900 MB of memory).

On Lambda the event already holds the whole body: `oversized_event_response`
checks its length before Mangum decodes and copies it.
"""

from __future__ import annotations

import json

from podclips_dagster.sidecar.errors import error_response

MAX_BODY_BYTES = 1 << 20
DISCARD_MAX_BYTES = 8 << 20  # past this declared length, the connection is closed instead
_CODE = "payload_too_large"
_MESSAGE = f"the request body is over {MAX_BODY_BYTES} bytes (1 MB), the largest accepted"


class BodySizeLimit:
    """ASGI middleware: 413 (JSON error) for a body over `max_bytes`."""

    def __init__(self, app, max_bytes: int = MAX_BODY_BYTES):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = _declared_length(scope)
        if declared is not None and declared > self.max_bytes:
            return await _refuse(scope, receive, send, close=declared > DISCARD_MAX_BYTES)
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client left: let the app see it
                return await self.app(scope, _replay([message], receive), send)
            size += len(message.get("body", b""))
            if size > self.max_bytes:
                return await _refuse(scope, receive, send, close=True)
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = {"type": "http.request", "body": b"".join(chunks), "more_body": False}
        await self.app(scope, _replay([body], receive), send)


def _declared_length(scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _replay(messages: list[dict], receive):
    async def replayed():
        return messages.pop(0) if messages else await receive()
    return replayed


async def _refuse(scope, receive, send, close: bool) -> None:
    # With `Connection: close` the server drops the connection at once; a client still
    # sending then often loses the answer to the reset (measured with httpx: 2 of 9 got a
    # ReadError). A body of known, modest length is left for uvicorn to read and discard
    # after the answer (nothing is kept), so its client reads the 413.
    response = error_response(413, _CODE, _MESSAGE,
                              headers={"Connection": "close"} if close else None)
    await response(scope, receive, send)


def oversized_event_response(event) -> dict | None:
    """The API Gateway answer (v1 or v2) for an event whose body is over the limit, else None."""
    if not isinstance(event, dict):
        return None
    body = event.get("body")
    size = len(body) if isinstance(body, (str, bytes)) else 0
    if event.get("isBase64Encoded"):
        size = size * 3 // 4  # the decoded length, within 2 bytes
    headers = {str(k).lower(): v for k, v in (event.get("headers") or {}).items()}
    try:
        size = max(size, int(headers.get("content-length") or 0))
    except (TypeError, ValueError):
        pass
    if size <= MAX_BODY_BYTES:
        return None
    return {"statusCode": 413, "headers": {"content-type": "application/json"},
            "body": json.dumps({"error": {"code": _CODE, "message": _MESSAGE}}),
            "isBase64Encoded": False}
