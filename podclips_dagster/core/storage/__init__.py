"""Object stores: S3 (or any S3-compatible server) and a local directory."""

from podclips_dagster.core.storage.base import Bucket, ObjectInfo, parse_s3_url
from podclips_dagster.core.storage.local import LocalStorage
from podclips_dagster.core.storage.s3 import S3Storage

__all__ = ["Bucket", "ObjectInfo", "LocalStorage", "S3Storage", "parse_s3_url", "open_storage"]


def open_storage(settings):
    """The object storage named by settings (one client per process, reused)."""
    if settings.storage == "local":
        return LocalStorage(settings.local_objects_dir, settings.api_base_url)
    return S3Storage.from_settings(settings)
