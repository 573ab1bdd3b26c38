"""The clip service as a Dagster resource: configuration in, a service out.

`clip_service_resource()` names each set variable as an `EnvVar` (read when a
run starts, never shown, so MONGODB_URI's password stays out of the UI) and
shows the default of each unset one (an EnvVar of an unset variable fails).
"""

from __future__ import annotations

import dagster as dg
from pydantic import PrivateAttr

from podclips_dagster.config import Settings, env_is_set
from podclips_dagster.core.service import ClipService


class ClipServiceResource(dg.ConfigurableResource):
    """A field left unset falls back to Settings (the environment, then its default)."""

    mongodb_uri: str | None = None
    mongodb_db: str | None = None
    storage: str | None = None
    s3_endpoint_url: str | None = None
    source_bucket: str | None = None
    clips_bucket: str | None = None

    _service: ClipService | None = PrivateAttr(default=None)

    def settings(self) -> Settings:
        overrides = {k: v for k, v in {
            "mongodb_uri": self.mongodb_uri, "mongodb_db": self.mongodb_db,
            "storage": self.storage, "s3_endpoint_url": self.s3_endpoint_url,
            "source_bucket": self.source_bucket, "clips_bucket": self.clips_bucket,
        }.items() if v is not None}
        return Settings.from_env().with_overrides(**overrides)

    def get_service(self) -> ClipService:
        # One service (one MongoDB client, one S3 client) per process.
        if self._service is None:
            self._service = ClipService.from_settings(self.settings())
        return self._service


def clip_service_resource() -> ClipServiceResource:
    defaults = Settings.from_env({})  # no environment: the defaults alone
    fields = {"mongodb_uri": "MONGODB_URI", "mongodb_db": "MONGODB_DB",
              "storage": "PODCLIPS_STORAGE", "s3_endpoint_url": "S3_ENDPOINT_URL",
              "source_bucket": "S3_SOURCE_BUCKET", "clips_bucket": "S3_CLIPS_BUCKET"}
    # Unset, these two are decided by Settings: no URI at all, and storage follows the URI.
    decided_later = {"mongodb_uri", "storage"}
    return ClipServiceResource(**{
        field: dg.EnvVar(name) if env_is_set(name)
        else None if field in decided_later else getattr(defaults, field)
        for field, name in fields.items()})
