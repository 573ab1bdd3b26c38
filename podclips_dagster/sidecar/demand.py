"""Demand signals from the sidecar, for the pre-cut schedule.

Search results shown (the lookup route) are impressions; clip requests on
the two clip routes are plays (the dashboard's prefetches among them: the
sidecar cannot tell them apart). Both are written as background tasks,
after the answer has gone out, and a failed write is logged, never raised:
demand is a signal, not a record anyone waits on.
"""

from __future__ import annotations

from podclips_dagster.core.spec import ClipSpec
from podclips_dagster.sidecar.observability import logger


def record_impressions(app, ranked: list[tuple[int, ClipSpec]]) -> None:
    """Results shown, each with its rank (the 1-based position in the answer)."""
    _write(app, lambda: app.demand.record_impressions(
        ({"episode_id": s.episode_id, "chunk_index": s.chunk_index, "rank": rank,
          "duration_seconds": s.duration_seconds} for rank, s in ranked), source="lookup"))


def record_play(app, spec: ClipSpec) -> None:
    _write(app, lambda: app.demand.record_play(spec.episode_id, spec.chunk_index,
                                               spec.duration_seconds, source="sidecar"))


def _write(app, add) -> None:
    try:
        app.demand.ensure_indexes()
        add()
        app.demand.flush()  # a Lambda may freeze after answering: nothing stays buffered
    except Exception as err:
        logger.warning("could not record demand", extra={"error": type(err).__name__})
