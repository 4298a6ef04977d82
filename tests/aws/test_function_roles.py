"""The per-account execution role of function Lambdas: its generated policy judged table-driven by a small IAM
evaluator (tests/aws/iam_eval.py, itself tested first), then its upkeep under moto's IAM."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from chalicelib.aws import names
from chalicelib.aws.function_roles import POLICY_NAME, FunctionRoles, permission_policy, trust_policy
from chalicelib.domain.errors import DeployFailed
from tests.aws.iam_eval import ALLOW, EXPLICIT_DENY, IMPLICIT_DENY, evaluate

PREFIX = names.FUNCTION_PREFIX
REGION, AWS_ACCOUNT = "us-east-1", "123456789012"
A, B = "le12345678", "le87654321"


def log_arn(account_id: str, function_uuid: str = "f-1", stream: str | None = "2026/11/27/[$LATEST]abc") -> str:
    group = names.function_log_group(names.function_lambda_name(PREFIX, account_id, function_uuid))
    arn = f"arn:aws:logs:{REGION}:{AWS_ACCOUNT}:log-group:{group}"
    return f"{arn}:log-stream:{stream}" if stream else arn


def lambda_arn(account_id: str) -> str:
    return f"arn:aws:lambda:{REGION}:{AWS_ACCOUNT}:function:{names.function_lambda_name(PREFIX, account_id, 'f-1')}"


TABLE = f"arn:aws:dynamodb:{REGION}:{AWS_ACCOUNT}:table/fngate"
KEY = f"arn:aws:kms:{REGION}:{AWS_ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"


# -- the evaluator itself --------------------------------------------------------------------------------------------
def test_evaluator_follows_deny_over_allow_wildcards_and_not_elements() -> None:
    allow_s3 = {"Statement": [{"Effect": "Allow", "Action": "s3:Get*", "Resource": "arn:aws:s3:::b/*"}]}
    assert evaluate([allow_s3], "s3:GetObject", "arn:aws:s3:::b/k") == ALLOW
    assert evaluate([allow_s3], "S3:getobject", "arn:aws:s3:::b/k") == ALLOW  # actions ignore case
    assert evaluate([allow_s3], "s3:GetObject", "arn:aws:s3:::B/k") == IMPLICIT_DENY  # resources do not
    assert evaluate([allow_s3], "s3:PutObject", "arn:aws:s3:::b/k") == IMPLICIT_DENY
    deny = {"Statement": [{"Effect": "Deny", "NotAction": "s3:GetObject", "Resource": "*"},
                          {"Effect": "Deny", "Action": "*", "NotResource": "arn:aws:s3:::b/public/*"}]}
    assert evaluate([allow_s3, deny], "s3:GetObjectAcl", "arn:aws:s3:::b/public/x") == EXPLICIT_DENY
    assert evaluate([allow_s3, deny], "s3:GetObject", "arn:aws:s3:::b/private") == EXPLICIT_DENY
    assert evaluate([allow_s3, deny], "s3:GetObject", "arn:aws:s3:::b/public/x") == ALLOW
    assert evaluate([allow_s3], "s3:GetObject", "arn:aws:s3:::b?k") == IMPLICIT_DENY


def test_evaluator_conditions_missing_keys_and_unknown_operators() -> None:
    policy = {"Statement": [{"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": "*", "Condition": {
        "StringEquals": {"dynamodb:LeadingKeys": ["a"]}}}]}
    assert evaluate([policy], "dynamodb:GetItem", TABLE, {"dynamodb:LeadingKeys": "a"}) == ALLOW
    assert evaluate([policy], "dynamodb:GetItem", TABLE, {"dynamodb:LeadingKeys": "b"}) == IMPLICIT_DENY
    assert evaluate([policy], "dynamodb:GetItem", TABLE) == IMPLICIT_DENY  # missing key fails a positive test
    negated = {"Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*",
                              "Condition": {"StringNotEquals": {"aws:RequestedRegion": REGION}}}]}
    assert evaluate([negated], "s3:GetObject", "*") == EXPLICIT_DENY  # missing key satisfies a negated one
    assert evaluate([negated], "s3:GetObject", "*", {"aws:RequestedRegion": REGION}) == IMPLICIT_DENY
    odd = {"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*",
                          "Condition": {"NumericLessThan": {"x": "1"}}}]}
    with pytest.raises(ValueError):
        evaluate([odd], "s3:GetObject", "*", {"x": "0"})


# -- account A's role, table-driven ---------------------------------------------------------------------------------
POLICY_A = permission_policy(PREFIX, A, REGION, AWS_ACCOUNT)
CASES: list[tuple[str, str, str, str]] = [
    # (why, action, resource, expected)
    ("writes its own function's log stream", "logs:PutLogEvents", log_arn(A), ALLOW),
    ("creates its own function's log stream", "logs:CreateLogStream", log_arn(A), ALLOW),
    ("creates its own function's log group", "logs:CreateLogGroup", log_arn(A, stream=None), ALLOW),
    ("another function of its account", "logs:PutLogEvents", log_arn(A, "f-2"), ALLOW),
    ("account B's log stream", "logs:PutLogEvents", log_arn(B), EXPLICIT_DENY),
    ("account B's log group", "logs:CreateLogGroup", log_arn(B, stream=None), EXPLICIT_DENY),
    ("reads account B's logs", "logs:FilterLogEvents", log_arn(B, stream=None), EXPLICIT_DENY),
    ("reads its own logs back", "logs:GetLogEvents", log_arn(A), EXPLICIT_DENY),
    ("deletes its own log group", "logs:DeleteLogGroup", log_arn(A, stream=None), EXPLICIT_DENY),
    ("the gateway's log group", "logs:PutLogEvents",
     f"arn:aws:logs:{REGION}:{AWS_ACCOUNT}:log-group:/aws/lambda/fngate-prod:log-stream:x", EXPLICIT_DENY),
    ("the DynamoDB store", "dynamodb:GetItem", TABLE, EXPLICIT_DENY),
    ("queries the store", "dynamodb:Query", TABLE, EXPLICIT_DENY),
    ("writes the store", "dynamodb:PutItem", TABLE, EXPLICIT_DENY),
    ("decrypts with the keyring", "kms:Decrypt", KEY, EXPLICIT_DENY),
    ("makes data keys", "kms:GenerateDataKey", KEY, EXPLICIT_DENY),
    ("Secrets Manager", "secretsmanager:GetSecretValue", "*", EXPLICIT_DENY),
    ("SSM parameters", "ssm:GetParameter", "*", EXPLICIT_DENY),
    ("invokes account B's Lambda", "lambda:InvokeFunction", lambda_arn(B), EXPLICIT_DENY),
    ("invokes its own Lambda", "lambda:InvokeFunction", lambda_arn(A), EXPLICIT_DENY),
    ("passes roles", "iam:PassRole", f"arn:aws:iam::{AWS_ACCOUNT}:role/fngate/functions/x", EXPLICIT_DENY),
    ("edits its own role", "iam:PutRolePolicy", f"arn:aws:iam::{AWS_ACCOUNT}:role/fngate/functions/x",
     EXPLICIT_DENY),
    ("assumes another role", "sts:AssumeRole", f"arn:aws:iam::{AWS_ACCOUNT}:role/admin", EXPLICIT_DENY),
    ("sends jobs", "sqs:SendMessage", f"arn:aws:sqs:{REGION}:{AWS_ACCOUNT}:fngate-jobs", EXPLICIT_DENY),
    ("pulls images", "ecr:BatchGetImage", "*", EXPLICIT_DENY),
    ("reads S3", "s3:GetObject", "arn:aws:s3:::any/x", EXPLICIT_DENY),
    ("creates its VPC interface", "ec2:CreateNetworkInterface", "*", ALLOW),
    ("deletes its VPC interface", "ec2:DeleteNetworkInterface", "*", ALLOW),
    ("opens security groups", "ec2:AuthorizeSecurityGroupEgress", "*", EXPLICIT_DENY),
    ("runs instances", "ec2:RunInstances", "*", EXPLICIT_DENY),
]


@pytest.mark.parametrize("why,action,resource,expected", CASES, ids=[c[0] for c in CASES])
def test_account_role_grants_its_own_logs_and_vpc_only(why: str, action: str, resource: str, expected: str) -> None:
    assert evaluate([POLICY_A], action, resource) == expected, why


def test_an_attached_admin_policy_cannot_widen_the_role() -> None:
    admin = {"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    assert evaluate([POLICY_A, admin], "dynamodb:GetItem", TABLE) == EXPLICIT_DENY
    assert evaluate([POLICY_A, admin], "logs:PutLogEvents", log_arn(B)) == EXPLICIT_DENY


def test_no_account_reaches_another_accounts_logs() -> None:
    accounts = [A, B, "le1", "le12", "le123456789", "a" * 64, "le12345678x", "x"]
    for mine in accounts:
        policy = permission_policy(PREFIX, mine, REGION, AWS_ACCOUNT)
        for other in accounts:
            expected = ALLOW if other == mine else EXPLICIT_DENY
            assert evaluate([policy], "logs:PutLogEvents", log_arn(other)) == expected, (mine, other)


def test_policies_fit_iam_size_limits_and_only_lambda_assumes() -> None:
    assert len(json.dumps(permission_policy(PREFIX, "a" * 64, REGION, AWS_ACCOUNT))) < 10_240  # inline role policy
    assert trust_policy()["Statement"] == [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                                            "Action": "sts:AssumeRole"}]


# -- upkeep under moto ------------------------------------------------------------------------------------------
@pytest.fixture
def iam() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("iam", region_name=REGION)


def test_ensure_creates_the_role_under_the_path_with_its_policy(iam: Any) -> None:
    roles = FunctionRoles(iam, region_name=REGION, aws_account=AWS_ACCOUNT)
    arn, created = roles.ensure(A)
    role = iam.get_role(RoleName=names.account_role_name(PREFIX, A))["Role"]
    assert created and arn == role["Arn"] and role["Path"] == names.ROLE_PATH
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "lambda.amazonaws.com"}
    assert {"Key": "fngate:account", "Value": A} in iam.list_role_tags(RoleName=role["RoleName"])["Tags"]
    stored = iam.get_role_policy(RoleName=role["RoleName"], PolicyName=POLICY_NAME)["PolicyDocument"]
    assert stored == permission_policy(PREFIX, A, REGION, AWS_ACCOUNT)
    assert iam.list_attached_role_policies(RoleName=role["RoleName"])["AttachedPolicies"] == []


def test_ensure_is_idempotent_and_rewrites_a_drifted_policy(iam: Any) -> None:
    first = FunctionRoles(iam, region_name=REGION, aws_account=AWS_ACCOUNT).ensure(A)
    name = names.account_role_name(PREFIX, A)
    iam.put_role_policy(RoleName=name, PolicyName=POLICY_NAME, PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
    again = FunctionRoles(iam, region_name=REGION, aws_account=AWS_ACCOUNT).ensure(A)  # another process
    assert again == (first[0], False)
    stored = iam.get_role_policy(RoleName=name, PolicyName=POLICY_NAME)["PolicyDocument"]
    assert stored == permission_policy(PREFIX, A, REGION, AWS_ACCOUNT)
    assert len(iam.list_roles(PathPrefix=names.ROLE_PATH)["Roles"]) == 1


def test_each_account_gets_its_own_role(iam: Any) -> None:
    roles = FunctionRoles(iam, region_name=REGION, aws_account=AWS_ACCOUNT)
    assert roles.ensure(A)[0] != roles.ensure(B)[0]
    assert {r["RoleName"] for r in iam.list_roles(PathPrefix=names.ROLE_PATH)["Roles"]} == {
        names.account_role_name(PREFIX, A), names.account_role_name(PREFIX, B)}


def test_a_role_of_that_name_outside_the_path_is_not_used(iam: Any) -> None:
    iam.create_role(RoleName=names.account_role_name(PREFIX, A), AssumeRolePolicyDocument=json.dumps(trust_policy()))
    with pytest.raises(DeployFailed, match="outside"):
        FunctionRoles(iam, region_name=REGION, aws_account=AWS_ACCOUNT).ensure(A)


def test_delete_removes_role_and_policy_and_tolerates_absence(iam: Any) -> None:
    roles = FunctionRoles(iam, region_name=REGION, aws_account=AWS_ACCOUNT)
    roles.ensure(A)
    roles.delete(A)
    roles.delete(A)
    assert iam.list_roles(PathPrefix=names.ROLE_PATH)["Roles"] == []
