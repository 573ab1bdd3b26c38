"""deploy/dagster/template.yaml: cfn-lint clean, and it deploys what the design asks: Fargate
services (webserver internal, daemon, code server via Cloud Map), the run task the launcher
uses, RDS PostgreSQL behind Secrets Manager, least-privilege roles, logs with retention."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from cfnlint.decode import decode

REPO = Path(__file__).resolve().parents[1]
TEMPLATE = REPO / "deploy" / "dagster" / "template.yaml"
CFN_LINT = shutil.which("cfn-lint", path=str(Path(sys.executable).parent)) or "cfn-lint"
SERVICES = ("WebserverService", "DaemonService", "CodeServerService")


@pytest.fixture(scope="module")
def resources() -> dict:
    parsed, errors = decode(str(TEMPLATE))
    assert not errors
    return parsed["Resources"]


def _container(resources, task_definition: str) -> dict:
    (container,) = resources[task_definition]["Properties"]["ContainerDefinitions"]
    return container


def _task_definition(resources, service: str) -> str:
    return resources[service]["Properties"]["TaskDefinition"]["Ref"]


def _statements(resources, role: str) -> list[dict]:
    return [s for policy in resources[role]["Properties"].get("Policies", [])
            for s in policy["PolicyDocument"]["Statement"]]


def _actions(statement: dict) -> list[str]:
    action = statement["Action"]
    return [action] if isinstance(action, str) else action


def test_cfn_lint_is_clean():
    lint = subprocess.run([CFN_LINT, str(TEMPLATE)], capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout + lint.stderr


def test_cfn_lint_catches_a_broken_template(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text(TEMPLATE.read_text().replace("      LaunchType: FARGATE\n",
                                                   "      LaunchType: FARGATE\n      Bogus: 1\n"))
    lint = subprocess.run([CFN_LINT, str(broken)], capture_output=True, text=True)
    assert lint.returncode != 0 and "Bogus" in lint.stdout


def test_three_fargate_services_in_private_subnets_and_the_ui_is_not_public(resources):
    assert resources["Cluster"]["Properties"]["CapacityProviders"] == ["FARGATE"]
    for name in SERVICES:
        service = resources[name]["Properties"]
        assert service["LaunchType"] == "FARGATE" and service["Cluster"] == {"Ref": "Cluster"}
        assert service["NetworkConfiguration"]["AwsvpcConfiguration"]["AssignPublicIp"] == \
            "DISABLED"
    assert resources["LoadBalancer"]["Properties"]["Scheme"] == "internal"
    (ingress,) = resources["LoadBalancerSecurityGroup"]["Properties"]["SecurityGroupIngress"]
    assert ingress["CidrIp"] == {"Ref": "AllowedCidr"}
    assert resources["DaemonService"]["Properties"]["DesiredCount"] == 1


def test_the_code_server_is_found_through_cloud_map(resources):
    registry, = resources["CodeServerService"]["Properties"]["ServiceRegistries"]
    assert registry["RegistryArn"] == {"Fn::GetAtt": ["CodeServerDiscovery", "Arn"]}
    discovery = resources["CodeServerDiscovery"]["Properties"]
    namespace = resources["Namespace"]["Properties"]["Name"]["Fn::Sub"]
    host = f"{discovery['Name']}.{namespace}"
    workspace = yaml.safe_load((TEMPLATE.parent / "workspace.yaml").read_text())
    assert workspace["load_from"][0]["grpc_server"]["host"] == {"env": "DAGSTER_CODE_SERVER_HOST"}
    for task in ("WebserverTaskDefinition", "DaemonTaskDefinition"):
        env = {e["Name"]: e["Value"] for e in _container(resources, task)["Environment"]}
        assert env["DAGSTER_CODE_SERVER_HOST"] == {"Fn::Sub": host}
        assert "/opt/podclips/workspace.yaml" in _container(resources, task)["Command"]
    code = _container(resources, "CodeServerTaskDefinition")
    assert "Command" not in code  # the image's default: the code server
    assert code["PortMappings"] == [{"ContainerPort": 4000, "Protocol": "tcp"}]


def test_the_run_task_definition_is_the_one_the_launcher_uses(resources):
    launcher = yaml.safe_load((TEMPLATE.parent / "dagster.yaml").read_text())["run_launcher"]
    run = resources["RunTaskDefinition"]["Properties"]
    assert run["RequiresCompatibilities"] == ["FARGATE"] and run["Cpu"] == "2048"
    assert _container(resources, "RunTaskDefinition")["Name"] == \
        launcher["config"]["container_name"]
    for task in ("WebserverTaskDefinition", "DaemonTaskDefinition"):
        env = {e["Name"]: e["Value"] for e in _container(resources, task)["Environment"]}
        assert env["DAGSTER_RUN_TASK_DEFINITION"] == {"Ref": "RunTaskDefinition"}
    # The daemon's RunTask is limited to that family.
    (run_task,) = [s for s in _statements(resources, "DaemonTaskRole")
                   if "ecs:RunTask" in _actions(s)]
    assert "task-definition/${AWS::StackName}-run:*" in run_task["Resource"]["Fn::Sub"]
    assert run["Family"] == {"Fn::Sub": "${AWS::StackName}-run"}


def test_postgresql_on_rds_with_its_password_and_url_in_secrets_manager(resources):
    database = resources["Database"]
    props = database["Properties"]
    assert props["Engine"] == "postgres" and props["PubliclyAccessible"] is False
    assert props["StorageEncrypted"] is True and database["DeletionPolicy"] == "Snapshot"
    assert "{{resolve:secretsmanager:${DatabasePasswordSecret}" in \
        props["MasterUserPassword"]["Fn::Sub"]
    url = resources["DagsterPgUrlSecret"]["Properties"]["SecretString"]["Fn::Sub"]
    assert url.startswith("postgresql+psycopg2://") and "${Database.Endpoint.Address}" in url
    (ingress,) = resources["DatabaseSecurityGroup"]["Properties"]["SecurityGroupIngress"]
    assert ingress["SourceSecurityGroupId"] == {"Ref": "TasksSecurityGroup"}
    # Every Dagster process gets the URL as a secret; only code-running ones get MongoDB.
    for task in ("RunTaskDefinition", "CodeServerTaskDefinition", "WebserverTaskDefinition",
                 "DaemonTaskDefinition"):
        container = _container(resources, task)
        secrets = {s["Name"]: s["ValueFrom"] for s in container["Secrets"]}
        assert secrets["DAGSTER_PG_URL"] == {"Ref": "DagsterPgUrlSecret"}
        assert ("MONGODB_URI" in secrets) == (task in ("RunTaskDefinition",
                                                       "CodeServerTaskDefinition"))
        assert not any("PG_URL" in e["Name"] or "MONGODB" in e["Name"]
                       for e in container.get("Environment", []))


def test_task_roles_hold_least_privilege(resources):
    roles = {name for name, r in resources.items() if r["Type"] == "AWS::IAM::Role"}
    for role in roles:
        for statement in _statements(resources, role):
            assert not any(a.endswith("*") for a in _actions(statement)), (role, statement)
            if statement["Resource"] == "*":  # only actions without resource-level permissions
                assert set(_actions(statement)) <= {"ecs:DescribeTaskDefinition",
                                                    "ec2:DescribeNetworkInterfaces"}
    run = _statements(resources, "RunTaskRole")
    writes = [s for s in run if "s3:PutObject" in _actions(s)]
    assert {str(s["Resource"]) for s in writes} == {
        str({"Fn::Sub": "arn:${AWS::Partition}:s3:::${ClipsBucketName}/audio_clips/*"}),
        str({"Fn::Sub": "${ComputeLogsBucket.Arn}/*"})}
    (source,) = [s for s in run if "${SourceBucketName}" in str(s["Resource"])]
    assert _actions(source) == ["s3:GetObject"]
    code_server = {a for s in _statements(resources, "CodeServerTaskRole") for a in _actions(s)}
    assert code_server == {"s3:GetObject", "s3:ListBucket"}  # sensors only look clips up
    # Only the daemon runs, watches and stops tasks, and passes roles: the run's only.
    daemon = _statements(resources, "DaemonTaskRole")
    assert {"ecs:RunTask", "ecs:DescribeTasks", "ecs:StopTask", "iam:PassRole"} <= \
        {a for s in daemon for a in _actions(s)}
    (pass_role,) = [s for s in daemon if "iam:PassRole" in _actions(s)]
    assert pass_role["Resource"] == [{"Fn::GetAtt": ["RunTaskRole", "Arn"]},
                                     {"Fn::GetAtt": ["RunExecutionRole", "Arn"]}]
    assert resources["RunTaskDefinition"]["Properties"]["ExecutionRoleArn"] == \
        {"Fn::GetAtt": ["RunExecutionRole", "Arn"]}
    for role in roles - {"DaemonTaskRole"}:
        assert not {"ecs:RunTask", "ecs:StopTask", "iam:PassRole"} & {
            a for s in _statements(resources, role) for a in _actions(s)}, role


def test_every_container_logs_to_a_group_with_retention(resources):
    tasks = [n for n, r in resources.items() if r["Type"] == "AWS::ECS::TaskDefinition"]
    assert len(tasks) == 4
    groups = set()
    for task in tasks:
        options = _container(resources, task)["LogConfiguration"]["Options"]
        group = options["awslogs-group"]["Ref"]
        assert resources[group]["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
        groups.add(group)
    assert len(groups) == 4  # one per process kind
