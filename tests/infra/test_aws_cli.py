"""`fngate aws plan` (offline, from the project and a store) and `fngate aws deploy`'s change-set logic.

moto runs CloudFormation change sets for plain resources but not the SAM transform the gateway's template uses, so
the deployer is run under moto on a plain template (create, a second run that changes nothing, an update), and
CloudFormation's own answers that moto does not give (a change set FAILED for "no changes", a rollback) through
botocore's Stubber. The real template is checked by cfn-lint (test_template.py).
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from chalicelib.aws import deploy, names, stack
from chalicelib.cli import main
from chalicelib.domain.permissions import Principal, Role
from chalicelib.services.container import Services
from chalicelib.services.functions import FunctionChanges
from chalicelib.services.schedules import ScheduleChanges
from tests.api.conftest import NODE_CODE
from tests.conftest import ACCOUNT, OTHER_ACCOUNT

DEV = Principal(ACCOUNT, "dev-1", "user", frozenset({Role.DEVELOPER}), login_name="dev")


def _function(svc: Services, who: Principal, *, deploy_it: bool) -> str:
    fn = svc.functions.create(who, FunctionChanges(name=f"f{uuid4().hex[:6]}", description="d", code=NODE_CODE,
                                                   runtime="Node.js 20"))
    if deploy_it:
        svc.deployments.deploy(who, fn.uuid)
    return fn.uuid


# -- plan ------------------------------------------------------------------------------------------------------------
def test_plan_lists_the_stack_and_what_the_store_calls_for(make_services: Callable[..., Services], tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN two accounts: one with a deployed and a draft function and a schedule, one with nothing deployed
    svc = make_services()
    svc.identity.ensure_account(ACCOUNT)
    svc.identity.ensure_account(OTHER_ACCOUNT)
    live = _function(svc, DEV, deploy_it=True)
    draft = _function(svc, DEV, deploy_it=False)
    schedule = svc.schedules.create(DEV, ScheduleChanges(function_uuid=live, cron="0 9 * * 1-5",
                                                         time_zone="Europe/Berlin"))
    svc.close()
    # WHEN the plan is asked for, as JSON
    assert main(["aws", "plan", "--data-dir", str(tmp_path / "data"), "--json"]) == 0
    items = json.loads(capsys.readouterr().out)
    # THEN it names the stack's resources, the gateway's Lambdas among them
    stack_items = {i["name"]: i for i in items if i["origin"] == "stack"}
    assert {"Table", "Key", "JobsQueue", "GatewayRole", "APIHandler", "RunJobs", "FireSchedules"} <= set(stack_items)
    assert stack_items["EgressService"]["detail"] == "only when HasEgressImage"
    # AND every run-time resource, named by chalicelib/aws/names.py
    runtime = {(i["type"], i["name"]) for i in items if i["origin"] == "run time"}
    prefix = names.FUNCTION_PREFIX
    lambda_name = names.function_lambda_name(prefix, ACCOUNT, live)
    assert runtime == {
        ("AWS::IAM::Role", names.ROLE_PATH + names.account_role_name(prefix, ACCOUNT)),
        ("AWS::IAM::Role", names.ROLE_PATH + names.account_role_name(prefix, OTHER_ACCOUNT)),
        ("AWS::Lambda::Function", lambda_name),
        ("AWS::Logs::LogGroup", names.function_log_group(lambda_name)),
        ("AWS::Scheduler::Schedule", f"fngate-{schedule.id}"),
    }
    assert names.function_lambda_name(prefix, ACCOUNT, draft) not in {n for _, n in runtime}
    (sched,) = [i for i in items if i["type"] == "AWS::Scheduler::Schedule"]
    assert sched["detail"].startswith("cron(0 9 ? * MON-FRI *) Europe/Berlin ENABLED")


def test_plan_as_text_groups_stack_and_run_time(make_services: Callable[..., Services], tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    svc = make_services()
    svc.identity.ensure_account(ACCOUNT)
    svc.close()
    assert main(["aws", "plan", "--data-dir", str(tmp_path / "data")]) == 0
    text = capsys.readouterr().out
    assert text.startswith("Stack (created or updated by `fngate aws deploy` through a change set): ")
    assert "Run time (created or updated by the gateway as functions are deployed): 1\n" in text
    assert f"+ AWS::IAM::Role  /fngate/functions/{names.account_role_name(names.FUNCTION_PREFIX, ACCOUNT)}" in text


def test_plan_reads_dynamodb_when_the_store_is_configured_so(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    from chalicelib.clock import Clock
    from chalicelib.config import Settings
    from chalicelib.services.container import build_services
    from chalicelib.storage.dynamodb import DynamoStore, create_table
    from tests.fakes import FakeExecutor

    with mock_aws():
        # GIVEN an account with a deployed function in a DynamoDB table (and no data dir at all)
        db = boto3.client("dynamodb", region_name="us-east-1")
        create_table(db, "fngate-plan")
        svc = build_services(Settings(data_dir=tmp_path / "none", store="dynamodb", table_name="fngate-plan",
                                      jobs="inline", records="sync", region="us-east-1"),
                             store=DynamoStore(client=db, table_name="fngate-plan"), executor=FakeExecutor(),
                             clock=Clock())
        svc.identity.ensure_account(ACCOUNT)
        live = _function(svc, DEV, deploy_it=True)
        svc.close()
        monkeypatch.setenv("FNGATE_STORE", "dynamodb")
        monkeypatch.setenv("FNGATE_TABLE", "fngate-plan")
        # WHEN planned with FNGATE_STORE=dynamodb
        assert main(["aws", "plan", "--json"]) == 0
    # THEN the function's Lambda is in the plan
    names_listed = {i["name"] for i in json.loads(capsys.readouterr().out) if i["origin"] == "run time"}
    assert names.function_lambda_name(names.FUNCTION_PREFIX, ACCOUNT, live) in names_listed


def test_plan_refuses_a_folder_that_is_not_a_store(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["aws", "plan", "--data-dir", str(tmp_path / "nothing")]) == 11
    assert "no fngate data dir" in capsys.readouterr().err


# -- deploy under moto -------------------------------------------------------------------------------------------------
PLAIN = {"AWSTemplateFormatVersion": "2010-09-09",
         "Parameters": {"Retention": {"Type": "Number", "Default": 30}},
         "Resources": {"Logs": {"Type": "AWS::Logs::LogGroup", "Properties": {"RetentionInDays": {"Ref": "Retention"}}},
                       "Queue": {"Type": "AWS::SQS::Queue", "Properties": {"VisibilityTimeout": 60}}},
         "Outputs": {"QueueUrl": {"Value": {"Ref": "Queue"}}}}


@pytest.fixture
def moto_aws() -> Iterator[dict[str, Any]]:
    with mock_aws():
        clients = {"cloudformation": boto3.client("cloudformation", region_name="eu-west-1"),
                   "s3": boto3.client("s3", region_name="eu-west-1")}
        yield clients


def _package(tmp_path: Path, template: dict[str, Any], code: bytes = b"print('v1')\n") -> stack.Package:
    zip_path = tmp_path / f"code-{uuid4().hex[:6]}.zip"
    with zipfile.ZipFile(zip_path, "w") as z:
        z.writestr("app.py", code)
    return stack.Package(template, tmp_path / "template.json", zip_path)


def _deployer(clients: dict[str, Any], stack_name: str = "fngate") -> deploy.Deployer:
    return deploy.Deployer(clients["cloudformation"], clients["s3"], stack_name=stack_name, region="eu-west-1",
                           account_id="123456789012", sleep=lambda _: None)


def test_deploy_creates_the_stack_then_a_second_run_changes_nothing(moto_aws: dict[str, Any], tmp_path: Path) -> None:
    deployer = _deployer(moto_aws)
    # WHEN deployed the first time
    first = deployer.deploy(deployer.upload(_package(tmp_path, PLAIN)))
    # THEN the stack is created with its resources and outputs
    assert first.changed and first.status == "CREATE_COMPLETE"
    assert {c["logicalId"] for c in first.changes} == {"Logs", "Queue"}
    assert {c["action"] for c in first.changes} == {"Add"}
    queues = moto_aws["cloudformation"].describe_stack_resources(StackName="fngate")["StackResources"]
    assert {r["LogicalResourceId"] for r in queues} == {"Logs", "Queue"}  # (moto leaves change-set stacks' outputs out)
    # WHEN the same code is built again (a new zip, other timestamps) and deployed
    again = deployer.deploy(deployer.upload(_package(tmp_path, PLAIN)))
    # THEN nothing changes and no change set is left waiting
    assert not again.changed and again.changes == []
    left = moto_aws["cloudformation"].list_change_sets(StackName="fngate")["Summaries"]
    assert [c["ExecutionStatus"] for c in left] == ["EXECUTE_COMPLETE"]


def test_deploy_updates_what_changed_and_keeps_parameters_not_given(moto_aws: dict[str, Any], tmp_path: Path) -> None:
    deployer = _deployer(moto_aws)
    deployer.deploy(deployer.upload(_package(tmp_path, PLAIN)), {"Retention": "14"})
    changed = json.loads(json.dumps(PLAIN))
    changed["Resources"]["Queue"]["Properties"]["VisibilityTimeout"] = 120
    result = deployer.deploy(deployer.upload(_package(tmp_path, changed)))
    assert result.changed and result.status == "UPDATE_COMPLETE"
    assert [(c["action"], c["logicalId"]) for c in result.changes if c["logicalId"] == "Queue"] == [
        ("Modify", "Queue")]
    (param,) = moto_aws["cloudformation"].describe_stacks(StackName="fngate")["Stacks"][0]["Parameters"]
    assert (param["ParameterKey"], param["ParameterValue"]) == ("Retention", "14")


def test_code_is_uploaded_once_per_content_to_a_private_encrypted_bucket(moto_aws: dict[str, Any],
                                                                           tmp_path: Path) -> None:
    s3, deployer = moto_aws["s3"], _deployer(moto_aws)
    template = {"Resources": {"Fn": {"Type": "AWS::Serverless::Function", "Properties": {"CodeUri": "./x.zip"}}}}
    url = deployer.upload(_package(tmp_path, template))
    deployer.upload(_package(tmp_path, template))  # same content, new zip
    deployer.upload(_package(tmp_path, template, code=b"print('v2')\n"))
    bucket = deploy.artifact_bucket("123456789012", "eu-west-1")
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"])
    assert len([k for k in keys if "/code-" in k]) == 2 and len([k for k in keys if "/template-" in k]) == 2
    assert s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]["BlockPublicPolicy"]
    assert s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    sent = json.loads(s3.get_object(Bucket=bucket, Key=url.rsplit(".com/", 1)[1])["Body"].read())
    code_uri = sent["Resources"]["Fn"]["Properties"]["CodeUri"]
    assert code_uri["Bucket"] == bucket and code_uri["Key"] in keys


# -- CloudFormation's answers moto does not give (Stubber) -----------------------------------------------------------
def _stubbed() -> tuple[deploy.Deployer, Stubber]:
    cfn = boto3.client("cloudformation", region_name="eu-west-1")
    stubber = Stubber(cfn)
    return deploy.Deployer(cfn, boto3.client("s3", region_name="eu-west-1"), stack_name="fngate",
                           region="eu-west-1", account_id="123456789012", sleep=lambda _: None), stubber


def _existing(status: str) -> dict[str, Any]:
    return {"Stacks": [{"StackName": "fngate", "StackStatus": status, "CreationTime": "2026-11-27T00:00:00Z",
                        "Parameters": [{"ParameterKey": "EgressImageUri", "ParameterValue": "img:1"}],
                        "Outputs": [{"OutputKey": "GatewayUrl", "OutputValue": "https://x/api"}]}]}


def test_a_change_set_without_changes_is_deleted_and_reported_as_none() -> None:
    deployer, stub = _stubbed()
    stub.add_response("describe_stacks", _existing("UPDATE_COMPLETE"))
    stub.add_response("describe_stacks", _existing("UPDATE_COMPLETE"))
    stub.add_response("create_change_set", {"Id": "cs"})
    stub.add_response("describe_change_set", {"Status": "CREATE_PENDING", "Changes": []})
    stub.add_response("describe_change_set", {
        "Status": "FAILED", "Changes": [],
        "StatusReason": "The submitted information didn't contain changes. Submit different information to create a "
                        "change set."})
    stub.add_response("delete_change_set", {})
    stub.add_response("describe_stacks", _existing("UPDATE_COMPLETE"))
    stub.add_response("describe_stacks", _existing("UPDATE_COMPLETE"))
    with stub:
        result = deployer.deploy("https://b.s3.eu-west-1.amazonaws.com/t.json", {"GatewayUrl": "https://x/api"})
    assert not result.changed and result.outputs == {"GatewayUrl": "https://x/api"}
    stub.assert_no_pending_responses()


def test_an_update_keeps_the_previous_value_of_parameters_not_given() -> None:
    deployer, stub = _stubbed()
    stub.add_response("describe_stacks", _existing("UPDATE_COMPLETE"))
    stub.add_response("describe_stacks", _existing("UPDATE_COMPLETE"))
    stub.add_response("create_change_set", {"Id": "cs"}, {
        "StackName": "fngate", "ChangeSetName": stub_any(), "TemplateURL": "https://t", "ChangeSetType": "UPDATE",
        "Capabilities": deploy.CAPABILITIES, "Description": "fngate aws deploy",
        "Parameters": [{"ParameterKey": "GatewayUrl", "ParameterValue": "https://x/api"},
                       {"ParameterKey": "EgressImageUri", "UsePreviousValue": True}]})
    stub.add_client_error("describe_change_set", "ValidationError", "stop here")
    with stub, pytest.raises(boto3.exceptions.botocore.exceptions.ClientError, match="stop here"):
        deployer.deploy("https://t", {"GatewayUrl": "https://x/api"})
    stub.assert_no_pending_responses()


def stub_any() -> Any:
    from botocore.stub import ANY

    return ANY


def test_a_rolled_back_update_fails_with_the_first_failed_resource() -> None:
    deployer, stub = _stubbed()
    stub.add_response("describe_stacks", _existing("UPDATE_COMPLETE"))
    stub.add_response("describe_stacks", _existing("UPDATE_COMPLETE"))
    stub.add_response("create_change_set", {"Id": "cs"})
    stub.add_response("describe_change_set", {"Status": "CREATE_COMPLETE", "Changes": [
        {"Type": "Resource", "ResourceChange": {"Action": "Modify", "LogicalResourceId": "Table",
                                                "ResourceType": "AWS::DynamoDB::Table", "Replacement": "False"}}]})
    stub.add_response("execute_change_set", {})
    stub.add_response("describe_stacks", _existing("UPDATE_IN_PROGRESS"))
    stub.add_response("describe_stacks", _existing("UPDATE_ROLLBACK_COMPLETE"))
    stub.add_response("describe_stack_events", {"StackEvents": [
        {"StackId": "s", "EventId": "e", "StackName": "fngate", "Timestamp": "2026-11-27T00:00:00Z",
         "LogicalResourceId": "Table", "ResourceStatus": "UPDATE_FAILED", "ResourceStatusReason": "not allowed"}]})
    with stub, pytest.raises(deploy.DeployError, match="UPDATE_ROLLBACK_COMPLETE: Table: not allowed"):
        deployer.deploy("https://t")


def test_a_stack_that_failed_to_create_must_be_deleted_first() -> None:
    deployer, stub = _stubbed()
    stub.add_response("describe_stacks", _existing("ROLLBACK_COMPLETE"))
    with stub, pytest.raises(deploy.DeployError, match="must be deleted"):
        deployer.deploy("https://t")


def test_deploy_refuses_a_stack_name_its_lambda_names_cannot_hold(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["aws", "deploy", "--stack-name", "x" * 41]) == 2
    assert "at most 40 characters" in capsys.readouterr().err
