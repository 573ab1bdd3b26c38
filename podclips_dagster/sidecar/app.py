"""The sidecar ASGI app: `create_app(settings)`; `app` for uvicorn."""

from __future__ import annotations

from fastapi import FastAPI

from podclips_dagster.config import Settings
from podclips_dagster.core.storage import open_storage
from podclips_dagster.sidecar import files


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings.from_env()
    app = FastAPI(title="podclips sidecar", version="0.1.0",
                  description="Synchronous clip API over the podclips clip service.")
    app.state.settings = settings
    app.state.storage = open_storage(settings)
    app.include_router(files.router)
    return app
