"""One structured log line, one set of EMF metrics and one request record per request.

Handlers say what happened through `observed(request)` (cache hit or miss,
the clip, bytes read); the middleware adds status and timing once the
response is sent. Headers are never logged, so neither is the API key.
Metrics go to stdout in CloudWatch's embedded metric format (namespace
`podclips`): `CacheHit` is 1 or 0 per clip request, so its Average is the
cache-hit ratio.
"""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime

import anyio
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

REQUESTS_COLLECTION = "api_requests"
REQUEST_LOG_DAYS = 30

logger = Logger(service="podclips-sidecar")
metrics = Metrics(namespace="podclips", service="sidecar")
_cache_outcomes: Counter = Counter()  # this process's hits and misses, for the log's running ratio


def observed(request) -> dict:
    """What a handler learned about this request, for the log line and metrics."""
    return request.scope.setdefault("state", {}).setdefault("podclips", {})


def rate_limit_headers(verdict) -> dict[str, str]:
    headers = {"X-RateLimit-Limit": str(verdict.limit),
               "X-RateLimit-Remaining": str(verdict.remaining),
               "X-RateLimit-Reset": str(verdict.reset_after)}
    if not verdict.allowed:
        headers["Retry-After"] = str(verdict.retry_after)
    return headers


class RequestObserver:
    """ASGI middleware: times the request, adds rate-limit headers, logs, emits metrics."""

    def __init__(self, app, requests_collection):
        self.app = app
        self.requests = requests_collection
        self._indexed = False

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        facts = scope.setdefault("state", {}).setdefault("podclips", {})
        status = 500

        async def send_with_headers(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                if verdict := facts.get("rate_limit"):
                    extra = [(k.lower().encode(), v.encode())
                             for k, v in rate_limit_headers(verdict).items()]
                    known = {k for k, _ in message.get("headers", [])}
                    message["headers"] = [*message.get("headers", []),
                                          *(h for h in extra if h[0] not in known)]
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            latency_ms = round((time.perf_counter() - started) * 1000, 2)
            route = getattr(scope.get("route"), "path", None)  # the template, set by the router
            _log(scope, route, status, latency_ms, facts)
            _emit_metrics(status, latency_ms, facts)
            if route and route.startswith("/api/"):
                await anyio.to_thread.run_sync(self._record, route, status, latency_ms, facts)

    def _record(self, route: str, status: int, latency_ms: float, facts: dict) -> None:
        doc = {"ts": datetime.now(UTC), "route": route, "status": status,
               "latency_ms": latency_ms, "cache": facts.get("cache"),
               "cut": facts.get("cut", False), "key_name": facts.get("key_name"),
               "bytes_read": facts.get("bytes_read", 0)}
        try:
            if not self._indexed:  # `podclips stats` looks back days, not months
                self.requests.create_index("ts", expireAfterSeconds=REQUEST_LOG_DAYS * 86400,
                                           name="ts_ttl")
                self._indexed = True
            self.requests.insert_one(doc)
        except Exception as err:  # the request is answered; losing its stats line is tolerable
            logger.warning("could not record the request", extra={"error": type(err).__name__})


def _log(scope, route: str | None, status: int, latency_ms: float, facts: dict) -> None:
    if cache := facts.get("cache"):
        _cache_outcomes[cache] += 1
    total = _cache_outcomes["hit"] + _cache_outcomes["miss"]
    fields = {k: v for k, v in facts.items() if k != "rate_limit"}
    logger.info("request", extra={
        "method": scope.get("method"), "path": scope.get("path"), "route": route,
        "status": status, "latency_ms": latency_ms, **fields,
        "cache_hit_ratio": round(_cache_outcomes["hit"] / total, 4) if total else None,
    })


def _emit_metrics(status: int, latency_ms: float, facts: dict) -> None:
    # Runs on the event loop thread only, so requests never mix their metric sets.
    metrics.add_metric(name="Invocations", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="Errors", unit=MetricUnit.Count, value=int(status >= 500))
    metrics.add_metric(name="Latency", unit=MetricUnit.Milliseconds, value=latency_ms)
    if status == 429:
        metrics.add_metric(name="Throttled", unit=MetricUnit.Count, value=1)
    if cache := facts.get("cache"):
        metrics.add_metric(name="CacheHit", unit=MetricUnit.Count, value=int(cache == "hit"))
    if facts.get("cut"):
        metrics.add_metric(name="ClipsGenerated", unit=MetricUnit.Count, value=1)
        metrics.add_metric(name="BytesStored", unit=MetricUnit.Bytes,
                           value=facts["file_size_bytes"])
        metrics.add_metric(name="ProcessingTime", unit=MetricUnit.Milliseconds,
                           value=facts.get("processing_time_ms", 0))
        metrics.add_metric(name="BytesRead", unit=MetricUnit.Bytes,
                           value=facts.get("bytes_read", 0))
    metrics.flush_metrics()
