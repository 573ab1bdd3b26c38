"""deploy/template.yaml read as a reviewer would: each point the deployment depends on.

The template is parsed with cfn-lint's loader (it knows !Ref, !Sub, !If, ...);
intrinsic functions appear as `{"Fn::Sub": ...}` dicts.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from cfnlint.decode import decode

from podclips_dagster.sidecar.budget import LAMBDA_MARGIN_SECONDS
from podclips_dagster.sidecar.observability import METRICS_SERVICE, PRECUT_BUDGET_EXHAUSTED
from podclips_dagster.sidecar.state import DEFAULT_BUDGET_SECONDS

REPO = Path(__file__).resolve().parents[1]
TEMPLATE = REPO / "deploy" / "template.yaml"
API_GATEWAY_TIMEOUT_SECONDS = 29
PUBLIC_PATHS = {"/health", "/openapi.json", "/clips/{proxy+}"}


@pytest.fixture(scope="module")
def template() -> dict:
    parsed, errors = decode(str(TEMPLATE))
    assert not errors
    return parsed


def _text(node) -> str:
    return json.dumps(node, default=str)


def _function(template) -> dict:
    return template["Resources"]["SidecarFunction"]["Properties"]


def _statements(template) -> list[dict]:
    return _function(template)["Policies"][0]["Statement"]


def _actions(statement) -> list[str]:
    action = statement["Action"]
    return [action] if isinstance(action, str) else list(action)


def test_share_pages_are_public_with_their_own_throttle_and_api_routes_need_a_key(template):
    api = template["Resources"]["SidecarApi"]["Properties"]
    assert api["Auth"]["ApiKeyRequired"] is True  # the default for every route
    events = {e["Properties"]["Path"]: e["Properties"]
              for e in _function(template)["Events"].values()}
    share = events["/clips/{proxy+}"]
    assert share["Method"] == "GET" and share["Auth"]["ApiKeyRequired"] is False
    assert events["/api/{proxy+}"]["Auth"]["ApiKeyRequired"] is True
    keyless = {path for path, e in events.items()
               if e.get("Auth", {}).get("ApiKeyRequired") is False}
    assert keyless == PUBLIC_PATHS
    assert not any(path.startswith("/api") for path in keyless)
    (throttle,) = [m for m in api["MethodSettings"] if m["ResourcePath"] == "/~1clips~1{proxy+}"]
    assert throttle["HttpMethod"] == "GET"
    assert throttle["ThrottlingRateLimit"] == {"Ref": "ShareThrottleRate"}
    assert throttle["ThrottlingBurstLimit"] == {"Ref": "ShareThrottleBurst"}


def test_clips_bucket_is_private_and_cloudfront_reads_it_through_oac(template):
    resources = template["Resources"]
    block = resources["ClipsBucket"]["Properties"]["PublicAccessBlockConfiguration"]
    assert block == {"BlockPublicAcls": True, "IgnorePublicAcls": True,
                     "BlockPublicPolicy": True, "RestrictPublicBuckets": True}
    oac = resources["ClipsOriginAccessControl"]
    assert oac["Type"] == "AWS::CloudFront::OriginAccessControl"
    assert oac["Properties"]["OriginAccessControlConfig"] | {"Name": None, "Description": None} \
        == {"Name": None, "Description": None, "OriginAccessControlOriginType": "s3",
            "SigningBehavior": "always", "SigningProtocol": "sigv4"}
    (origin,) = resources["ClipsDistribution"]["Properties"]["DistributionConfig"]["Origins"]
    assert origin["OriginAccessControlId"] == {"Fn::GetAtt": ["ClipsOriginAccessControl", "Id"]}
    assert origin["S3OriginConfig"]["OriginAccessIdentity"] == ""  # no legacy OAI

    statements = resources["ClipsBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert not [s for s in statements if s["Effect"] == "Allow" and s["Principal"] == "*"]
    (cdn,) = [s for s in statements if s["Effect"] == "Allow"]
    assert cdn["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert cdn["Action"] == "s3:GetObject" and "/audio_clips/*" in _text(cdn["Resource"])
    source_arn = cdn["Condition"]["StringEquals"]["AWS:SourceArn"]["Fn::Sub"]
    assert ":distribution/${ClipsDistribution}" in source_arn

    # Clip URLs (and so the files a share page links) are CloudFront's, or its custom domain.
    base = _function(template)["Environment"]["Variables"]["CLIPS_PUBLIC_BASE_URL"]["Fn::If"]
    assert base[0] == "HasClipsCdnDomain"
    assert "${ClipsCdnDomainName}" in _text(base[1])
    assert "${ClipsDistribution.DomainName}" in _text(base[2])


def test_missing_clips_are_404s_listbucket_has_no_prefix_condition(template):
    (clips_list,) = [s for s in _statements(template) if "s3:ListBucket" in _actions(s)
                     and s["Resource"] == {"Fn::GetAtt": ["ClipsBucket", "Arn"]}]
    assert "Condition" not in clips_list


def test_no_secret_in_the_environment_and_only_that_secret_is_readable(template):
    env = _function(template)["Environment"]["Variables"]
    assert "MONGODB_URI" not in env
    assert "resolve:secretsmanager" not in _text(env)
    assert env["MONGODB_URI_SECRET_NAME"] == {"Ref": "MongoDbSecretName"}
    statements = _statements(template)
    secret_statements = [s for s in statements
                         if any(a.startswith("secretsmanager:") for a in _actions(s))]
    (secret,) = secret_statements
    assert _actions(secret) == ["secretsmanager:GetSecretValue"]
    arn = secret["Resource"]["Fn::Sub"]
    assert arn.endswith(":secret:${MongoDbSecretName}-??????") and "*" not in arn
    actions = {a for s in statements for a in _actions(s)}
    assert actions == {"s3:GetObject", "s3:PutObject", "s3:ListBucket",  # no wildcards
                       "lambda:InvokeFunction", "secretsmanager:GetSecretValue"}


def test_function_name_and_reserved_concurrency_are_parameters(template):
    function = _function(template)
    assert function["FunctionName"] == {"Ref": "FunctionName"}
    assert function["ReservedConcurrentExecutions"] == {"Ref": "ReservedConcurrency"}
    assert {"FunctionName", "ReservedConcurrency"} <= set(template["Parameters"])
    (invoke,) = [s for s in _statements(template) if _actions(s) == ["lambda:InvokeFunction"]]
    assert invoke["Resource"]["Fn::Sub"].endswith(":function:${FunctionName}")  # itself only


def test_alarms_cover_what_can_fail_and_notify_the_topic_parameter(template):
    resources = template["Resources"]
    alarms = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::CloudWatch::Alarm"]
    assert "AlarmTopicArn" in template["Parameters"]
    for alarm in alarms:
        assert alarm["AlarmActions"] == [{"Ref": "AlarmTopicArn"}]
    by_metric = {(a["Namespace"], a["MetricName"]): a for a in alarms}
    on_function = [{"Name": "FunctionName", "Value": {"Ref": "SidecarFunction"}}]
    for name in ("Errors", "Throttles", "Duration"):
        assert by_metric[("AWS/Lambda", name)]["Dimensions"] == on_function
    duration = by_metric[("AWS/Lambda", "Duration")]
    timeout_ms = _function(template)["Timeout"] * 1000
    assert duration["ExtendedStatistic"] == "p99"
    assert 0.8 * timeout_ms <= duration["Threshold"] < timeout_ms
    # Failed asynchronous invocations land in the on-failure queue, which is watched.
    destination = _function(template)["EventInvokeConfig"]["DestinationConfig"]["OnFailure"]
    assert destination == {"Type": "SQS",
                           "Destination": {"Fn::GetAtt": ["AsyncFailuresQueue", "Arn"]}}
    queue_alarm = by_metric[("AWS/SQS", "ApproximateNumberOfMessagesVisible")]
    assert queue_alarm["Dimensions"][0]["Value"] == {
        "Fn::GetAtt": ["AsyncFailuresQueue", "QueueName"]}
    assert ("AWS/ApiGateway", "5XXError") in by_metric
    # The budget alarm reads the EMF metric the sidecar emits, with its dimension.
    budget = by_metric[("podclips", PRECUT_BUDGET_EXHAUSTED)]
    assert budget["Dimensions"] == [{"Name": "service", "Value": METRICS_SERVICE}]


def test_custom_domain_parameters_and_conditions(template):
    assert {"CustomDomainName", "CustomDomainCertificateArn", "CustomDomainBasePath"} <= set(
        template["Parameters"])
    assert {"HasCustomDomain", "HasCustomDomainBasePath"} <= set(template["Conditions"])
    resources = template["Resources"]
    domain = resources["ApiCustomDomain"]
    assert domain["Condition"] == "HasCustomDomain"
    assert domain["Properties"]["RegionalCertificateArn"] == {"Ref": "CustomDomainCertificateArn"}
    mapping = resources["ApiCustomDomainMapping"]
    assert mapping["Condition"] == "HasCustomDomain"
    assert mapping["Properties"]["BasePath"]["Fn::If"][0] == "HasCustomDomainBasePath"
    # The function learns the public base of its links only when there is a custom domain;
    # without one it adds the stage itself (tests/test_api_share_links.py).
    share_base = _function(template)["Environment"]["Variables"]["SHARE_BASE_URL"]["Fn::If"]
    assert share_base[0] == "HasCustomDomain" and share_base[2] == {"Ref": "AWS::NoValue"}
    assert "${CustomDomainBasePath}" in _text(share_base[1])


def test_lifecycle_and_retention_are_configured_and_documented_together(template):
    params = template["Parameters"]
    env = _function(template)["Environment"]["Variables"]
    assert env["CLIP_RETENTION_DAYS"] == {"Ref": "ClipRetentionDays"}
    rules = template["Resources"]["ClipsBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    (clips_rule,) = [r for r in rules if r.get("Prefix") == "audio_clips/"]
    (transition,) = clips_rule["Transitions"]
    # Instant Retrieval: an archived clip still plays, so archiving never makes a dead record.
    assert transition == {"StorageClass": "GLACIER_IR",
                          "TransitionInDays": {"Ref": "ClipArchiveAfterDays"}}
    assert not [r for r in rules if any(k.startswith(("Expiration", "NoncurrentVersionExp"))
                                        for k in r)]
    assert params["ClipArchiveAfterDays"]["Default"] >= params["ClipRetentionDays"]["Default"]
    readme = (REPO / "deploy" / "README.md").read_text()
    section = readme[readme.index("## Lifecycle and retention"):]
    section = section[:section.find("\n## ", 1) if "\n## " in section[1:] else None]
    for word in ("CLIP_RETENTION_DAYS", "ClipRetentionDays", "ClipArchiveAfterDays",
                 "GLACIER_IR"):
        assert word in section


def test_requests_answer_before_api_gateway_gives_up_and_renders_fit_the_timeout(template):
    function = _function(template)
    assert DEFAULT_BUDGET_SECONDS + LAMBDA_MARGIN_SECONDS < API_GATEWAY_TIMEOUT_SECONDS
    # An audiogram renders in about 30 s at 1024 MB, in an asynchronous invocation.
    assert function["Timeout"] >= 60 and function["MemorySize"] >= 1024
    layer_env = function["Environment"]["Variables"]
    assert re.fullmatch(r"/opt/\S+\.ttf", layer_env["PODCLIPS_FONT_FILE"])
