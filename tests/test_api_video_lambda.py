"""Audiograms on Lambda never render inside the request: 202 with a request id, then the
asynchronous invocation renders; an installation that cannot render answers 501 at once.

Through the Lambda handler: the route hands the render to moto's Lambda API
(which accepts the invocation but cannot run it), and the test then runs the
handler with the payload that invocation carries, as Lambda would.
"""

from __future__ import annotations

import json

import pytest

from podclips_dagster.core.spec import ClipSpec
from podclips_dagster.sidecar.videos import video_event
from tests.api_fixtures import CBR_GUID
from tests.lambda_fixtures import LambdaContext, rest_v1_event

# One seeded catalogue for every sidecar test module; the Lambda handler fixtures.
pytest_plugins = ["tests.api_fixtures", "tests.lambda_fixtures"]
BODY = {"episode_id": CBR_GUID, "chunk_index": 1, "duration": 15, "size": "1080x1080"}


def _post_video(handler, key, ip: str) -> dict:
    return handler(rest_v1_event("POST", "/api/generate-video-clip", ip,
                                 {"X-API-Key": key, "Content-Type": "application/json"}, BODY),
                   LambdaContext())


@pytest.mark.slow
def test_the_route_answers_202_and_the_async_invocation_renders(lambda_handler_with):
    handler, key, db = lambda_handler_with()
    first = _post_video(handler, key, "203.0.113.90")
    assert first["statusCode"] == 202, first["body"]
    pending = json.loads(first["body"])
    assert pending["request_id"] and pending["size"] == "1080x1080"
    assert {k.lower(): v for k, v in first["headers"].items()}["retry-after"] == "30"
    record = db["audio_clips"].find_one({"episode_id": CBR_GUID, "chunk_index": 1})
    assert record is not None and not record.get("videos")  # the clip, but no video yet

    spec = ClipSpec(CBR_GUID, 1, 15)
    rendered = handler(video_event(spec, "1080x1080"), LambdaContext(remaining_ms=90_000))
    assert rendered["cached"] is False and ".audiogram-1080x1080.mp4" in rendered["video_url"]

    again = _post_video(handler, key, "203.0.113.91")
    assert again["statusCode"] == 200, again["body"]
    video = json.loads(again["body"])
    assert video["cached"] is True and video["file_size_bytes"] > 10_000


def test_a_missing_font_answers_501_naming_it(lambda_handler_with, tmp_path):
    absent = tmp_path / "fonts" / "DejaVuSans-Bold.ttf"
    handler, key, db = lambda_handler_with(PODCLIPS_FONT_FILE=str(absent))
    answer = _post_video(handler, key, "203.0.113.92")
    assert answer["statusCode"] == 501, answer["body"]
    error = json.loads(answer["body"])["error"]
    assert error["code"] == "video_unsupported" and str(absent) in error["message"]
    assert db["audio_clips"].count_documents({}) == 0  # refused before any work


def test_a_render_event_for_a_clip_never_cut_is_answered_not_retried(lambda_world):
    """A retry would fail the same way: the invocation succeeds with the error, so its
    event does not land in the on-failure queue."""
    handler, _, _ = lambda_world
    answer = handler(video_event(ClipSpec("no-such-episode", 0, 30), "1080x1080"),
                     LambdaContext())
    assert answer["error"]["code"] == "clip_not_cut"
