"""A directory standing in for S3 buckets, for the embedded stack.

Objects live at `{root}/{bucket}/{key}`; the local API serves them at
`{api_base_url}/files/{bucket}/{key}`.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

from podclips_dagster.core.errors import SourceMissing
from podclips_dagster.core.storage.base import ObjectInfo


class LocalBucket:
    def __init__(self, root: Path, name: str, api_base_url: str, public_base_url: str | None):
        self.name = name
        self.root = root / name
        self._api_base_url = api_base_url
        self._public_base_url = public_base_url

    def path_for(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root.resolve() not in path.parents:
            raise SourceMissing(f"object key {key!r} leaves bucket {self.name}")
        return path

    def head(self, key: str) -> ObjectInfo | None:
        try:
            stat = self.path_for(key).stat()
        except (FileNotFoundError, NotADirectoryError):
            return None
        return ObjectInfo(key, stat.st_size, f"{stat.st_size:x}-{stat.st_mtime_ns:x}")

    def _open(self, key: str):
        try:
            return open(self.path_for(key), "rb")
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise SourceMissing(f"no object {key!r} in bucket {self.name}") from None

    def read_range(self, key: str, start: int, end: int) -> bytes:
        with self._open(key) as f:
            f.seek(start)
            return f.read(max(0, end - start))

    def iter_chunks(self, key: str, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        with self._open(key) as f:
            while block := f.read(chunk_size):
                yield block

    def list_keys(self, prefix: str) -> list[str]:
        base = self.root / prefix
        folder = base if prefix.endswith("/") else base.parent
        if not folder.is_dir():
            return []
        keys = []
        for path in folder.rglob("*"):
            if path.is_file() and not path.name.endswith(".meta.json"):
                key = path.relative_to(self.root).as_posix()
                if key.startswith(prefix):
                    keys.append(key)
        return sorted(keys)

    def media_url(self, key: str) -> str:
        path = self.path_for(key)
        if not path.is_file():
            raise SourceMissing(f"no object {key!r} in bucket {self.name}")
        return str(path)

    def put_file(self, key: str, path: Path, content_type: str, metadata: dict[str, str]) -> None:
        target = self.path_for(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        # Copy beside the target, then rename: readers never see a partial file.
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as out, open(path, "rb") as src:
                shutil.copyfileobj(src, out)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        meta = {"content_type": content_type, "metadata": metadata}
        target.with_name(target.name + ".meta.json").write_text(json.dumps(meta))

    def put_bytes(self, key: str, data: bytes,
                  content_type: str = "application/octet-stream") -> None:
        with tempfile.NamedTemporaryFile(delete=False) as tmp:
            tmp.write(data)
        try:
            self.put_file(key, Path(tmp.name), content_type, {})
        finally:
            os.unlink(tmp.name)

    def delete(self, key: str) -> None:
        path = self.path_for(key)
        path.unlink(missing_ok=True)
        path.with_name(path.name + ".meta.json").unlink(missing_ok=True)

    def url(self, key: str) -> str:
        if self._public_base_url:
            return f"{self._public_base_url}/{quote(key)}"
        return f"{self._api_base_url}/files/{quote(self.name)}/{quote(key)}"

    def s3_url(self, key: str) -> str:
        return f"s3://{self.name}/{key}"

    def content_type(self, key: str) -> str:
        meta = self.path_for(key).with_name(Path(key).name + ".meta.json")
        try:
            return json.loads(meta.read_text())["content_type"]
        except (OSError, ValueError, KeyError):
            return "application/octet-stream"


class LocalStorage:
    kind = "local"

    def __init__(self, root: Path, api_base_url: str = "http://127.0.0.1:8000",
                 public_base_url: str | None = None):
        self.root = Path(root)
        self.api_base_url = api_base_url
        self.public_base_url = public_base_url

    def bucket(self, name: str, public: bool = False) -> LocalBucket:
        return LocalBucket(self.root, name, self.api_base_url,
                           self.public_base_url if public else None)

    def ping(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
