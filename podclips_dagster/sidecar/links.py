"""The public base URL of the sidecar's own pages, as the person who follows a link sees it.

Behind API Gateway a REST API answers on `https://{api}.execute-api.{region}.amazonaws.com/{stage}`,
but the stage never reaches the app: Mangum hands it the path after the stage. A link
built from the request alone would drop `/{stage}` and lead nowhere. With a custom domain
(`SHARE_BASE_URL`, set by deploy/template.yaml when one is configured) the stage is not in
the URL, but the base path mapping is.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from podclips_dagster.sidecar.state import sidecar

_EXECUTE_API_HOST = ".execute-api."
_DEFAULT_STAGE = "$default"  # HTTP APIs' stage that has no path segment


def public_base_url(request) -> str:
    configured = sidecar(request).settings.share_base_url
    if configured:
        return configured
    base = str(request.base_url).rstrip("/")
    context = (request.scope.get("aws.event") or {}).get("requestContext") or {}
    stage = context.get("stage")
    if stage and stage != _DEFAULT_STAGE and _EXECUTE_API_HOST in context.get("domainName", ""):
        return f"{base}/{stage}"
    return base


def base_path(share_base_url: str | None) -> str:
    """The custom domain's base path mapping, which API Gateway leaves in the event's path."""
    return urlsplit(share_base_url or "").path.rstrip("/") or "/"
