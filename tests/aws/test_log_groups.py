"""Function log groups: made by the deploy with the stack's retention, idempotent, errors in the domain's terms."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from chalicelib.aws import names
from chalicelib.aws.log_groups import RETENTION_DAYS, FunctionLogGroups
from chalicelib.domain.errors import DeployFailed

REGION = "us-east-1"


def _retention(client, group: str) -> int | None:
    (found,) = client.describe_log_groups(logGroupNamePrefix=group)["logGroups"]
    return found.get("retentionInDays")


def test_a_new_group_gets_the_retention_and_a_second_call_changes_nothing() -> None:
    with mock_aws():
        client = boto3.client("logs", region_name=REGION)
        name = names.function_lambda_name(names.FUNCTION_PREFIX, "le1", "uuid-1")
        group = FunctionLogGroups(client).ensure(name)
        assert group == names.function_log_group(name) and _retention(client, group) == RETENTION_DAYS
        assert FunctionLogGroups(client).ensure(name) == group  # another process: already there, fine
        assert len(client.describe_log_groups(logGroupNamePrefix=group)["logGroups"]) == 1


def test_a_group_lambda_made_without_expiry_gets_one() -> None:
    with mock_aws():
        client = boto3.client("logs", region_name=REGION)
        name = names.function_lambda_name(names.FUNCTION_PREFIX, "le1", "uuid-2")
        client.create_log_group(logGroupName=names.function_log_group(name))  # as Lambda's first write does
        assert _retention(client, names.function_log_group(name)) is None
        FunctionLogGroups(client).ensure(name)
        assert _retention(client, names.function_log_group(name)) == RETENTION_DAYS


def test_a_refusal_is_a_deploy_failure_naming_the_group() -> None:
    from botocore.stub import Stubber

    client = boto3.client("logs", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(client) as stub:
        stub.add_client_error("create_log_group", service_error_code="AccessDeniedException", http_status_code=400)
        with pytest.raises(DeployFailed, match="/aws/lambda/fngate-fn-"):
            FunctionLogGroups(client).ensure(names.function_lambda_name(names.FUNCTION_PREFIX, "le1", "u"))
