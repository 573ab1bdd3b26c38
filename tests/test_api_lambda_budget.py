"""On Lambda a cut that overruns the request's budget is cancelled before the 202: the frozen
process keeps no lease and no FFmpeg, so the Dagster run for the 202 starts at once."""

from __future__ import annotations

import json
import logging
import os
import time

from bson import ObjectId

from tests.api_fixtures import CBR_GUID
from tests.lambda_fixtures import LambdaContext, rest_v1_event
from tests.process_tree import children

pytest_plugins = ["tests.api_fixtures", "tests.lambda_fixtures"]


def _generate(handler, key, chunk: int, remaining_ms: int):
    event = rest_v1_event("POST", "/api/generate-audio-clip", "203.0.113.60",
                          {"X-API-Key": key, "Content-Type": "application/json"},
                          {"episode_id": CBR_GUID, "chunk_index": chunk, "duration": 60})
    return handler(event, LambdaContext(remaining_ms=remaining_ms))


def test_an_overrun_cut_is_cancelled_and_its_lease_released_before_the_202(
        lambda_world, caplog):  # noqa: F811
    handler, key, db = lambda_world
    caplog.set_level(logging.INFO)
    assert _generate(handler, key, 1, 30_000)["statusCode"] == 200  # warm: clients connected
    # Less the 3 s margin, budgets of a few tenths of a second: the cut must have started
    # (it logs "cutting") and not finished. The first that does is the one checked.
    for chunk, remaining_ms in ((2, 3300), (3, 3500), (4, 3800), (5, 4200)):
        caplog.clear()
        answer = _generate(handler, key, chunk, remaining_ms)
        if answer["statusCode"] == 202 and f"cutting chunk {chunk} " in caplog.text:
            break
    else:
        raise AssertionError("no budget caught a cut in progress")
    # As the handler returns (Lambda would freeze the process now): nothing holds the lease,
    # no FFmpeg runs, and the request waits for Dagster.
    assert db["clip_leases"].count_documents({}) == 0
    assert not [pid for pid, name in children(os.getpid()).items() if "ffmpeg" in name]
    request_id = ObjectId(json.loads(answer["body"])["request_id"])
    assert db["clip_requests"].find_one({"_id": request_id})["status"] == "pending"
    # No thread goes on cutting behind the answer.
    time.sleep(2)
    assert db["audio_clips"].count_documents({"chunk_index": chunk, "duration_seconds": 60}) == 0
    assert db["clip_leases"].count_documents({}) == 0
