"""CORS for the API routes, none for `/files/` (the local object store).

The dashboard calls the API from browsers with its key in a header. The
local store's files are served to players and to the share page on the same
origin; with `Access-Control-Allow-Origin: *` any page a developer opened
could read them.
"""

from __future__ import annotations

from starlette.middleware.cors import CORSMiddleware


class CORSExceptPrefix:
    """`CORSMiddleware` with these options on every path but those under `excluded_prefix`."""

    def __init__(self, app, excluded_prefix: str, **options):
        self.app = app
        self.excluded_prefix = excluded_prefix
        self.cors = CORSMiddleware(app, **options)

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["path"].startswith(self.excluded_prefix):
            return await self.app(scope, receive, send)
        return await self.cors(scope, receive, send)
