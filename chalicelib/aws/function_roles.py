"""Each account's execution role for its function Lambdas: the policy documents, made here, and their upkeep.

Why one role per account (not one for all functions): a function can read its own Lambda's credentials (same uid
as the shim, /proc/<pid>/environ), so whatever the role grants, the function's code holds. The role therefore
grants only what the Lambda service needs to run it — write its own account's log groups (names from
chalicelib.aws.names, which carry the account key), manage the VPC network interfaces — and an explicit Deny of
everything else, so a policy attached by mistake cannot widen it. No DynamoDB, no KMS, no secrets: the Toolbelt
reaches those through the gateway with a per-invocation token (api/toolbelt.py), never with AWS credentials.

The executor calls ``FunctionRoles.ensure(account_id)`` at deploy: GetRole, and CreateRole + TagRole when it is
missing, then PutRolePolicy (idempotent, so a changed document here reaches every role on its next deploy). The
gateway's own role may do exactly these calls under ``names.ROLE_PATH`` (20a's template).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

from chalicelib.aws import names
from chalicelib.domain.errors import DeployFailed, Unavailable

POLICY_NAME = "fngate-function"
VERSION = "2012-10-17"
LOG_ACTIONS = ("logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents")
ENI_ACTIONS = ("ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets",
               "ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses")
TAG_ACCOUNT = "fngate:account"


def trust_policy() -> dict[str, Any]:
    """Only the Lambda service may assume the role."""
    return {"Version": VERSION, "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}


def log_group_arns(prefix: str, account_id: str, region: str = "*", aws_account: str = "*") -> list[str]:
    """The account's function log groups (and their streams): ``/aws/lambda/<prefix><account key>-*``."""
    group = names.function_log_group(names.account_scope(prefix, account_id)) + "*"
    base = f"arn:aws:logs:{region}:{aws_account}:log-group:{group}"
    return [base, base + ":*"]


def permission_policy(prefix: str, account_id: str, region: str = "*", aws_account: str = "*") -> dict[str, Any]:
    """Logs of this account's functions, VPC interfaces, and an explicit Deny of anything else."""
    logs = log_group_arns(prefix, account_id, region, aws_account)
    return {"Version": VERSION, "Statement": [
        {"Sid": "OwnLogs", "Effect": "Allow", "Action": list(LOG_ACTIONS), "Resource": logs},
        {"Sid": "VpcInterfaces", "Effect": "Allow", "Action": list(ENI_ACTIONS), "Resource": "*"},
        {"Sid": "NothingElse", "Effect": "Deny", "NotAction": [*LOG_ACTIONS, *ENI_ACTIONS], "Resource": "*"},
        {"Sid": "NoOtherLogs", "Effect": "Deny", "Action": "logs:*", "NotResource": logs},
    ]}


def role_arn(aws_account: str, prefix: str, account_id: str) -> str:
    return f"arn:aws:iam::{aws_account}:role{names.ROLE_PATH}{names.account_role_name(prefix, account_id)}"


class FunctionRoles:
    """Creates or updates an account's role; remembers the ones done by this process (one IAM round per account)."""

    def __init__(self, client: Any = None, *, prefix: str = names.FUNCTION_PREFIX, region_name: str | None = None,
                 aws_account: str = "", sleep: Callable[[float], None] = time.sleep) -> None:
        names.check_prefix(prefix)
        self._client, self._prefix, self._region, self._aws_account = client, prefix, region_name, aws_account
        self._sleep = sleep
        self._done: dict[str, tuple[str, bool]] = {}  # account id → (role ARN, created by this process)
        self._lock = threading.Lock()

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3

            self._client = boto3.client("iam", region_name=self._region)
        return self._client

    def role_name(self, account_id: str) -> str:
        return names.account_role_name(self._prefix, account_id)

    def policy(self, account_id: str) -> dict[str, Any]:
        return permission_policy(self._prefix, account_id, self._region or "*", self._aws_account_id())

    def _aws_account_id(self) -> str:
        """The AWS account the roles live in (STS, once), for exact log ARNs; "*" if STS cannot say (the role
        can act in its own AWS account only anyway)."""
        if not self._aws_account:
            import boto3
            from botocore.exceptions import BotoCoreError, ClientError

            try:
                identity = boto3.client("sts", region_name=self._region).get_caller_identity()
                self._aws_account = str(identity["Account"])
            except (BotoCoreError, ClientError):
                return "*"
        return self._aws_account

    def ensure(self, account_id: str) -> tuple[str, bool]:
        """(the role's ARN, whether it was created just now — Lambda may not accept a new role for a few seconds)."""
        with self._lock:
            done = self._done.get(account_id)
        if done is not None:
            return done[0], False
        name, client_error = self.role_name(account_id), _client_error()
        try:
            arn, created = self._get_or_create(name, account_id)
            _put_policy(self.client, name, self.policy(account_id))
        except client_error as err:
            raise _translated(err, name) from None
        with self._lock:
            self._done[account_id] = (arn, created)
        return arn, created

    def delete(self, account_id: str) -> None:
        """Remove the account's role and its policy; fine if already gone (the account's Lambdas must be gone)."""
        name, client_error = self.role_name(account_id), _client_error()
        for call in (lambda: self.client.delete_role_policy(RoleName=name, PolicyName=POLICY_NAME),
                     lambda: self.client.delete_role(RoleName=name)):
            try:
                call()
            except client_error as err:
                if _code(err) != "NoSuchEntity":
                    raise _translated(err, name) from None
        with self._lock:
            self._done.pop(account_id, None)

    def _get_or_create(self, name: str, account_id: str) -> tuple[str, bool]:
        client_error = _client_error()
        try:
            role = self.client.get_role(RoleName=name)["Role"]
        except client_error as err:
            if _code(err) != "NoSuchEntity":
                raise
        else:
            if role.get("Path") != names.ROLE_PATH:
                raise DeployFailed(detail=f"IAM role {name} exists outside {names.ROLE_PATH}; fngate will not use it")
            return str(role["Arn"]), False
        try:
            role = self.client.create_role(
                Path=names.ROLE_PATH, RoleName=name, AssumeRolePolicyDocument=json.dumps(trust_policy()),
                Description=f"fngate functions of account {account_id}"[:1000], MaxSessionDuration=3600,
                Tags=[{"Key": TAG_ACCOUNT, "Value": account_id}])["Role"]
            return str(role["Arn"]), True
        except client_error as err:
            if _code(err) != "EntityAlreadyExists":  # another gateway process made it: use theirs
                raise
            return str(self.client.get_role(RoleName=name)["Role"]["Arn"]), False


def _put_policy(client: Any, name: str, policy: dict[str, Any]) -> None:
    client.put_role_policy(RoleName=name, PolicyName=POLICY_NAME, PolicyDocument=json.dumps(policy))


def _client_error() -> type[Exception]:
    from botocore.exceptions import ClientError

    return ClientError  # type: ignore[no-any-return]


def _code(err: Any) -> str:
    return str(err.response.get("Error", {}).get("Code", ""))


def _translated(err: Any, name: str) -> Exception:
    code, message = _code(err), err.response.get("Error", {}).get("Message", "")
    if code in ("AccessDenied", "AccessDeniedException", "MalformedPolicyDocument", "LimitExceeded"):
        return DeployFailed(detail=f"IAM refused to prepare role {name}: {code}: {message}")
    return Unavailable(detail=f"IAM failed on role {name}: {code}: {message}")
