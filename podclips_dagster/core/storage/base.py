"""The small surface the core needs from an object store."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from podclips_dagster.core.errors import SourceMissing


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    etag: str


class Bucket(Protocol):
    name: str

    def head(self, key: str) -> ObjectInfo | None:
        """Size and etag of an object, or None if it does not exist."""

    def read_range(self, key: str, start: int, end: int) -> bytes:
        """Bytes [start, end) of an object (fewer at its end). Raises SourceMissing."""

    def iter_chunks(self, key: str, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        """The whole object, streamed. Raises SourceMissing."""

    def list_keys(self, prefix: str) -> list[str]:
        """Keys under a prefix, sorted."""

    def media_url(self, key: str) -> str:
        """A location FFmpeg can open directly (a presigned URL or a file path)."""

    def put_file(self, key: str, path: Path, content_type: str, metadata: dict[str, str]) -> None:
        """Store a finished file; readers see either nothing or the whole object."""

    def delete(self, key: str) -> None:
        """Remove an object; no error if it is absent."""

    def url(self, key: str) -> str:
        """A URL a browser can play: public CDN, presigned, or the local API."""

    def s3_url(self, key: str) -> str:
        """`s3://bucket/key`: the stable name recorded in MongoDB."""


def parse_s3_url(url: str) -> tuple[str, str]:
    """`s3://bucket/key` -> (bucket, key)."""
    if not url.startswith("s3://") or "/" not in url[5:]:
        raise SourceMissing(f"audio path {url!r} is not an s3://bucket/key URL")
    bucket, key = url[5:].split("/", 1)
    if not bucket or not key:
        raise SourceMissing(f"audio path {url!r} is not an s3://bucket/key URL")
    return bucket, key
