"""LambdaExecutor's tenant isolation on moto: each account's Lambdas under that account's own role (IAM's delay
for a new role waited out, bounded), in the configured subnets, each invocation carrying a token scoped to its
account and function that expires with the invocation; nothing of the sort without the settings."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from chalicelib.aws import names
from chalicelib.aws.function_roles import FunctionRoles
from chalicelib.crypto.tokens import KeySet, TokenSigner
from chalicelib.domain.errors import BuildFailed, DeployFailed
from chalicelib.runtime.aws_lambda import LAMBDA_GRACE_S, LambdaExecutor, ToolbeltAccess
from chalicelib.runtime.base import Target
from chalicelib.runtime.deps import BuildLimits
from chalicelib.services.toolbelt_host import route_path
from tests.aws.test_lambda_executor import IMAGE, PY_CODE, Recording, queue

REGION = "us-east-1"
A, B = "le12345678", "le87654321"
FN = "4a1c9d3e-0000-4000-8000-000000000001"
CANNOT_ASSUME = "The role defined for the function cannot be assumed by Lambda."


def target(account: str = A, **kw: Any) -> Target:
    return Target(account_id=account, function_uuid=FN, manifest_version=1, runtime="python3.11", code=PY_CODE,
                  function_name="f", **kw)


class FreshRoleLag(Recording):
    """moto's client, but CreateFunction refuses a role for the first ``lag`` calls, as IAM does for a new one."""

    def __init__(self, client: Any, lag: int) -> None:
        super().__init__(client)
        self.lag = lag

    def __getattr__(self, name: str) -> Any:
        call = super().__getattr__(name)
        if name != "create_function":
            return call

        def create(**params: Any) -> Any:
            if self.lag > 0:
                self.lag -= 1
                raise ClientError({"Error": {"Code": "InvalidParameterValueException", "Message": CANNOT_ASSUME}},
                                  "CreateFunction")
            return call(**params)

        return create


@pytest.fixture
def aws() -> Iterator[dict[str, Any]]:
    with mock_aws(config={"lambda": {"use_docker": False}}):
        yield {"lambda": boto3.client("lambda", region_name=REGION), "iam": boto3.client("iam", region_name=REGION)}


def executor(aws: dict[str, Any], client: Any = None, sleeps: list[float] | None = None,
             **kw: Any) -> LambdaExecutor:
    roles = FunctionRoles(aws["iam"], region_name=REGION, aws_account="123456789012")
    return LambdaExecutor(client or aws["lambda"], roles=roles, image_uri=IMAGE, verify=False,
                          sleep=(sleeps if sleeps is not None else []).append, **kw)


def test_each_accounts_lambdas_run_under_its_own_role(aws: dict[str, Any]) -> None:
    ex = executor(aws)
    ex.deploy(target(A))
    ex.deploy(target(B))
    role_of = {acc: aws["lambda"].get_function_configuration(FunctionName=ex.function_name(acc, FN))["Role"]
               for acc in (A, B)}
    assert role_of[A] != role_of[B]
    for acc in (A, B):
        role = aws["iam"].get_role(RoleName=names.account_role_name(names.FUNCTION_PREFIX, acc))["Role"]
        assert role_of[acc] == role["Arn"] and role["Path"] == names.ROLE_PATH


def test_a_new_role_is_waited_for_then_the_function_created(aws: dict[str, Any]) -> None:
    sleeps: list[float] = []
    ex = executor(aws, FreshRoleLag(aws["lambda"], lag=2), sleeps)
    ex.deploy(target())
    assert aws["lambda"].get_function_configuration(FunctionName=ex.function_name(A, FN))["PackageType"] == "Image"
    assert len(sleeps) >= 2


def test_the_wait_for_a_new_role_is_bounded(aws: dict[str, Any]) -> None:
    ex = executor(aws, FreshRoleLag(aws["lambda"], lag=1000), role_wait_s=5)
    with pytest.raises(DeployFailed, match="cannot be assumed"):
        ex.deploy(target())


def test_an_existing_role_is_not_retried(aws: dict[str, Any]) -> None:
    FunctionRoles(aws["iam"], region_name=REGION).ensure(A)  # made by an earlier gateway process
    sleeps: list[float] = []
    with pytest.raises(DeployFailed, match="cannot be assumed"):
        executor(aws, FreshRoleLag(aws["lambda"], lag=1), sleeps).deploy(target())
    assert sleeps == []


def test_lambdas_are_placed_in_the_configured_subnets(aws: dict[str, Any]) -> None:
    ec2 = boto3.client("ec2", region_name=REGION)
    vpc = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    subnets = tuple(ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.1.{i}.0/24")["Subnet"]["SubnetId"] for i in (1, 2))
    group = ec2.create_security_group(GroupName="fn", Description="egress proxy only", VpcId=vpc)["GroupId"]
    ex = executor(aws, subnet_ids=subnets, security_group_ids=(group,))
    ex.deploy(target())
    ex.deploy(target())  # the update path sets them too
    vpc_config = aws["lambda"].get_function_configuration(FunctionName=ex.function_name(A, FN))["VpcConfig"]
    assert sorted(vpc_config["SubnetIds"]) == sorted(subnets) and vpc_config["SecurityGroupIds"] == [group]


def test_each_invocation_carries_a_token_for_its_account_and_function_only(aws: dict[str, Any]) -> None:
    signer = TokenSigner(KeySet({"k1": b"\x01" * 32}, "k1"))
    minted: list[tuple[str, str, int]] = []

    def mint(account: str, fn: str, ttl: int) -> str:
        minted.append((account, fn, ttl))
        return signer.sign({"iss": "fngate", "typ": "function", "aud": account, "sub": fn}, ttl)

    access = ToolbeltAccess(mint=mint, route=route_path, gateway_url="https://gw.example.test/",
                            egress_proxy_url="http://egress.internal:3128")
    recording = Recording(aws["lambda"])
    ex = executor(aws, recording, access=access, timeout_s=20)
    ex.deploy(target())
    queue({"op": "result", "ok": True, "result": 1, "logs": []})
    ex.invoke(target(), {"payload": 1}, timeout_s=7)
    (_, event), = [p for p in recording.payloads() if p[1]["op"] == "invoke"]
    token = event["toolbelt"]["token"]
    assert event["toolbelt"]["url"] == f"https://gw.example.test/api/account/{A}/functions/{FN}/toolbelt"
    assert event["egress"] == {"proxy": "http://egress.internal:3128", "token": token}
    claims = signer.verify(token)
    assert (claims["aud"], claims["sub"]) == (A, FN)
    assert minted == [(A, FN, 7 + LAMBDA_GRACE_S + 1)]  # expires with this invocation's own limit


def test_without_gateway_or_proxy_settings_events_carry_no_token(aws: dict[str, Any]) -> None:
    access = ToolbeltAccess(mint=lambda *a: pytest.fail("no token should be minted"), route=route_path)
    recording = Recording(aws["lambda"])
    ex = executor(aws, recording, access=access)
    ex.deploy(target())
    queue({"op": "result", "ok": True, "result": 1, "logs": []})
    ex.invoke(target(), {"payload": 1})
    event = json.loads(recording.calls[-1][1]["Payload"])
    assert "toolbelt" not in event and "egress" not in event


def test_dependencies_need_the_image_and_valid_names(aws: dict[str, Any]) -> None:
    zip_mode = LambdaExecutor(aws["lambda"], role_arn="arn:aws:iam::123456789012:role/x", verify=False)
    with pytest.raises(BuildFailed, match="container image"):
        zip_mode.build(target(dependencies=(("six", "1.17.0"),)))
    with pytest.raises(BuildFailed, match="Invalid dependency"):
        executor(aws).build(target(dependencies=(("six; rm -rf /", "1"),)))
    assert executor(aws).build(target()) == ""


def test_a_function_with_dependencies_gets_time_to_install_them_before_its_own_limit(aws: dict[str, Any]) -> None:
    ex = executor(aws, timeout_s=30, build_limits=BuildLimits(timeout_s=120))
    ex.deploy(target())
    ex.deploy(target(account=B, dependencies=(("six", "1.17.0"),), build_key="python-" + "0" * 40))
    timeout_of = {acc: aws["lambda"].get_function_configuration(FunctionName=ex.function_name(acc, FN))["Timeout"]
                  for acc in (A, B)}
    assert timeout_of == {A: 30 + LAMBDA_GRACE_S, B: 30 + LAMBDA_GRACE_S + 120}
