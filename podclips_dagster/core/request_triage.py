"""Which pending requests need a run: reject the invalid, answer the already made,
attach duplicates to the run already making their clip."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import TYPE_CHECKING

from podclips_dagster.core.errors import PodclipsError
from podclips_dagster.core.record_shapes import pending_request_problem
from podclips_dagster.core.requests import INVALID_KINDS, ClipRequests
from podclips_dagster.core.spec import ClipSpec

if TYPE_CHECKING:
    from podclips_dagster.core.service import ClipService


def validate_pending(service: ClipService, doc: dict) -> str | PodclipsError:
    """The partition key of a pending request, or why it must be rejected.

    Requests written through `create_request` carry a validated key; others
    (a service inserting documents itself) are checked against the catalogue here.
    """
    if problem := pending_request_problem(doc):
        return problem
    if doc.get("partition_key"):
        return doc["partition_key"]
    try:
        return service.resolve(doc.get("episode_id"), doc.get("chunk_index"),
                               doc.get("duration_seconds", 30)).spec.partition_key
    except PodclipsError as err:
        if err.kind not in INVALID_KINDS:
            raise
        return err


def triage(service: ClipService, store: ClipRequests, page: list[dict]) -> dict[str, list[dict]]:
    """Settle what needs no run; return partition key -> requests that need one.

    Rejects invalid requests, answers requests whose clip was made since they
    were asked for (e.g. by the sidecar), and attaches requests for a clip a
    run is already making to that run. Duplicates share one key.
    """
    wanted: dict[str, list[dict]] = {}
    for doc in page:
        key = validate_pending(service, doc)
        if isinstance(key, PodclipsError):
            store.reject(doc["_id"], key)
            continue
        if not doc.get("partition_key"):
            store.set_partition_key(doc["_id"], key)
        wanted.setdefault(key, []).append(doc)
    if not wanted:
        return wanted
    for key, made in _made_at(service, list(wanted)).items():
        newest = max(doc["requested_at"] for doc in wanted[key])
        # A record older than the request was there when it was asked for, and the
        # requester still wanted a cut (its object was gone): that needs a run.
        if made >= newest:
            clip = service.find_clip(ClipSpec.from_partition_key(key), confirm=False)
            if clip is not None:
                store.settle_done(key, clip)
                del wanted[key]
    for key, run_key in store.queued_for(list(wanted)).items():
        store.claim([doc["_id"] for doc in wanted.pop(key)], run_key)
    return wanted


def _made_at(service: ClipService, keys: list[str]) -> dict[str, datetime]:
    """partition key -> when its clip was recorded, one indexed query per episode.

    Not one `$or` over all clips: on SecantusDB a 500-way `$or` scans the
    collection (25 s at 20,000 clips) where these queries take milliseconds.
    """
    chunks: dict[tuple[str, int], list[int]] = defaultdict(list)
    for key in keys:
        spec = ClipSpec.from_partition_key(key)
        chunks[(spec.episode_id, spec.duration_seconds)].append(spec.chunk_index)
    made = {}
    for (episode_id, duration), indexes in chunks.items():
        for index, at in service.records.ready_made_at(episode_id, duration, indexes).items():
            made[ClipSpec(episode_id, index, duration).partition_key] = at
    return made

