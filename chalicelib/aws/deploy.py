"""`fngate aws deploy`: the packaged stack to CloudFormation through a change set, idempotently.

Why a change set rather than create/update_stack: it shows what will change before anything does, and a template
that changes nothing is recognised as such (the change set is deleted and nothing runs). Idempotency also needs the
code's S3 key to change only with the code: the key is a digest of the zip's file names and contents, not of the
zip (chalice's zips carry build times). Credentials come from boto3's standard chain only.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chalicelib.aws.stack import Package, with_code

CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"]  # roles without names; the SAM transform
_NO_CHANGES = ("didn't contain changes", "No updates are to be performed")
_DONE = {"CREATE_COMPLETE", "UPDATE_COMPLETE", "IMPORT_COMPLETE"}
_FAILED_SUFFIXES = ("_FAILED", "ROLLBACK_COMPLETE")


class DeployError(Exception):
    """CloudFormation refused or rolled back the change (the message carries its reason)."""


@dataclass(frozen=True)
class Result:
    stack: str
    changed: bool
    changes: list[dict[str, str]] = field(default_factory=list)  # {action, type, logicalId, replacement}
    outputs: dict[str, str] = field(default_factory=dict)
    status: str = ""


def code_digest(zip_path: Path) -> str:
    """The zip's content, independent of its timestamps: the same code gives the same S3 key."""
    digest = hashlib.sha256()
    with zipfile.ZipFile(zip_path) as z:
        for name in sorted(z.namelist()):
            digest.update(name.encode() + b"\0" + z.read(name) + b"\0")
    return digest.hexdigest()[:32]


def artifact_bucket(account_id: str, region: str) -> str:
    return f"fngate-artifacts-{account_id}-{region}"


class Deployer:
    def __init__(self, cloudformation: Any, s3: Any, *, stack_name: str, region: str, account_id: str,
                 sleep: Callable[[float], None] = time.sleep, poll_s: float = 5.0, timeout_s: float = 3600.0,
                 progress: Callable[[str], None] = lambda _: None) -> None:
        self._cfn, self._s3, self._stack, self._region = cloudformation, s3, stack_name, region
        self._bucket = artifact_bucket(account_id, region)
        self._sleep, self._poll_s, self._timeout_s, self._say = sleep, poll_s, timeout_s, progress

    # -- artifacts ---------------------------------------------------------------------------------------------------
    def ensure_bucket(self) -> str:
        """The account's artifact bucket: private, encrypted; created once."""
        try:
            self._s3.head_bucket(Bucket=self._bucket)
            return self._bucket
        except self._s3.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchBucket", "NotFound"):
                raise
        extra = {} if self._region == "us-east-1" else {
            "CreateBucketConfiguration": {"LocationConstraint": self._region}}
        self._s3.create_bucket(Bucket=self._bucket, **extra)
        self._s3.put_public_access_block(Bucket=self._bucket, PublicAccessBlockConfiguration={
            "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True})
        self._s3.put_bucket_encryption(Bucket=self._bucket, ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
        self._say(f"created artifact bucket {self._bucket}")
        return self._bucket

    def _upload(self, key: str, body: bytes) -> None:
        try:
            self._s3.head_object(Bucket=self._bucket, Key=key)
        except self._s3.exceptions.ClientError:
            self._s3.put_object(Bucket=self._bucket, Key=key, Body=body)
            self._say(f"uploaded s3://{self._bucket}/{key} ({len(body):,} bytes)")

    def upload(self, package: Package) -> str:
        """Code and template to the bucket (each under its digest, so unchanged ones are not sent); the template URL."""
        self.ensure_bucket()
        code_key = f"{self._stack}/code-{code_digest(package.zip_path)}.zip"
        self._upload(code_key, package.zip_path.read_bytes())
        body = json.dumps(with_code(package.template, self._bucket, code_key), sort_keys=True).encode()
        template_key = f"{self._stack}/template-{hashlib.sha256(body).hexdigest()[:32]}.json"
        self._upload(template_key, body)
        return f"https://{self._bucket}.s3.{self._region}.amazonaws.com/{template_key}"

    # -- the change set ----------------------------------------------------------------------------------------------
    def _stack_status(self) -> str | None:
        try:
            stacks = self._cfn.describe_stacks(StackName=self._stack)["Stacks"]
        except self._cfn.exceptions.ClientError as exc:
            if "does not exist" in str(exc):
                return None
            raise
        return str(stacks[0]["StackStatus"]) if stacks else None

    def deploy(self, template_url: str, parameters: dict[str, str] | None = None) -> Result:
        """Create or update the stack from ``template_url``; nothing happens when nothing changes."""
        status = self._stack_status()
        if status == "ROLLBACK_COMPLETE":
            raise DeployError(f"stack {self._stack} failed to create and must be deleted before deploying again")
        kind = "CREATE" if status in (None, "REVIEW_IN_PROGRESS") else "UPDATE"
        params = self._parameters(parameters or {}, kind)
        name = f"fngate-{uuid.uuid4().hex[:12]}"
        self._cfn.create_change_set(StackName=self._stack, ChangeSetName=name, TemplateURL=template_url,
                                    Parameters=params, Capabilities=CAPABILITIES, ChangeSetType=kind,
                                    Description="fngate aws deploy")
        described = self._wait_change_set(name)
        changes = [_change(c) for c in described.get("Changes", [])]
        if described["Status"] == "FAILED" or not changes:
            reason = str(described.get("StatusReason", ""))
            self._cfn.delete_change_set(StackName=self._stack, ChangeSetName=name)
            if described["Status"] == "FAILED" and not any(s in reason for s in _NO_CHANGES):
                raise DeployError(f"change set failed: {reason}")
            self._say("no changes")
            return Result(self._stack, False, [], self._outputs(), status or "")
        for change in changes:
            self._say(f"{change['action']:<7} {change['type']:<40} {change['logicalId']}")
        self._cfn.execute_change_set(StackName=self._stack, ChangeSetName=name)
        final = self._wait_stack()
        return Result(self._stack, True, changes, self._outputs(), final)

    def _parameters(self, given: dict[str, str], kind: str) -> list[dict[str, Any]]:
        """Given values; on an update, every other parameter the stack has keeps its previous value."""
        params: list[dict[str, Any]] = [{"ParameterKey": k, "ParameterValue": v} for k, v in sorted(given.items())]
        if kind == "UPDATE":
            stack = self._cfn.describe_stacks(StackName=self._stack)["Stacks"][0]
            params += [{"ParameterKey": p["ParameterKey"], "UsePreviousValue": True}
                       for p in stack.get("Parameters", []) if p["ParameterKey"] not in given]
        return params

    def _wait_change_set(self, name: str) -> dict[str, Any]:
        deadline = time.monotonic() + self._timeout_s
        while True:
            described: dict[str, Any] = self._cfn.describe_change_set(StackName=self._stack, ChangeSetName=name)
            if described["Status"] in ("CREATE_COMPLETE", "FAILED"):
                return described
            if time.monotonic() > deadline:
                raise DeployError(f"change set {name} still {described['Status']} after {self._timeout_s:.0f} s")
            self._sleep(self._poll_s)

    def _wait_stack(self) -> str:
        deadline = time.monotonic() + self._timeout_s
        while True:
            status = self._stack_status() or "DELETED"
            if status in _DONE:
                return status
            if status.endswith(_FAILED_SUFFIXES) or status == "DELETED":
                raise DeployError(f"stack {self._stack} ended {status}: {self._first_failure()}")
            if time.monotonic() > deadline:
                raise DeployError(f"stack {self._stack} still {status} after {self._timeout_s:.0f} s")
            self._sleep(self._poll_s)

    def _first_failure(self) -> str:
        events = self._cfn.describe_stack_events(StackName=self._stack).get("StackEvents", [])
        failed = [e for e in events if str(e.get("ResourceStatus", "")).endswith("_FAILED")]
        last = failed[-1] if failed else {}
        return f"{last.get('LogicalResourceId', '?')}: {last.get('ResourceStatusReason', 'no reason given')}"

    def _outputs(self) -> dict[str, str]:
        if self._stack_status() is None:
            return {}
        stack = self._cfn.describe_stacks(StackName=self._stack)["Stacks"][0]
        return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def _change(change: dict[str, Any]) -> dict[str, str]:
    rc = change.get("ResourceChange", {})
    return {"action": str(rc.get("Action", "")), "type": str(rc.get("ResourceType", "")),
            "logicalId": str(rc.get("LogicalResourceId", "")), "replacement": str(rc.get("Replacement", ""))}


def connect(stack_name: str, region: str | None, **kwargs: Any) -> Deployer:
    """A Deployer on boto3's standard credential chain (environment, profile, SSO, instance/container role)."""
    import boto3

    session = boto3.session.Session(region_name=region)
    if not session.region_name:
        raise DeployError("no AWS region: pass --region or set AWS_REGION / AWS_DEFAULT_REGION")
    account = session.client("sts").get_caller_identity()["Account"]
    return Deployer(session.client("cloudformation"), session.client("s3"), stack_name=stack_name,
                    region=session.region_name, account_id=account, **kwargs)
