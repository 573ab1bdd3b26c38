"""Serve a clip within the request's time budget, or hand it to Dagster (202).

A hit is answered at once. A miss is cut in a worker thread; if the cut has
not finished when the budget runs out, the request is answered 202 with a
`clip_requests` id that the Dagster sensor completes. On a server the thread
is left to finish (it holds the clip's lease, renewed while it works, so the
sensor's run waits for it and reuses its clip). On Lambda the process is
frozen once it answers, with the thread asleep holding the lease: there the
cut is cancelled first (FFmpeg killed, nothing written, the lease released),
so the run for the 202 starts at once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import anyio

from podclips_dagster.core.cancellation import Cancellation, cancellable
from podclips_dagster.core.requests import create_request
from podclips_dagster.core.resolve import ResolvedClip
from podclips_dagster.core.service import ClipResult
from podclips_dagster.core.spec import ClipSpec
from podclips_dagster.sidecar.observability import logger, observed
from podclips_dagster.sidecar.state import sidecar

RETRY_AFTER_SECONDS = 10
# Time kept back in Lambda to stop the cut, record the request and answer before the
# function times out.
LAMBDA_MARGIN_SECONDS = 3.0
CANCEL_GRACE_SECONDS = 1.5


@dataclass(frozen=True)
class Pending:
    request_id: str
    spec: ClipSpec
    retry_after: int = RETRY_AFTER_SECONDS


def on_lambda(request) -> bool:
    return request.scope.get("aws.context") is not None


def budget_seconds(request) -> float:
    configured = sidecar(request).budget_seconds
    context = request.scope.get("aws.context")
    if context is None:
        return configured
    remaining = context.get_remaining_time_in_millis() / 1000 - LAMBDA_MARGIN_SECONDS
    return max(0.0, min(configured, remaining))


async def clip_within_budget(request, resolve: Callable[[], ResolvedClip]) -> ClipResult | Pending:
    """The clip (a hit, or cut now) or a Pending request; `resolve` validates and may raise."""
    service = sidecar(request).service
    facts = observed(request)

    def first_look():
        resolved = resolve()
        return resolved, service.find_clip(resolved.spec)

    resolved, hit = await anyio.to_thread.run_sync(first_look)
    spec = resolved.spec
    facts.update(partition_key=spec.partition_key, cache="hit" if hit else "miss")
    if hit:
        return hit
    cancellation, stopped = Cancellation(), threading.Event()

    def cut() -> ClipResult:
        try:
            with cancellable(cancellation):
                return service.ensure(resolved, requested_by="sidecar", logger=logger)
        finally:
            stopped.set()

    with anyio.move_on_after(budget_seconds(request)):
        result = await anyio.to_thread.run_sync(cut, abandon_on_cancel=True)
        facts.update(cut=not result.cached, bytes_read=result.bytes_read,
                     file_size_bytes=result.file_size_bytes,
                     processing_time_ms=result.processing_time_ms)
        return result
    if on_lambda(request):
        cancellation.cancel("the request's time budget ran out")
        # FFmpeg is killed within a poll; a blocking read may take longer, and then the
        # lease, no longer renewed once the process is frozen, expires within one TTL.
        if not await anyio.to_thread.run_sync(stopped.wait, CANCEL_GRACE_SECONDS):
            logger.warning("the cut of %s did not stop within %.1f s of its cancellation",
                           spec.partition_key, CANCEL_GRACE_SECONDS)
    record = partial(create_request, service, resolved, source="sidecar")
    request_id = str((await anyio.to_thread.run_sync(record))["_id"])
    facts["pending_request_id"] = request_id
    return Pending(request_id, spec)
