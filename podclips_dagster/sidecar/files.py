"""Serves the local object store over HTTP, so clip URLs play on the embedded stack."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse

from podclips_dagster.core.errors import SourceMissing

router = APIRouter()


@router.get("/files/{bucket}/{key:path}", include_in_schema=False)
def get_file(bucket: str, key: str, request: Request):
    storage = request.app.state.storage
    if getattr(storage, "kind", None) != "local":
        raise HTTPException(404, "files are served only on the embedded stack")
    local_bucket = storage.bucket(bucket)
    try:
        path = local_bucket.path_for(key)
    except SourceMissing:
        raise HTTPException(404, "no such object") from None
    if not path.is_file() or path.name.endswith(".meta.json"):
        raise HTTPException(404, "no such object")
    # FileResponse answers Range requests, which audio players use to seek.
    return FileResponse(path, media_type=local_bucket.content_type(key),
                        headers={"Cache-Control": "public, max-age=86400"})
