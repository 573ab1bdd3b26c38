"""One log line, one set of EMF metrics and one request record per request.

Handlers say what happened through `observed(request)` (cache hit or miss,
the clip, bytes read); the middleware adds status and timing. `Latency` is
measured to the answer (its last body byte sent); the background work that
follows it (impressions, pre-cuts) is `BackgroundTime`, apart. Headers are
never logged, so neither is the API key.

On Lambda (`configure_observability(on_lambda=True)`, done by `create_app`)
log lines are Powertools JSON, the `podclips.*` stdlib loggers included, and
metrics go out in CloudWatch's embedded metric format (namespace `podclips`),
flushed once per invocation by the handler's `metrics.log_metrics`. Anywhere
else (`podclips api`, `podclips dev`) lines are short and readable and no
metric is printed. `CacheHit` is 1 or 0 per clip request, so its Average is
the cache-hit ratio.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from datetime import UTC, datetime

import anyio
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.metrics import MetricUnit

from podclips_dagster.core.stores.request_log import RequestLog

METRICS_SERVICE = "sidecar"  # the `service` dimension of every metric (alarms match it)
PRECUT_BUDGET_EXHAUSTED = "PrecutBudgetExhausted"
REQUEST_MESSAGE = "request"  # the message of the one line per request
_STDLIB_ROOT = "podclips"  # every stdlib logger of the package is below it

logger = Logger(service="podclips-sidecar")
metrics = Metrics(namespace="podclips", service=METRICS_SERVICE)
_cache_outcomes: Counter = Counter()  # this process's hits and misses, for the log's running ratio
_emitting = {"metrics": False}
_RECORD_FIELDS = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message", "asctime"}
_SHORT_FIELDS = ("cache", "partition_key", "error_code", "error", "background_ms")


class ShortLineFormatter(LambdaPowertoolsFormatter):
    """`17:02:11 INFO POST /api/generate-audio-clip 200 12 ms cache=hit`: for a terminal."""

    def format(self, record: logging.LogRecord) -> str:  # noqa: A003 - logging's name
        fields = " ".join(f"{k}={record.__dict__[k]}" for k in _SHORT_FIELDS
                          if record.__dict__.get(k) is not None and k not in _RECORD_FIELDS)
        text = record.getMessage()
        if text == REQUEST_MESSAGE:
            fact = record.__dict__
            text = f"{fact['method']} {fact['path']} {fact['status']} {fact['latency_ms']:.0f} ms"
        line = f"{self.formatTime(record, '%H:%M:%S')} {record.levelname} {text}"
        line = f"{line} {fields}" if fields else line
        return f"{line}\n{self.formatException(record.exc_info)}" if record.exc_info else line


def configure_observability(on_lambda: bool) -> None:
    """JSON logs and EMF metrics on Lambda; short lines and no metrics anywhere else."""
    _emitting["metrics"] = on_lambda
    logger.registered_handler.setFormatter(
        LambdaPowertoolsFormatter(service="podclips-sidecar") if on_lambda
        else ShortLineFormatter())
    if on_lambda:
        copy_config_to_registered_loggers(source_logger=logger, include={_STDLIB_ROOT})


def add_metric(name: str, unit: MetricUnit, value: float) -> None:
    """A metric of this invocation (dropped off Lambda, where nothing would flush it)."""
    if _emitting["metrics"]:
        metrics.add_metric(name=name, unit=unit, value=value)


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

    def __init__(self, app, request_log: RequestLog):
        self.app = app
        self.request_log = request_log

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        facts = scope.setdefault("state", {}).setdefault("podclips", {})
        status = 500
        answered = None

        async def send_with_headers(message):
            nonlocal status, answered
            if message["type"] == "http.response.start":
                status = message["status"]
                if verdict := facts.get("rate_limit"):
                    extra = [(k.lower().encode(), v.encode())
                             for k, v in rate_limit_headers(verdict).items()]
                    known = {k for k, _ in message.get("headers", [])}
                    message["headers"] = [*message.get("headers", []),
                                          *(h for h in extra if h[0] not in known)]
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                answered = time.perf_counter()

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            finished = time.perf_counter()
            answered = answered or finished
            latency_ms = round((answered - started) * 1000, 2)
            background_ms = round((finished - answered) * 1000, 2)
            route = getattr(scope.get("route"), "path", None)  # the template, set by the router
            _log(scope, route, status, latency_ms, background_ms, facts)
            _add_request_metrics(status, latency_ms, background_ms, facts)
            if route and route.startswith("/api/"):
                await anyio.to_thread.run_sync(self._record, route, status, latency_ms, facts)

    def _record(self, route: str, status: int, latency_ms: float, facts: dict) -> None:
        doc = {"ts": datetime.now(UTC), "route": route, "status": status,
               "latency_ms": latency_ms, "cache": facts.get("cache"),
               "cut": facts.get("cut", False), "key_name": facts.get("key_name"),
               "bytes_read": facts.get("bytes_read", 0)}
        try:
            self.request_log.record(doc)
        except Exception as err:  # the request is answered; losing its stats line is tolerable
            logger.warning("could not record the request", extra={"error": type(err).__name__})


def _log(scope, route: str | None, status: int, latency_ms: float, background_ms: float,
         facts: dict) -> None:
    if cache := facts.get("cache"):
        _cache_outcomes[cache] += 1
    total = _cache_outcomes["hit"] + _cache_outcomes["miss"]
    fields = {k: v for k, v in facts.items() if k != "rate_limit"}
    logger.info(REQUEST_MESSAGE, extra={
        "method": scope.get("method"), "path": scope.get("path"), "route": route,
        "status": status, "latency_ms": latency_ms,
        "background_ms": background_ms or None, **fields,
        "cache_hit_ratio": round(_cache_outcomes["hit"] / total, 4) if total else None,
    })


def _add_request_metrics(status: int, latency_ms: float, background_ms: float,
                         facts: dict) -> None:
    # Runs on the event loop thread only, so requests never mix their metric sets.
    add_metric("Invocations", MetricUnit.Count, 1)
    add_metric("Errors", MetricUnit.Count, int(status >= 500))
    add_metric("Latency", MetricUnit.Milliseconds, latency_ms)
    if background_ms:
        add_metric("BackgroundTime", MetricUnit.Milliseconds, background_ms)
    if status == 429:
        add_metric("Throttled", MetricUnit.Count, 1)
    if cache := facts.get("cache"):
        add_metric("CacheHit", MetricUnit.Count, int(cache == "hit"))
    if facts.get("cut"):
        add_metric("ClipsGenerated", MetricUnit.Count, 1)
        add_metric("BytesStored", MetricUnit.Bytes, facts["file_size_bytes"])
        add_metric("ProcessingTime", MetricUnit.Milliseconds, facts.get("processing_time_ms", 0))
        add_metric("BytesRead", MetricUnit.Bytes, facts.get("bytes_read", 0))
