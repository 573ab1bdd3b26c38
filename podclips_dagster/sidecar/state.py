"""What every request handler shares: one service, key store and rate limiter per process."""

from __future__ import annotations

from dataclasses import dataclass

from podclips_dagster.config import Settings
from podclips_dagster.core.api_keys import ApiKeys
from podclips_dagster.core.daily_caps import DailyCap
from podclips_dagster.core.demand.online.events import DemandEventWriter
from podclips_dagster.core.rate_limits import RateLimiter
from podclips_dagster.core.service import ClipService
from podclips_dagster.sidecar.resolved import ResolvedClips

# API Gateway gives up after 29 s; a cut that has not finished by then becomes a request.
DEFAULT_BUDGET_SECONDS = 20.0


@dataclass
class Sidecar:
    settings: Settings
    service: ClipService
    keys: ApiKeys
    limiter: RateLimiter
    demand: DemandEventWriter
    budget_seconds: float
    resolved: ResolvedClips
    daily_caps: DailyCap

    @classmethod
    def from_settings(cls, settings: Settings, budget_seconds: float) -> Sidecar:
        service = ClipService.from_settings(settings)
        db = service.db
        return cls(settings, service, ApiKeys.in_db(db), RateLimiter.in_db(db),
                   DemandEventWriter.in_db(db), budget_seconds, ResolvedClips(),
                   DailyCap.in_db(db))


def sidecar(request) -> Sidecar:
    return request.app.state.sidecar
