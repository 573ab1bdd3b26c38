"""S3 answering 403 is a permissions error naming bucket and key, never "unavailable";
404 stays a miss.

moto's server does not enforce IAM or bucket policies over HTTP, so the 403s
come from a tiny S3 stand-in on loopback that refuses everything: boto3 makes
its real requests and parses real HTTP answers (no mock of boto3).
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from podclips_dagster.core.errors import StoragePermissionDenied
from podclips_dagster.core.storage import S3Storage
from tests.api_fixtures import CBR_GUID
from tests.lambda_fixtures import LambdaContext, rest_v1_event

# One seeded catalogue for every sidecar test module; the Lambda handler fixtures.
pytest_plugins = ["tests.api_fixtures", "tests.lambda_fixtures"]
_DENIED = (b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code>'
           b"<Message>Access Denied</Message></Error>")


def _refusing_s3(status: int):
    class Refuse(BaseHTTPRequestHandler):
        def _answer(self, body: bytes):
            self.send_response(status)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def do_HEAD(self):  # noqa: N802 - http.server's names
            self._answer(b"")

        def do_GET(self):  # noqa: N802
            self._answer(_DENIED if status == 403 else b"<Error><Code>NoSuchKey</Code></Error>")

        def do_PUT(self):  # noqa: N802
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self._answer(_DENIED)

        def log_message(self, *args):
            pass

    return Refuse


@pytest.fixture
def s3_answering():
    servers = []

    def start(status: int) -> str:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _refusing_s3(status))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def test_a_403_names_bucket_key_and_action(s3_answering):
    bucket = S3Storage(s3_answering(403)).bucket("pod-insights-clips")
    with pytest.raises(StoragePermissionDenied) as head:
        bucket.head("audio_clips/ep/3.mp3")
    assert head.value.message == ("permission denied on s3://pod-insights-clips/"
                                  "audio_clips/ep/3.mp3 (s3:HeadObject)")
    assert head.value.kind == "permission"
    with pytest.raises(StoragePermissionDenied, match=r"s3://pod-insights-clips/a\.mp3 "
                       r"\(s3:GetObject\)"):
        bucket.read_range("a.mp3", 0, 100)
    with pytest.raises(StoragePermissionDenied, match=r"\(s3:PutObject\)"):
        bucket.put_bytes("audio_clips/x.json", b"{}")


def test_a_404_stays_a_miss(s3_answering):
    assert S3Storage(s3_answering(404)).bucket("clips").head("audio_clips/ep/3.mp3") is None


def test_the_sidecar_answers_a_403_as_a_permission_error(lambda_handler_with, s3_answering):
    handler, key, _ = lambda_handler_with(S3_ENDPOINT_URL=s3_answering(403))
    answer = handler(rest_v1_event("POST", "/api/generate-audio-clip", "203.0.113.70",
                                   {"X-API-Key": key, "Content-Type": "application/json"},
                                   {"episode_id": CBR_GUID, "chunk_index": 0}), LambdaContext())
    assert answer["statusCode"] == 500, answer["body"]
    error = json.loads(answer["body"])["error"]
    assert error["code"] == "storage_permission_denied"
    assert error["message"].startswith("permission denied on s3://")
    health = handler(rest_v1_event("GET", "/health", "203.0.113.70", {}), LambdaContext())
    assert json.loads(health["body"])["checks"]["storage"]["error"] == "storage_permission_denied"
