"""The deployed template: valid for cfn-lint, acyclic, and holding the security properties the design promises
(data kept and encrypted, logs expire, the gateway's role scoped to its own resources and to function names)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chalicelib.aws import names, stack
from chalicelib.aws.log_groups import RETENTION_DAYS
from chalicelib.config import Settings
from chalicelib.storage import dynamodb

DATA_SERVICES = ("dynamodb", "kms", "sqs", "lambda", "iam", "s3", "scheduler", "logs", "ses", "ecr")


def _resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {n: r.get("Properties", {}) for n, r in template["Resources"].items() if r["Type"] == kind}


def _statements(role: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for policy in role["Policies"]:
        yield from policy["PolicyDocument"]["Statement"]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _sub(value: Any) -> str:
    return value["Fn::Sub"] if isinstance(value, dict) and "Fn::Sub" in value else str(value)


def test_cfn_lint_passes_on_the_deployed_template(packaged: stack.Package) -> None:
    cfn_lint = Path(sys.executable).parent / "cfn-lint"  # pinned in requirements-dev.txt
    done = subprocess.run([str(cfn_lint), str(packaged.template_path)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-1000:]


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str):
                yield value
            elif key == "Fn::GetAtt":
                yield value[0] if isinstance(value, list) else value.split(".")[0]
            elif key == "Fn::Sub":
                text = value if isinstance(value, str) else value[0]
                yield from (m.split(".")[0] for m in re.findall(r"\$\{([^!}][^}]*)\}", text))
                if isinstance(value, list):
                    yield from _refs(value[1])
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def _cycle(template: dict[str, Any]) -> list[str] | None:
    resources = template["Resources"]
    graph = {name: {r for r in _refs(res) if r in resources} | set(_as_list(res.get("DependsOn", [])))
             for name, res in resources.items()}
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*path, node, nxt]
            found = visit(nxt, [*path, node]) if nxt not in state else None
            if found:
                return found
        state[node] = 2
        return None

    return next((c for name in sorted(graph) if name not in state and (c := visit(name, []))), None)


def test_no_resource_depends_on_itself_through_others(packaged: stack.Package) -> None:
    assert _cycle(packaged.template) is None


def test_the_api_would_depend_on_its_handler_if_the_integration_named_it_by_reference(
        packaged: stack.Package) -> None:
    """Why merge() names the handler's ARN: FNGATE_GATEWAY_URL makes the handler depend on the API."""
    text = json.dumps(packaged.template).replace("function:${AWS::StackName}-api/", "function:${APIHandler.Arn}/")
    assert _cycle(json.loads(text)) is not None


def test_the_table_matches_the_store_and_keeps_its_data(packaged: stack.Package) -> None:
    # GIVEN the table the DynamoDB store creates for itself (tests, `create_table`)
    class Recorder:
        def create_table(self, **kwargs: Any) -> None:
            self.created = kwargs

        def get_waiter(self, _: str) -> Any:
            return type("W", (), {"wait": lambda *a, **k: None})()

        def update_time_to_live(self, **kwargs: Any) -> None:
            self.ttl = kwargs["TimeToLiveSpecification"]

    rec = Recorder()
    dynamodb.create_table(rec)
    # THEN the stack's table has the same keys and TTL attribute, PITR, encryption and protection from deletion
    (table,) = _resources(packaged.template, "AWS::DynamoDB::Table").values()
    assert table["KeySchema"] == rec.created["KeySchema"]
    assert table["AttributeDefinitions"] == rec.created["AttributeDefinitions"]
    assert table["TimeToLiveSpecification"] == rec.ttl
    assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert table["SSESpecification"]["SSEEnabled"] is True and table["DeletionProtectionEnabled"] is True
    assert packaged.template["Resources"]["Table"]["DeletionPolicy"] == "Retain"


def test_the_key_rotates_and_is_kept(packaged: stack.Package) -> None:
    (key,) = _resources(packaged.template, "AWS::KMS::Key").values()
    assert key["EnableKeyRotation"] is True
    assert packaged.template["Resources"]["Key"]["DeletionPolicy"] == "Retain"


def test_every_log_group_expires_after_30_days_and_every_gateway_lambda_logs_to_one(packaged: stack.Package) -> None:
    groups = _resources(packaged.template, "AWS::Logs::LogGroup")
    assert groups and {g["RetentionInDays"] for g in groups.values()} == {30} == {RETENTION_DAYS}  # = functions' groups
    for props in _resources(packaged.template, "AWS::Serverless::Function").values():
        assert props["LoggingConfig"]["LogGroup"]["Ref"] in groups


def test_queues_are_encrypted_and_the_jobs_queue_parks_poison_messages(packaged: stack.Package) -> None:
    queues = _resources(packaged.template, "AWS::SQS::Queue")
    assert all(q["SqsManagedSseEnabled"] for q in queues.values())
    redrive = queues["JobsQueue"]["RedrivePolicy"]
    assert redrive["deadLetterTargetArn"] == {"Fn::GetAtt": ["JobsDeadLetterQueue", "Arn"]}


def _gateway_statements(template: dict[str, Any]) -> list[dict[str, Any]]:
    return list(_statements(template["Resources"]["GatewayRole"]["Properties"]))


def test_the_gateway_role_has_no_wildcard_resource_on_a_data_action(packaged: stack.Package) -> None:
    for st in _gateway_statements(packaged.template):
        actions = _as_list(st["Action"])
        if "*" in _as_list(st["Resource"]):
            assert all(a.startswith("ec2:Describe") for a in actions), st
        assert not [a for a in actions if a in ("*", "iam:*", "dynamodb:*", "kms:*", "sqs:*")], st


def test_the_gateway_manages_only_function_lambdas_and_account_roles(packaged: stack.Package) -> None:
    statements = _gateway_statements(packaged.template)
    for st in statements:
        resources = [_sub(r) for r in _as_list(st["Resource"])]
        for action in _as_list(st["Action"]):
            if action.startswith("lambda:"):
                assert all(r.endswith(f":function:{names.FUNCTION_PREFIX}*") for r in resources), st
            if action.startswith("iam:") and action != "iam:PassRole":
                assert all(r.endswith(f":role{names.ROLE_PATH}*") for r in resources), st
            if action == "iam:PassRole":
                assert set(st["Condition"]["StringEquals"]) == {"iam:PassedToService"}, st
    passed = {st["Condition"]["StringEquals"]["iam:PassedToService"]: st["Resource"] for st in statements
              if "iam:PassRole" in _as_list(st["Action"])}
    assert _sub(passed["lambda.amazonaws.com"]).endswith(f":role{names.ROLE_PATH}*")
    assert passed["scheduler.amazonaws.com"] == {"Fn::GetAtt": ["SchedulerRole", "Arn"]}


def test_the_gateway_reaches_its_own_table_key_and_queue_only(packaged: stack.Package) -> None:
    by_service: dict[str, list[Any]] = {}
    for st in _gateway_statements(packaged.template):
        for action in _as_list(st["Action"]):
            by_service.setdefault(action.split(":")[0], []).extend(_as_list(st["Resource"]))
    assert {str(r) for r in by_service["dynamodb"]} == {str({"Fn::GetAtt": ["Table", "Arn"]})}
    assert {str(r) for r in by_service["kms"]} == {str({"Fn::GetAtt": ["Key", "Arn"]})}
    assert {str(r) for r in by_service["sqs"]} == {str({"Fn::GetAtt": ["JobsQueue", "Arn"]})}


def test_the_scheduler_may_invoke_only_fire_schedules(packaged: stack.Package) -> None:
    role = packaged.template["Resources"]["SchedulerRole"]["Properties"]
    (st,) = _statements(role)
    fire = next(p for p in _resources(packaged.template, "AWS::Serverless::Function").values()
                if p["Handler"].endswith(".fire_schedules"))
    assert st["Action"] == "lambda:InvokeFunction"
    assert _sub(st["Resource"]).endswith(":function:" + fire["FunctionName"]["Fn::Sub"])


def test_the_egress_proxy_only_reads_the_table(packaged: stack.Package) -> None:
    role = packaged.template["Resources"]["EgressTaskRole"]["Properties"]
    (st,) = _statements(role)
    assert st["Action"] == ["dynamodb:Query"]
    assert st["Resource"] == {"Fn::GetAtt": ["Table", "Arn"]}


def test_function_lambdas_can_reach_only_the_egress_proxy(packaged: stack.Package) -> None:
    resources = packaged.template["Resources"]
    (rule,) = resources["FunctionSecurityGroup"]["Properties"]["SecurityGroupEgress"]
    assert (rule["IpProtocol"], rule["FromPort"], rule["ToPort"]) == ("tcp", 3128, 3128)
    assert rule["DestinationSecurityGroupId"] == {"Fn::GetAtt": ["EgressSecurityGroup", "GroupId"]}
    private_tables = {a["Properties"]["RouteTableId"]["Ref"] for n, a in resources.items()
                      if n.startswith("PrivateSubnet") and a["Type"] == "AWS::EC2::SubnetRouteTableAssociation"}
    assert private_tables == {"PrivateRouteTable"}
    assert not [r for r in _resources(packaged.template, "AWS::EC2::Route").values()
                if r["RouteTableId"] == {"Ref": "PrivateRouteTable"}]


def _gateway_env(template: dict[str, Any]) -> list[dict[str, Any]]:
    return [p["Environment"]["Variables"] for p in _resources(template, "AWS::Serverless::Function").values()]


def test_every_gateway_lambda_gets_the_prod_backends(packaged: stack.Package) -> None:
    for env in _gateway_env(packaged.template):
        # GIVEN the stack's values (resolved by CloudFormation at deploy time) as placeholders
        resolved = {k: v if isinstance(v, str) else f"<{k}>" for k, v in env.items()}
        settings = Settings.from_env(resolved)
        # THEN the gateway's own settings pick the AWS backends
        assert (settings.store, settings.executor, settings.keyring) == ("dynamodb", "aws_lambda", "kms")
        assert (settings.jobs, settings.records, settings.scheduler) == ("sqs", "sync", "eventbridge")
        assert settings.tls and settings.kms_key_id and settings.jobs_queue_url and settings.scheduler_role_arn


@pytest.mark.parametrize("setting", ["FNGATE_LAMBDA_IMAGE_URI", "FNGATE_LAMBDA_SUBNET_IDS",
                                     "FNGATE_LAMBDA_SECURITY_GROUP_IDS", "FNGATE_EGRESS_PROXY_URL",
                                     "FNGATE_GATEWAY_URL"])
def test_every_gateway_lambda_gets_the_function_runtime_settings(packaged: stack.Package, setting: str) -> None:
    values = [env.get(setting) for env in _gateway_env(packaged.template)]
    assert values[0] and all(v == values[0] for v in values)


def test_the_api_is_throttled(packaged: stack.Package) -> None:
    (settings,) = packaged.template["Resources"]["RestAPI"]["Properties"]["MethodSettings"]
    assert settings["ThrottlingRateLimit"] == {"Ref": "ApiThrottleRate"}
    assert settings["ThrottlingBurstLimit"] == {"Ref": "ApiThrottleBurst"}
    assert (settings["ResourcePath"], settings["HttpMethod"]) == ("/*", "*")
