"""`podclips stats`: cache-hit ratio and latency percentiles from what the API recorded.

Reads the sidecar's request log (`api_requests`, one document per clip
request) and the clip records (`audio_clips`) of a recent window.
"""

from __future__ import annotations

import math
from collections import Counter
from datetime import UTC, datetime, timedelta

from podclips_dagster.core.stores.clip_records import ClipRecords
from podclips_dagster.core.stores.request_log import RequestLog


def percentiles(values: list[float], points=(50, 95, 99)) -> dict:
    """Nearest-rank percentiles, `{"n", "p50", ...}`; empty input gives only n = 0."""
    ordered = sorted(values)
    out: dict = {"n": len(ordered)}
    for p in points if ordered else ():
        out[f"p{p}"] = round(ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)], 2)
    return out


def api_stats(db, hours: float) -> dict:
    since = datetime.now(UTC) - timedelta(hours=hours)
    requests = RequestLog(db).since(since, ("route", "status", "latency_ms", "cache", "cut"))
    clips = ClipRecords.in_db(db).made_since(
        since, ("processing_time_ms", "bytes_read", "file_size_bytes", "requested_by"))
    served = [r for r in requests if r.get("cache") in ("hit", "miss")]
    hits = [r for r in served if r["cache"] == "hit"]
    return {
        "window_hours": hours,
        "requests": len(requests),
        "status_counts": dict(Counter(str(r["status"]) for r in requests)),
        "by_route": dict(Counter(r["route"] for r in requests)),
        "cache_hit_ratio": round(len(hits) / len(served), 4) if served else None,
        "latency_ms": {
            "hit": percentiles([r["latency_ms"] for r in hits]),
            "miss": percentiles([r["latency_ms"] for r in served if r["cache"] == "miss"]),
            "all": percentiles([r["latency_ms"] for r in requests]),
        },
        "clips_cut": {
            "count": len(clips),
            "by_requested_by": dict(Counter(c.get("requested_by", "unknown") for c in clips)),
            "processing_time_ms": percentiles([c.get("processing_time_ms", 0) for c in clips]),
            "bytes_read": percentiles([c.get("bytes_read", 0) for c in clips], (50, 95)),
            "bytes_stored": sum(c.get("file_size_bytes", 0) for c in clips),
        },
    }
