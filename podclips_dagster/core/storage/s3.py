"""S3 (or an S3-compatible server such as MinIO or moto) through boto3."""

from __future__ import annotations

from collections.abc import Iterator
from functools import cached_property
from pathlib import Path
from urllib.parse import quote

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from podclips_dagster.core.errors import (
    DependencyUnavailable,
    SourceMissing,
    StoragePermissionDenied,
)
from podclips_dagster.core.storage.base import ObjectInfo

_MISSING_CODES = {"404", "NoSuchKey", "NotFound", "NoSuchBucket", "InvalidRange"}
# A HEAD's 403 has no body, so its code is the bare status.
_DENIED_CODES = {"403", "AccessDenied", "Forbidden", "AllAccessDisabled"}


def _is_missing(err: ClientError) -> bool:
    return err.response.get("Error", {}).get("Code") in _MISSING_CODES


def _unavailable(err: Exception, what: str) -> DependencyUnavailable:
    return DependencyUnavailable(f"object storage is unavailable while {what}: {err}")


def _refused(err: ClientError, action: str, bucket: str, key: str, what: str) -> Exception:
    """A 403 names the bucket, key and action (an IAM fix); anything else is an outage."""
    if err.response.get("Error", {}).get("Code") in _DENIED_CODES:
        return StoragePermissionDenied(bucket, key, action)
    return _unavailable(err, what)


class S3Bucket:
    def __init__(self, storage: S3Storage, name: str, public_base_url: str | None):
        self.name = name
        self._storage = storage
        self._public_base_url = public_base_url

    @property
    def _client(self):
        return self._storage.client

    def head(self, key: str) -> ObjectInfo | None:
        try:
            resp = self._client.head_object(Bucket=self.name, Key=key)
        except ClientError as err:
            if _is_missing(err):
                return None
            raise _refused(err, "s3:HeadObject", self.name, key,
                           f"checking s3://{self.name}/{key}") from None
        except BotoCoreError as err:
            raise _unavailable(err, f"checking s3://{self.name}/{key}") from None
        return ObjectInfo(key, resp["ContentLength"], resp.get("ETag", "").strip('"'))

    def _get(self, key: str, **kwargs):
        try:
            return self._client.get_object(Bucket=self.name, Key=key, **kwargs)
        except ClientError as err:
            if _is_missing(err):
                if err.response["Error"]["Code"] == "InvalidRange":
                    return None
                raise SourceMissing(f"no object s3://{self.name}/{key}") from None
            raise _refused(err, "s3:GetObject", self.name, key,
                           f"reading s3://{self.name}/{key}") from None
        except BotoCoreError as err:
            raise _unavailable(err, f"reading s3://{self.name}/{key}") from None

    def read_range(self, key: str, start: int, end: int) -> bytes:
        if end <= start:
            return b""
        resp = self._get(key, Range=f"bytes={start}-{end - 1}")
        return b"" if resp is None else resp["Body"].read()

    def iter_chunks(self, key: str, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        body = self._get(key)["Body"]
        try:
            yield from body.iter_chunks(chunk_size)
        finally:
            body.close()

    def list_keys(self, prefix: str) -> list[str]:
        keys: list[str] = []
        try:
            for page in self._client.get_paginator("list_objects_v2").paginate(
                Bucket=self.name, Prefix=prefix
            ):
                keys.extend(obj["Key"] for obj in page.get("Contents", []))
        except ClientError as err:
            if _is_missing(err):
                return []
            raise _refused(err, "s3:ListBucket", self.name, prefix,
                           f"listing s3://{self.name}/{prefix}") from None
        except BotoCoreError as err:
            raise _unavailable(err, f"listing s3://{self.name}/{prefix}") from None
        return sorted(keys)

    def presigned_url(self, key: str, expires_in: int | None = None) -> str:
        return self._client.generate_presigned_url(
            "get_object",
            Params={"Bucket": self.name, "Key": key},
            ExpiresIn=expires_in or self._storage.url_ttl_seconds,
        )

    def media_url(self, key: str) -> str:
        if self.head(key) is None:
            raise SourceMissing(f"no object s3://{self.name}/{key}")
        return self.presigned_url(key, 3600)

    def put_file(self, key: str, path: Path, content_type: str, metadata: dict[str, str]) -> None:
        # A single PUT is atomic in S3: readers see the old state or the whole clip.
        try:
            with open(path, "rb") as body:
                self._client.put_object(
                    Bucket=self.name, Key=key, Body=body, ContentType=content_type,
                    CacheControl="public, max-age=86400", Metadata=metadata,
                )
        except ClientError as err:
            raise _refused(err, "s3:PutObject", self.name, key,
                           f"writing s3://{self.name}/{key}") from None
        except BotoCoreError as err:
            raise _unavailable(err, f"writing s3://{self.name}/{key}") from None

    def put_bytes(self, key: str, data: bytes,
                  content_type: str = "application/octet-stream") -> None:
        try:
            self._client.put_object(Bucket=self.name, Key=key, Body=data, ContentType=content_type)
        except ClientError as err:
            raise _refused(err, "s3:PutObject", self.name, key,
                           f"writing s3://{self.name}/{key}") from None
        except BotoCoreError as err:
            raise _unavailable(err, f"writing s3://{self.name}/{key}") from None

    def delete(self, key: str) -> None:
        try:
            self._client.delete_object(Bucket=self.name, Key=key)
        except (ClientError, BotoCoreError) as err:
            raise _unavailable(err, f"deleting s3://{self.name}/{key}") from None

    def url(self, key: str) -> str:
        if self._public_base_url:
            return f"{self._public_base_url}/{quote(key)}"
        return self.presigned_url(key)

    def s3_url(self, key: str) -> str:
        return f"s3://{self.name}/{key}"


class S3Storage:
    kind = "s3"

    def __init__(self, endpoint_url: str | None = None, region: str = "us-east-1",
                 public_base_url: str | None = None, url_ttl_seconds: int = 86400):
        self.endpoint_url = endpoint_url
        self.region = region
        self.public_base_url = public_base_url
        self.url_ttl_seconds = url_ttl_seconds

    @classmethod
    def from_settings(cls, settings) -> S3Storage:
        return cls(settings.s3_endpoint_url, settings.aws_region,
                   settings.clips_public_base_url, settings.clip_url_ttl_seconds)

    @cached_property
    def client(self):
        # One client per storage object: building a boto3 session costs ~50 ms.
        config = Config(
            signature_version="s3v4",  # presigned URLs: SigV4 works in every region
            retries={"max_attempts": 3, "mode": "standard"},
            connect_timeout=3, read_timeout=30, max_pool_connections=32,
            s3={"addressing_style": "path"} if self.endpoint_url else None,
        )
        return boto3.client("s3", endpoint_url=self.endpoint_url, region_name=self.region,
                            config=config)

    def bucket(self, name: str, public: bool = False) -> S3Bucket:
        return S3Bucket(self, name, self.public_base_url if public else None)

    def ping(self) -> None:
        try:
            self.client.list_buckets()
        except (ClientError, BotoCoreError) as err:
            raise _unavailable(err, "listing buckets") from None
