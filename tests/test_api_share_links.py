"""Share links behind API Gateway: the stage on the execute-api URL, none on a custom domain.

Through the Lambda handler with the REST v1 events API Gateway sends: on the
default URL the event's `path` lacks the stage (`requestContext.path` has it);
on a custom domain with a base path mapping, `path` keeps the base path.
"""

from __future__ import annotations

import re
from html import unescape

from tests.api_fixtures import CBR_GUID
from tests.lambda_fixtures import LambdaContext, rest_v1_event

# One seeded catalogue for every sidecar test module; the Lambda handler fixtures.
pytest_plugins = ["tests.api_fixtures", "tests.lambda_fixtures"]
CUSTOM_DOMAIN = "clips-api.example.com"


def _links(page: str) -> set[str]:
    """The page's canonical URL, og:url and the copy-link field's value."""
    found = {
        "canonical": re.search(r'<link rel="canonical" href="([^"]+)"', page),
        "og:url": re.search(r'<meta property="og:url" content="([^"]+)"', page),
        "copy": re.search(r'<input id="link" type="url" value="([^"]+)"', page),
    }
    assert all(found.values()), {k: bool(v) for k, v in found.items()}
    return {unescape(match.group(1)) for match in found.values()}


def test_links_on_the_execute_api_url_include_the_stage(lambda_handler_with):
    handler, _, _ = lambda_handler_with()
    answer = handler(rest_v1_event("GET", f"/clips/{CBR_GUID}/0", "203.0.113.60", {}),
                     LambdaContext())
    assert answer["statusCode"] == 200, answer["body"][:500]
    assert _links(answer["body"]) == {
        f"https://abc123.execute-api.us-east-1.amazonaws.com/prod/clips/{CBR_GUID}/0"}


def test_links_on_a_custom_domain_carry_its_base_path_and_no_stage(lambda_handler_with):
    handler, _, _ = lambda_handler_with(SHARE_BASE_URL=f"https://{CUSTOM_DOMAIN}/v1")
    event = rest_v1_event("GET", f"/v1/clips/{CBR_GUID}/0", "203.0.113.61",
                          {"Host": CUSTOM_DOMAIN})
    event["requestContext"].update(domainName=CUSTOM_DOMAIN, domainPrefix="clips-api",
                                   path=f"/v1/clips/{CBR_GUID}/0")
    answer = handler(event, LambdaContext())
    assert answer["statusCode"] == 200, answer["body"][:500]  # the base path is routed
    assert _links(answer["body"]) == {f"https://{CUSTOM_DOMAIN}/v1/clips/{CBR_GUID}/0"}


def test_a_custom_domain_without_share_base_url_gets_no_stage(lambda_handler_with):
    """A domain mapped at its root: the request's own host, no stage."""
    handler, _, _ = lambda_handler_with()
    event = rest_v1_event("GET", f"/clips/{CBR_GUID}/1", "203.0.113.62", {"Host": CUSTOM_DOMAIN})
    event["requestContext"].update(domainName=CUSTOM_DOMAIN, domainPrefix="clips-api")
    answer = handler(event, LambdaContext())
    assert answer["statusCode"] == 200, answer["body"][:500]
    assert _links(answer["body"]) == {f"https://{CUSTOM_DOMAIN}/clips/{CBR_GUID}/1"}
