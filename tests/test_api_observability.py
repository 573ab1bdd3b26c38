"""Powertools as documented: metrics flushed once per invocation by the handler (with the
cold-start metric), latency to the answer and background work apart, API Gateway's
request id as correlation id, stdlib loggers in JSON on Lambda; locally, short lines and
no EMF."""

from __future__ import annotations

import io
import json
import time

import pytest
from aws_lambda_powertools.metrics.provider import cold_start

from podclips_dagster.sidecar.observability import PRECUT_BUDGET_EXHAUSTED, logger
from tests.api_fixtures import CBR_GUID
from tests.lambda_fixtures import LambdaContext, rest_v1_event

# One seeded catalogue for every sidecar test module; the Lambda handler fixtures.
pytest_plugins = ["tests.api_fixtures", "tests.lambda_fixtures"]


@pytest.fixture
def log_lines():
    """What the Powertools handler writes (the `podclips.*` stdlib loggers share it on
    Lambda), read from a buffer: its stream was bound when the module was imported."""
    buffer = io.StringIO()
    previous = logger.registered_handler.setStream(buffer)
    yield lambda: buffer.getvalue().splitlines()
    logger.registered_handler.setStream(previous)


def _emf(out: str) -> list[dict]:
    blobs = [json.loads(line) for line in out.splitlines() if line.startswith('{"_aws"')]
    return blobs


def _metric(blobs: list[dict], name: str) -> list[float]:
    return [value for blob in blobs for value in blob.get(name, [])]


def _lookup(key: str, ip: str, chunks=(2, 3)) -> dict:
    return rest_v1_event("POST", "/api/audio-clips/lookup", ip,
                         {"X-API-Key": key, "Content-Type": "application/json"},
                         {"items": [{"episode_id": CBR_GUID, "chunk_index": c} for c in chunks]})


def test_the_handler_flushes_metrics_with_cold_start_and_correlates_logs(lambda_handler_with,
                                                                         log_lines, capsys):
    handler, _, _ = lambda_handler_with()
    cold_start.reset_cold_start_flag()  # a fresh Lambda instance
    capsys.readouterr()
    event = rest_v1_event("GET", "/health", "203.0.113.100", {})
    assert handler(event, LambdaContext())["statusCode"] == 200
    handler(rest_v1_event("GET", "/health", "203.0.113.100", {}), LambdaContext())
    blobs = _emf(capsys.readouterr().out)
    assert _metric(blobs, "ColdStart") == [1.0]  # the first invocation only
    assert len(_metric(blobs, "Latency")) == 2  # one flush per invocation, each its own

    lines = [json.loads(line) for line in log_lines()]
    requests = [line for line in lines if line["message"] == "request"]
    assert requests[0]["correlation_id"] == event["requestContext"]["requestId"]
    assert requests[0]["status"] == 200 and requests[0]["path"] == "/health"
    assert requests[1]["cold_start"] is False

    # A stdlib logger (podclips.sidecar.precut) writes JSON through the same logger.
    handler({"podclips_precut": []}, LambdaContext())
    (precut,) = [json.loads(line) for line in log_lines() if "pre-cut 0 clip(s)" in line]
    assert precut["level"] == "INFO" and precut["location"].startswith("handle_precut_event")
    assert precut["function_request_id"]  # with the invocation's context, like our own lines
    assert _metric(_emf(capsys.readouterr().out), "PrecutsCut") == [0.0]


def test_latency_is_measured_to_the_answer_and_background_work_apart(lambda_handler_with,
                                                                     capsys):
    handler, key, db = lambda_handler_with(PRECUT_MODE="direct")
    capsys.readouterr()
    answer = handler(_lookup(key, "203.0.113.101"), LambdaContext())
    assert answer["statusCode"] == 200
    assert db["audio_clips"].count_documents({"requested_by": "precut"}) == 2  # cut after
    blobs = _emf(capsys.readouterr().out)
    (latency,), (background,) = _metric(blobs, "Latency"), _metric(blobs, "BackgroundTime")
    # Two cuts happened after the answer: they are BackgroundTime, not Latency.
    assert background > 200 and latency < background
    assert _metric(blobs, "PrecutsQueued") == [2.0]
    assert _metric(blobs, PRECUT_BUDGET_EXHAUSTED) == [0.0]


def test_a_spent_precut_budget_is_a_metric(lambda_handler_with, capsys):
    handler, key, _ = lambda_handler_with(PRECUT_MAX_CLIPS_PER_DAY="0")
    capsys.readouterr()
    assert handler(_lookup(key, "203.0.113.102"), LambdaContext())["statusCode"] == 200
    assert _metric(_emf(capsys.readouterr().out), PRECUT_BUDGET_EXHAUSTED) == [1.0]


def test_locally_lines_are_short_and_no_emf_is_printed(make_api, log_lines, capsys):
    api = make_api()
    with api.client() as client:
        assert client.get("/health").status_code == 200
        assert client.post("/api/generate-audio-clip", json={
            "episode_id": CBR_GUID, "chunk_index": 4}).status_code == 200
    deadline = time.monotonic() + 10  # each line is written once the request's work is done
    while not any(" POST /api/generate-audio-clip 200 " in line for line in log_lines()):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert '"_aws"' not in capsys.readouterr().out
    lines = log_lines()
    health = next(line for line in lines if " GET /health 200 " in line)
    assert not health.startswith("{") and len(health) < 80
    clip = next(line for line in lines if " POST /api/generate-audio-clip 200 " in line)
    assert "cache=miss" in clip
