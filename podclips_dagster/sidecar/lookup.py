"""Batch enrichment for search results: which of these clips exist, and where.

Never cuts: two MongoDB queries answer up to 100 results, one on the
catalogue (which results name a chunk that exists) and one on the clip
records of those. The object is not HEADed here (100 HEADs would cost more
than the search); a record whose object has gone is healed when someone
presses play. Every result shown that names a real chunk is recorded as an
impression, the demand signal the pre-cut schedule learns from; a
made-up one is neither recorded nor pre-cut, so it spends neither the
demand data nor the pre-cut budget. The route is rate limited like the clip
routes.
"""

from __future__ import annotations

from fastapi import APIRouter, BackgroundTasks, Depends, Request

from podclips_dagster.core.spec import ClipSpec
from podclips_dagster.core.stores.clip_records import is_ready
from podclips_dagster.sidecar.demand import record_impressions
from podclips_dagster.sidecar.errors import documented
from podclips_dagster.sidecar.models import (
    AudioClipState,
    LookupRequest,
    LookupResponse,
    LookupResult,
)
from podclips_dagster.sidecar.observability import observed
from podclips_dagster.sidecar.precut import precut_results
from podclips_dagster.sidecar.security import require_key_within_limits
from podclips_dagster.sidecar.state import sidecar

router = APIRouter(tags=["clips"])
_RETURNED_FIELDS = ("status", "clip_duration_seconds")


@router.post("/api/audio-clips/lookup", response_model=LookupResponse,
             responses=documented(400, 401, 413, 422, 429, 503),
             summary="Which clips of these search results exist (never cuts)")
def lookup_audio_clips(body: LookupRequest, request: Request, background: BackgroundTasks,
                       _key: str = Depends(require_key_within_limits)) -> LookupResponse:
    app = sidecar(request)
    specs = [ClipSpec(item.episode_id, item.chunk_index, item.duration) for item in body.items]
    real = app.service.catalogue.existing_chunks({(s.episode_id, s.chunk_index) for s in specs})
    ranked = [(rank, s) for rank, s in enumerate(specs, start=1)
              if (s.episode_id, s.chunk_index) in real]
    records = app.service.records.find_many(list({s for _, s in ranked}), _RETURNED_FIELDS)
    results, available = [], set()
    for spec in specs:
        record = records.get(spec)
        ready = is_ready(record)
        if ready:
            available.add(spec)
        results.append(LookupResult(
            episode_id=spec.episode_id, chunk_index=spec.chunk_index,
            audio_clip=AudioClipState(
                available=ready,
                url=app.service.clips_bucket.url(spec.object_key) if ready else None,
                duration=record.get("clip_duration_seconds") if ready else None)))
    observed(request).update(items=len(specs), available=len(available),
                             unknown=len(specs) - len(ranked))
    if ranked:
        background.add_task(record_impressions, app, ranked)
        # The sidecar pre-cut: top-ranked results now, within the shared budget. Results
        # naming no chunk go with the clips that exist, as not to cut (ranks stay as shown).
        unknown = {s for s in specs if (s.episode_id, s.chunk_index) not in real}
        background.add_task(precut_results, app, specs, available | unknown)
    return LookupResponse(results=results)
