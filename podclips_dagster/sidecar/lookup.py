"""Batch enrichment for search results: which of these clips exist, and where.

Never cuts: one MongoDB query answers up to 100 results. The object is not
HEADed here (100 HEADs would cost more than the search); a record whose
object has gone is healed when someone presses play. Every result shown is
recorded as an impression, the demand signal the pre-cut schedule
learns from.
"""

from __future__ import annotations

from fastapi import APIRouter, BackgroundTasks, Depends, Request

from podclips_dagster.core.spec import ClipSpec
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
from podclips_dagster.sidecar.security import require_key
from podclips_dagster.sidecar.state import sidecar

router = APIRouter(tags=["clips"])


@router.post("/api/audio-clips/lookup", response_model=LookupResponse,
             responses=documented(400, 401, 422, 503),
             summary="Which clips of these search results exist (never cuts)")
def lookup_audio_clips(body: LookupRequest, request: Request, background: BackgroundTasks,
                       _key: str = Depends(require_key)) -> LookupResponse:
    app = sidecar(request)
    specs = [ClipSpec(item.episode_id, item.chunk_index, item.duration) for item in body.items]
    records = app.service.records.find_many(list(set(specs)))
    results = []
    for spec in specs:
        record = records.get(spec)
        ready = record is not None and record.get("status", "ready") == "ready"
        results.append(LookupResult(
            episode_id=spec.episode_id, chunk_index=spec.chunk_index,
            audio_clip=AudioClipState(
                available=ready,
                url=app.service.clips_bucket.url(spec.object_key) if ready else None,
                duration=record.get("clip_duration_seconds") if ready else None)))
    available = sum(r.audio_clip.available for r in results)
    observed(request).update(items=len(specs), available=available)
    background.add_task(record_impressions, app, specs)
    # The sidecar pre-cut: pre-cut top-ranked results now, within the shared budget.
    shown_available = {spec for spec, r in zip(specs, results, strict=False)
                       if r.audio_clip.available}
    background.add_task(precut_results, app, specs, shown_available)
    return LookupResponse(results=results)
