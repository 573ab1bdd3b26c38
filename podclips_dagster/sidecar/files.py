"""Serves the local object store over HTTP, so clip URLs play on the embedded stack.

Only the configured source and clips buckets are served, and only files whose
resolved path (symlinks followed) lies inside the store: the store's parent
holds the embedded MongoDB files and Dagster's storage. The answers carry no
CORS headers (app.py leaves `/files/` out), so a web page on another origin
cannot read them.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse

from podclips_dagster.core.errors import SourceMissing

router = APIRouter()
PREFIX = "/files/"


@router.get(PREFIX + "{bucket}/{key:path}", include_in_schema=False)
def get_file(bucket: str, key: str, request: Request):
    storage = request.app.state.storage
    settings = request.app.state.settings
    if getattr(storage, "kind", None) != "local":
        raise HTTPException(404, "files are served only on the embedded stack")
    if bucket not in (settings.source_bucket, settings.clips_bucket):
        raise HTTPException(404, "no such object")
    local_bucket = storage.bucket(bucket)
    try:
        path = local_bucket.path_for(key)
    except SourceMissing:
        raise HTTPException(404, "no such object") from None
    if not _inside(path, Path(storage.root), bucket) or not path.is_file() \
            or path.name.endswith(".meta.json"):
        raise HTTPException(404, "no such object")
    # FileResponse answers Range requests, which audio players use to seek.
    return FileResponse(path, media_type=local_bucket.content_type(key),
                        headers={"Cache-Control": "public, max-age=86400"})


def _inside(resolved: Path, store_root: Path, bucket: str) -> bool:
    """True if the resolved path lies under the bucket's directory in the store itself (a
    bucket directory that is a symlink to elsewhere is not followed)."""
    return (store_root.resolve() / bucket) in resolved.parents
