"""`podclips request` and `podclips request-status`: on-demand clips through Dagster."""

from __future__ import annotations

import time

from podclips_dagster.core.spec import ALLOWED_DURATIONS, DEFAULT_DURATION

POLL_SECONDS = 0.2
STILL_PENDING_EXIT = 3  # --wait ran out: not an error, not a result either


def register(commands) -> None:
    p = commands.add_parser(
        "request", help="record an on-demand clip request for Dagster and print its id",
        description="Validate the clip against the catalogue and record it in MongoDB "
        "clip_requests; the clip_request_sensor turns it into an audio_clips run. Prints "
        "{\"request_id\", \"partition_key\", \"status\"}: status is done at once when the clip "
        "already exists, rejected (exit 2) when the request is invalid, else pending.",
    )
    p.add_argument("episode_id", metavar="EPISODE_ID",
                   help="the episode's guid, special id (substack:post:1) or 24-hex ObjectId")
    p.add_argument("chunk_index", metavar="CHUNK_INDEX", type=int, help="0-based chunk index")
    p.add_argument("--duration", type=int, default=DEFAULT_DURATION,
                   help=f"clip length in seconds, one of {ALLOWED_DURATIONS} "
                   f"(default {DEFAULT_DURATION})")
    p.add_argument("--wait", type=float, default=0, metavar="SECONDS",
                   help="wait up to SECONDS for done, failed or rejected (default: do not wait); "
                   "exit 3 if the request is still not final by then")
    p.set_defaults(handler=run_request)

    s = commands.add_parser(
        "request-status", help="print a clip request's status as JSON",
        description="Prints the request: status, partition_key, and clip_url when done, "
        "error when failed or rejected, run_key/run_id once a run was requested.",
    )
    s.add_argument("request_id", metavar="REQUEST_ID")
    s.add_argument("--wait", type=float, default=0, metavar="SECONDS",
                   help="wait up to SECONDS for a final status; exit 3 if there is none by then")
    s.set_defaults(handler=run_request_status)


def _service():
    from podclips_dagster.cli.settings import cli_settings
    from podclips_dagster.core.service import ClipService

    return ClipService.from_settings(cli_settings())


def _wait_and_report(store, doc: dict, wait: float) -> int:
    from podclips_dagster.cli import emit, say
    from podclips_dagster.core.requests import FAILED, FINAL, REJECTED, request_view

    deadline = time.monotonic() + wait
    while doc["status"] not in FINAL and time.monotonic() < deadline:
        time.sleep(POLL_SECONDS)
        doc = store.get(str(doc["_id"]))
    emit(request_view(doc))
    if doc["status"] == REJECTED:
        say(f"podclips: request rejected: {doc.get('error_code')}: {doc.get('error')}")
        return 2
    if doc["status"] == FAILED:
        say(f"podclips: request failed: {doc.get('error_code')}: {doc.get('error')}")
        return 1
    if wait > 0 and doc["status"] not in FINAL:
        say(f"podclips: request {doc['_id']} is still {doc['status']} after {wait:g} s")
        return STILL_PENDING_EXIT
    return 0


def run_request(args) -> int:
    from podclips_dagster.core.requests import ClipRequests, request_clip

    service = _service()
    doc = request_clip(service, args.episode_id, args.chunk_index, args.duration, source="cli")
    return _wait_and_report(ClipRequests(service.db), doc, args.wait)


def run_request_status(args) -> int:
    from podclips_dagster.cli import say
    from podclips_dagster.core.requests import ClipRequests

    store = ClipRequests(_service().db)
    doc = store.get(args.request_id)
    if doc is None:
        say(f"podclips: no clip request {args.request_id!r}")
        return 2
    return _wait_and_report(store, doc, args.wait)
