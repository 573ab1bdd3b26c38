from pathlib import Path

import pytest

from podclips_dagster.core.errors import SourceMissing
from podclips_dagster.core.storage import LocalStorage


@pytest.fixture(params=["s3", "local"])
def bucket(request, tmp_path):
    if request.param == "local":
        return LocalStorage(tmp_path / "objects").bucket("b")
    storage = request.getfixturevalue("s3_storage")
    name = request.getfixturevalue("buckets")[0]
    return storage.bucket(name)


def test_put_head_range_list_delete(bucket, tmp_path: Path):
    src = tmp_path / "x.bin"
    src.write_bytes(bytes(range(256)) * 10)
    bucket.put_file("a/b/x.bin", src, "application/octet-stream", {"k": "v"})
    assert bucket.head("a/b/x.bin").size == 2560
    assert bucket.read_range("a/b/x.bin", 10, 14) == bytes([10, 11, 12, 13])
    assert bucket.read_range("a/b/x.bin", 2550, 3000) == bytes(range(246, 256))
    assert b"".join(bucket.iter_chunks("a/b/x.bin", 1000)) == src.read_bytes()
    assert bucket.list_keys("a/") == ["a/b/x.bin"]
    assert bucket.list_keys("zzz/") == []
    bucket.delete("a/b/x.bin")
    assert bucket.head("a/b/x.bin") is None


def test_missing_object_is_source_missing(bucket):
    assert bucket.head("nope") is None
    with pytest.raises(SourceMissing):
        bucket.read_range("nope", 0, 10)
    with pytest.raises(SourceMissing):
        bucket.media_url("nope")


def test_local_bucket_refuses_keys_outside_it(tmp_path):
    bucket = LocalStorage(tmp_path).bucket("b")
    with pytest.raises(SourceMissing):
        bucket.head("../../etc/passwd") or bucket.read_range("../../etc/passwd", 0, 1)
