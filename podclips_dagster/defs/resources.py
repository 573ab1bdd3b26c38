"""The clip service as a Dagster resource: configuration in, a service out."""

from __future__ import annotations

from typing import Optional

import dagster as dg
from pydantic import PrivateAttr

from podclips_dagster.config import Settings
from podclips_dagster.core.service import ClipService


class ClipServiceResource(dg.ConfigurableResource):
    """Every field defaults to the environment (see INTERFACES.md); set one to override it."""

    mongodb_uri: Optional[str] = None
    mongodb_db: Optional[str] = None
    storage: Optional[str] = None
    s3_endpoint_url: Optional[str] = None
    source_bucket: Optional[str] = None
    clips_bucket: Optional[str] = None

    _service: Optional[ClipService] = PrivateAttr(default=None)

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
