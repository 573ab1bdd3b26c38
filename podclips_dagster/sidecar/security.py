"""Who is calling and whether they may: API keys and rate limits, as FastAPI dependencies.

The client IP comes from API Gateway's request context (set by AWS, not by
the client) or, locally, from the socket peer; never from X-Forwarded-For,
which any client can write. The per-IP limit is checked before the key, so
guessing keys is rate limited too.
"""

from __future__ import annotations

from fastapi import Request, Security
from fastapi.security import APIKeyHeader

from podclips_dagster.sidecar.errors import ApiError
from podclips_dagster.sidecar.observability import observed
from podclips_dagster.sidecar.state import sidecar

api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False,
                              description="A key from `podclips api-key create NAME`.")


def client_ip(request: Request) -> str:
    context = (request.scope.get("aws.event") or {}).get("requestContext") or {}
    ip = (context.get("http") or {}).get("sourceIp") or (context.get("identity") or {}).get(
        "sourceIp")
    if ip:
        return ip
    client = request.scope.get("client")
    return client[0] if client else "unknown"


def require_key(request: Request, api_key: str | None = Security(api_key_header)) -> str:
    """The caller's key name; 401 without a valid key."""
    if not api_key:
        raise ApiError(401, "missing_api_key", "send an API key in the X-API-Key header")
    name = sidecar(request).keys.verify(api_key)
    if name is None:
        raise ApiError(401, "invalid_api_key", "the API key is unknown or revoked")
    observed(request)["key_name"] = name
    return name


def require_key_within_limits(request: Request,
                              api_key: str | None = Security(api_key_header)) -> str:
    """`require_key` plus the clip-making routes' per-IP and per-key limits; 429 past them."""
    enforce_ip_limit(request)
    name = require_key(request, api_key)
    app = sidecar(request)
    per_key = app.limiter.hit(f"key:{name}", app.settings.rate_limit_per_key_per_hour, 3600)
    # The message names no key: a 429 can be logged or shown where the key's name should not.
    _enforce(observed(request), per_key,
             f"more than {per_key.limit} requests per hour with this API key")
    return name


def enforce_ip_limit(request: Request) -> None:
    """Count the request against its client IP's per-minute limit; 429 past it. Malformed
    bodies count too (errors.py), so garbage is no cheaper to send than requests."""
    app = sidecar(request)
    facts = observed(request)
    ip = facts["client_ip"] = client_ip(request)
    per_ip = app.limiter.hit(f"ip:{ip}", app.settings.rate_limit_per_ip_per_minute, 60)
    _enforce(facts, per_ip, f"more than {per_ip.limit} requests per minute from {ip}")


def _enforce(facts: dict, verdict, message: str) -> None:
    # The headers report the tighter of the limits (the middleware writes them).
    current = facts.get("rate_limit")
    if verdict.limit and (current is None or verdict.remaining < current.remaining
                          or not verdict.allowed):
        facts["rate_limit"] = verdict
    if not verdict.allowed:
        raise ApiError(429, "rate_limited", f"{message}; retry in {verdict.retry_after} s")
