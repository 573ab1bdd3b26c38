"""Schemathesis fuzzes every operation of the served OpenAPI schema: no input makes a 5xx.

Valid inputs (positive) and inputs that break the schema (negative), with a
valid API key so the fuzzing reaches the handlers rather than stopping at 401.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

# One seeded catalogue for every sidecar test module (imported fixtures would be one per module).
pytest_plugins = ["tests.api_fixtures"]


EXAMPLES_PER_OPERATION = 25  # per mode: the whole run stays well under a minute
CLIP_API = {"/api/generate-audio-clip", "/api/v1/audio_clips/{episode_id}",
            "/api/audio-clips/lookup", "/health"}
# Every route: no 5xx. The clip API also answers only documented statuses and bodies.
CHECKS = [not_a_server_error]
CLIP_API_CHECKS = [*CHECKS, status_code_conformance, response_schema_conformance]


@pytest.mark.slow
@pytest.mark.parametrize("mode", list(GenerationMode), ids=lambda m: m.value)
def test_no_input_makes_a_server_error(api, mode):
    schema = schemathesis.openapi.from_url(f"{api.url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.path for op in operations} >= CLIP_API
    for operation in operations:
        if mode is GenerationMode.NEGATIVE and operation.path == "/health":
            continue  # it takes no input, so there is nothing to break
        checks = CLIP_API_CHECKS if operation.path in CLIP_API else CHECKS

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def no_server_error(case):
            # noqa below: it runs within this iteration, so `checks` is this operation's
            case.call_and_validate(headers={"X-API-Key": api.key}, checks=checks)  # noqa: B023

        no_server_error()
