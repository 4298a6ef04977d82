"""LambdaExecutor: one AWS Lambda per function, running the same worker code as the local executor.

Each function becomes a Lambda named ``prefix + account key + '-' + digest`` (chalicelib.aws.names) whose handler
is the runtime shim (lambda_shim/handler.py, which starts local/worker_python.py or local/worker_node.js once per
container and relays each invocation over their pipe protocol), so the programming model and its error kinds are
the local ones. A deploy updates code and configuration, waits until Lambda has applied them, publishes a version,
checks on that version that the code loads (BuildFailed otherwise, with the alias left where it was), then points
the alias ``live`` at it and deletes versions older than the one it replaced. Invocations go to ``live``.

Packaging — two modes:

* container image (``image_uri``; the production choice): one image for every function holding python3.11, node
  and the shim with ``local/`` beside it (and optionally the toolbelts, via FNGATE_TOOLBELT_*_PATH in the image).
  An image cannot hold per-function code, so the executor sends the bundle (code, env, limits) with each event;
* zip (the default ``package_builder``): the shim, the worker scripts and the bundle on the python3.11 runtime.
  That runtime has no ``node`` binary, so deploying a Node function without ``image_uri`` raises DeployFailed
  (no Node layer is attached: the image already carries node, and one artefact is easier to keep patched).

Dependencies (image only): ``build`` has the function's own Lambda install them once (op ``build``) and returns the
lock key it reports; every bundle carries the declaration and that key, and each new container installs the same
lock into its /tmp before loading the code (lambda_shim/packages.py says why, and what it costs).

The function sees its own environment variables plus the runtime ids (X_LIVEPERSON_*), carried in the bundle
(Lambda's 4 KB environment cannot hold 512 variables); nothing of the gateway's reaches it. Errors: the shim's
``kind`` → FUNCTION_FAILURES; a shim crash → RuntimeException, Lambda's "Task timed out" → ExecutionTimeExceeded;
throttling → TooManyRequests(retry_after=1); no function/alias → LambdaNotDeployed (an Unavailable); other AWS
errors → Unavailable.

Tenant isolation: each account's Lambdas run under that account's own execution role (``roles``:
chalicelib.aws.function_roles, created or updated at deploy; a fixed ``role_arn`` is the single-role fallback), in
private subnets (``subnet_ids``/``security_group_ids``) whose only way out is the egress proxy. The Toolbelt and
egress (``access``): each invocation carries a token minted for this account and function that expires with the
invocation's limit; the shim answers its worker's RPCs by calling the gateway's Toolbelt route with it, and hands
it to the egress proxy as the function's proxy password (see the shim's docstring).
"""

from __future__ import annotations

import io
import json
import logging
import random
import threading
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chalicelib.aws import names
from chalicelib.domain.errors import (
    BuildFailed,
    DeployFailed,
    ExecutionTimeExceeded,
    FngateError,
    RuntimeException,
    TooManyRequests,
    Unavailable,
)
from chalicelib.domain.limits import LOG_CHARS_MAX, LOG_ENTRIES_MAX
from chalicelib.domain.runtimes import find_runtime
from chalicelib.domain.validation import validate_dependencies
from chalicelib.runtime.base import Outcome, Target, outcome_from_result
from chalicelib.runtime.deps import BuildLimits
from chalicelib.runtime.lambda_shim.bundle import package_files

if TYPE_CHECKING:
    from chalicelib.aws.function_roles import FunctionRoles
    from chalicelib.aws.log_groups import FunctionLogGroups

log = logging.getLogger("fngate.runtime.aws_lambda")

ALIAS = "live"
SHIM_HANDLER = "lambda_shim.handler.handle"
ZIP_RUNTIME = "python3.11"
LAMBDA_GRACE_S = 5  # the Lambda outlives the worker's own timer, so the shim can answer the timeout with logs
LAMBDA_TIMEOUT_MAX_S = 900  # Lambda's own ceiling
HERE = Path(__file__).resolve().parent
SHIM_FILES = ("lambda_shim/__init__.py", "lambda_shim/handler.py", "lambda_shim/outbound.py",
              "lambda_shim/packages.py", "lambda_shim/bundle.py", "egress_relay.py")
WORKER_FILES = ("local/protocol.py", "local/worker_python.py", "local/worker_python_logs.py", "local/worker_node.js")
RETRYABLE = frozenset({"ResourceConflictException", "TooManyRequestsException", "ThrottlingException",
                       "ServiceException", "ResourceNotReadyException"})
REJECTED = frozenset({"InvalidParameterValueException", "InvalidRequestContentException", "RequestTooLargeException",
                      "CodeStorageExceededException", "CodeVerificationFailedException"})
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # fixed: the same target always builds the same bytes (and CodeSha256)


@dataclass(frozen=True)
class ToolbeltAccess:
    """How a function's Lambda reaches its gateway and the network: both need the per-invocation token."""

    mint: Callable[[str, str, int], str]  # (account id, function uuid, ttl s) → token
    route: Callable[[str, str], str]  # (account id, function uuid) → the Toolbelt route's path
    gateway_url: str = ""  # the API's public base URL; "" = no Toolbelt in Lambda (RPCs answer "unavailable")
    egress_proxy_url: str = ""  # http://host:3128; "" = the function has no way out at all

    def event_fields(self, account_id: str, function_uuid: str, ttl_s: int) -> dict[str, Any]:
        if not (self.gateway_url or self.egress_proxy_url):
            return {}
        token = self.mint(account_id, function_uuid, ttl_s)
        fields: dict[str, Any] = {}
        if self.gateway_url:
            fields["toolbelt"] = {"url": self.gateway_url.rstrip("/") + self.route(account_id, function_uuid),
                                  "token": token}
        if self.egress_proxy_url:
            fields["egress"] = {"proxy": self.egress_proxy_url, "token": token}
        return fields


class LambdaNotDeployed(Unavailable):
    """Lambda has no function (or no ``live`` alias) for this function: it was never deployed there, or deleted."""


# -- packaging --------------------------------------------------------------------------------------------------------
def lambda_name(prefix: str, account_id: str, function_uuid: str) -> str:
    """The function's Lambda (chalicelib.aws.names says why names carry the account)."""
    return names.function_lambda_name(prefix, account_id, function_uuid)


def make_bundle(target: Target, language: str, csds_domain: str = "",
                build_limits: BuildLimits | None = None) -> dict[str, Any]:
    """What the shim hands its worker: the code, the function's own env plus the runtime ids, the log caps, and
    the dependencies the container installs (declared, the lock key of the deploy, the operator's rules)."""
    env = {**target.environment, "X_LIVEPERSON_BRAND_ID": target.account_id,
           "X_LIVEPERSON_PROJECT_ID": target.account_id, "X_LIVEPERSON_FUNCTION_UUID": target.function_uuid}
    if csds_domain:
        env["X_LIVEPERSON_CSDS_DOMAIN"] = csds_domain
    bundle = {"runtime": target.runtime, "language": language, "code": target.code, "env": env,
              "limits": {"log_entries": LOG_ENTRIES_MAX, "log_chars": LOG_CHARS_MAX}}
    if target.dependencies:
        limits = build_limits or BuildLimits()
        bundle["deps"] = {"declared": dict(target.dependencies), "key": target.build_key, "limits": {
            "max_bytes": limits.max_bytes, "timeout_s": limits.timeout_s, "allow": list(limits.allow),
            "deny": list(limits.deny)}}
    return bundle


def build_zip(bundle: dict[str, Any]) -> bytes:
    """The zip package: lambda_shim/, local/ (worker scripts + protocol.py), runtime.json and the function file."""
    files = {name: (HERE / name).read_bytes() for name in (*SHIM_FILES, *WORKER_FILES)}
    files.update(package_files(bundle))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, _ZIP_DATE)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, files[name])
    return buffer.getvalue()


# -- the boto3 edge ---------------------------------------------------------------------------------------------------
class LambdaApi:
    """The few Lambda calls the executor makes, typed, raising fngate errors only (chalice's TypedAWSClient habit).

    Control-plane calls retry RETRYABLE errors with jittered exponential backoff, then raise Unavailable; invoke
    never retries (it is not idempotent) and maps throttling to TooManyRequests.
    """

    def __init__(self, client: Any, *, sleep: Callable[[float], None] = time.sleep, attempts: int = 5,
                 base_delay_s: float = 0.2, wait_s: float = 300.0) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        self._client, self._sleep, self._attempts = client, sleep, attempts
        self._base_delay, self._wait_s = base_delay_s, wait_s
        self._client_error, self._boto_error = ClientError, BotoCoreError

    def configuration(self, name: str, qualifier: str | None = None) -> dict[str, Any] | None:
        params = {"FunctionName": name, **({"Qualifier": qualifier} if qualifier else {})}
        return self._control("get_function_configuration", missing_ok=True, **params)

    def create(self, **params: Any) -> dict[str, Any]:
        return self._control("create_function", **params)

    def update_code(self, name: str, **code: Any) -> None:
        self._control("update_function_code", FunctionName=name, Publish=False, **code)

    def update_configuration(self, name: str, **params: Any) -> None:
        self._control("update_function_configuration", FunctionName=name, **params)

    def publish_version(self, name: str) -> str:
        return str(self._control("publish_version", FunctionName=name)["Version"])

    def point_alias(self, name: str, alias: str, version: str) -> str | None:
        """Create or move the alias; returns the version it pointed at before (None if it is new)."""
        current = self._control("get_alias", missing_ok=True, FunctionName=name, Name=alias)
        if current is None:
            self._control("create_alias", FunctionName=name, Name=alias, FunctionVersion=version)
            return None
        self._control("update_alias", FunctionName=name, Name=alias, FunctionVersion=version)
        return str(current.get("FunctionVersion"))

    def versions(self, name: str) -> list[str]:
        found: list[str] = []
        marker: dict[str, Any] = {}
        while True:
            page = self._control("list_versions_by_function", FunctionName=name, **marker)
            found += [str(v["Version"]) for v in page.get("Versions", [])]
            if not page.get("NextMarker"):
                return found
            marker = {"Marker": page["NextMarker"]}

    def delete(self, name: str, qualifier: str | None = None) -> None:
        """Idempotent: a function (or version) that is already gone is fine."""
        params = {"FunctionName": name, **({"Qualifier": qualifier} if qualifier else {})}
        self._control("delete_function", missing_ok=True, **params)

    def wait_ready(self, name: str, qualifier: str | None = None) -> dict[str, Any]:
        """Poll until Lambda has applied the last change (State Active, LastUpdateStatus Successful), bounded."""
        waited, delay = 0.0, 0.25
        while True:
            config = self.configuration(name, qualifier)
            if config is None:
                raise LambdaNotDeployed(detail=f"AWS Lambda has no function {name}")
            state, update = config.get("State"), config.get("LastUpdateStatus")
            if "Failed" in (state, update):
                reason = config.get("StateReason") or config.get("LastUpdateStatusReason") or "no reason given"
                raise DeployFailed(detail=f"AWS Lambda could not prepare {name}: {reason}")
            if state in (None, "Active", "Inactive") and update in (None, "Successful"):
                return config
            if waited >= self._wait_s:
                raise DeployFailed(detail=f"AWS Lambda function {name} is still {state}/{update} after {waited:.0f} s")
            self._sleep(delay)
            waited, delay = waited + delay, min(delay * 2, 5.0)

    def invoke(self, name: str, qualifier: str, payload: bytes) -> tuple[bytes, str | None]:
        """One synchronous call: (the response payload, Lambda's FunctionError or None)."""
        try:
            response = self._client.invoke(FunctionName=name, Qualifier=qualifier, InvocationType="RequestResponse",
                                           Payload=payload)
            return response["Payload"].read(), response.get("FunctionError")
        except self._client_error as err:
            code, message = _error(err)
            if code == "TooManyRequestsException":
                raise TooManyRequests(detail="AWS Lambda is throttling this function; retry shortly",
                                      retry_after=1) from None
            if code == "ResourceNotFoundException":
                raise LambdaNotDeployed(detail=f"AWS Lambda has no deployed function {name}:{qualifier}") from None
            raise Unavailable(detail=f"AWS Lambda invoke failed: {code}: {message}") from None
        except self._boto_error as err:
            raise Unavailable(detail=f"AWS Lambda is unreachable: {err}") from None

    def _control(self, operation: str, *, missing_ok: bool = False, **params: Any) -> Any:
        for attempt in range(self._attempts):
            try:
                return getattr(self._client, operation)(**params)
            except self._client_error as err:
                code, message = _error(err)
                if code == "ResourceNotFoundException":
                    if missing_ok:
                        return None
                    raise LambdaNotDeployed(detail=f"AWS Lambda {operation}: {message}") from None
                if code in REJECTED:
                    raise DeployFailed(detail=f"AWS Lambda rejected {operation}: {message}") from None
                if code not in RETRYABLE:
                    raise Unavailable(detail=f"AWS Lambda {operation} failed: {code}: {message}") from None
                if attempt + 1 == self._attempts:
                    raise Unavailable(detail=f"AWS Lambda is busy ({code}) after {self._attempts} tries of "
                                             f"{operation}; try again") from None
            except self._boto_error as err:
                raise Unavailable(detail=f"AWS Lambda is unreachable: {err}") from None
            self._sleep(self._base_delay * 2**attempt * (0.5 + random.random() / 2))
        raise AssertionError("unreachable")


def _answer(raw: bytes, function_error: str | None) -> dict[str, Any]:
    """A control answer of the shim (check, build); DeployFailed when the Lambda itself did not run."""
    try:
        answer = json.loads(raw or b"null")
    except ValueError:
        answer = None
    if not isinstance(answer, dict) or function_error:
        raise DeployFailed(detail=f"The function's Lambda did not start: {str(raw[:300], 'utf-8', 'replace')}")
    return answer


def _error(err: Any) -> tuple[str, str]:
    error = err.response.get("Error", {})
    return str(error.get("Code", "")), str(error.get("Message", ""))


def _default_client(region_name: str | None, read_timeout_s: int) -> Any:
    """A client that never retries on its own (LambdaApi decides) and waits long enough for a full run."""
    import boto3
    from botocore.config import Config

    config = Config(retries={"mode": "standard", "total_max_attempts": 1}, read_timeout=read_timeout_s,
                    connect_timeout=5, max_pool_connections=64)
    return boto3.client("lambda", region_name=region_name, config=config)


# -- results ----------------------------------------------------------------------------------------------------------
def outcome_of(raw: bytes, function_error: str | None, duration_ms: float) -> Outcome:
    """The shim's answer → an Outcome, or the domain error it stands for."""
    try:
        answer = json.loads(raw or b"null")
    except ValueError:
        raise Unavailable(detail="The function's Lambda answered something that is not JSON") from None
    if function_error:  # the shim itself failed: an uncaught error in it, or Lambda stopped it
        message = str(answer.get("errorMessage", "")) if isinstance(answer, dict) else ""
        if "Task timed out" in message:
            raise ExecutionTimeExceeded()
        raise RuntimeException(f"The function's Lambda runtime failed: {message[:300] or function_error}")
    if not isinstance(answer, dict):
        raise Unavailable(detail="The function's Lambda answered an unexpected value")
    if answer.get("op") == "load-error":
        raise RuntimeException(str(answer.get("message") or "The code could not be loaded"))
    if answer.get("op") != "result":
        raise Unavailable(detail=f"The function's Lambda could not run it: {answer.get('message') or answer}")
    return outcome_from_result(answer, duration_ms)


class LambdaExecutor:
    """The Executor protocol over AWS Lambda (see the module docstring)."""

    def __init__(self, client: Any = None, *, region_name: str | None = None, role_arn: str = "",
                 function_prefix: str = names.FUNCTION_PREFIX, image_uri: str = "", memory_mb: int = 256,
                 timeout_s: int = 30,
                 package_builder: Callable[[Target], bytes] | None = None, sleep: Callable[[float], None] = time.sleep,
                 csds_domain: str = "", verify: bool = True, wait_s: float = 300.0, roles: FunctionRoles | None = None,
                 subnet_ids: tuple[str, ...] = (), security_group_ids: tuple[str, ...] = (),
                 access: ToolbeltAccess | None = None, role_wait_s: float = 60.0,
                 build_limits: BuildLimits | None = None, log_groups: FunctionLogGroups | None = None) -> None:
        names.check_prefix(function_prefix)
        self._log_groups = log_groups
        self._build_limits = build_limits or BuildLimits()
        self._roles, self._access, self._role_wait_s = roles, access, role_wait_s
        self._vpc = {"SubnetIds": list(subnet_ids), "SecurityGroupIds": list(security_group_ids)} if subnet_ids else {}
        self._client, self._region, self._role_arn = client, region_name, role_arn
        self._prefix, self._image_uri, self._csds = function_prefix, image_uri, csds_domain
        self._memory_mb, self._timeout_s, self._verify = max(128, memory_mb), timeout_s, verify
        self._build = package_builder or (lambda target: build_zip(self._bundle(target)))
        self._sleep, self._wait_s = sleep, wait_s
        self._api: LambdaApi | None = None
        self._owns_client = client is None
        self._lock = threading.Lock()

    @property
    def api(self) -> LambdaApi:
        """The typed client, made on first use (boto3 is imported only by gateways that run on Lambda)."""
        with self._lock:
            if self._api is None:
                client = self._client or _default_client(self._region, self._lambda_timeout(True) + 10)
                self._client = client
                self._api = LambdaApi(client, sleep=self._sleep, wait_s=self._wait_s)
            return self._api

    def function_name(self, account_id: str, function_uuid: str) -> str:
        return lambda_name(self._prefix, account_id, function_uuid)

    # -- Executor protocol ----------------------------------------------------------------------------------------
    def build(self, target: Target) -> str:
        """Dependencies are installed by the function's own container (lambda_shim/packages.py says why): make
        sure its Lambda is there, have it build them once, and keep the lock key it reports for every bundle."""
        if not target.dependencies:
            return ""
        if not self._image_uri:
            raise BuildFailed(detail="Dependencies on AWS Lambda need the fngate container image (image_uri)")
        try:
            validate_dependencies([{"key": name, "value": spec} for name, spec in target.dependencies])
        except FngateError as err:
            raise BuildFailed(detail=f"Invalid dependency: {err.message}") from None
        name = self.function_name(target.account_id, target.function_uuid)
        role, fresh = self._role(target.account_id)
        try:
            self._put_function(name, target, role, fresh)
            self.api.wait_ready(name)
            request = {"op": "build", "bundle": self._bundle(replace(target, build_key="")),
                       **self._access_fields(target, self._build_limits.timeout_s)}
            raw, function_error = self.api.invoke(name, "$LATEST", json.dumps(request).encode())
        except (Unavailable, TooManyRequests) as err:
            raise BuildFailed(detail=f"Could not build on AWS Lambda: {err}") from None
        answer = _answer(raw, function_error)
        if answer.get("op") == "load-error":
            raise BuildFailed(detail=str(answer.get("message") or "The dependencies could not be installed"))
        if answer.get("op") != "built" or not isinstance(answer.get("key"), str):
            raise BuildFailed(detail=f"The function's Lambda could not build: {answer.get('message') or answer}")
        return str(answer["key"])

    def deploy(self, target: Target) -> None:
        """Create or update the function's Lambda, prove the code loads, then move ``live`` to the new version."""
        bundle = self._bundle(target)
        role, fresh = self._role(target.account_id)
        name = self.function_name(target.account_id, target.function_uuid)
        try:
            self._put_function(name, target, role, fresh)
            self.api.wait_ready(name)
            version = self.api.publish_version(name)
            self.api.wait_ready(name, version)
            if self._verify:
                self._check(name, version, bundle, target)
            previous = self.api.point_alias(name, ALIAS, version)
        except (Unavailable, TooManyRequests) as err:
            raise DeployFailed(detail=f"Could not deploy to AWS Lambda: {err}") from None
        self._prune(name, keep={version, previous or version})

    def undeploy(self, account_id: str, function_uuid: str) -> None:
        """Delete the Lambda with all its versions and its alias; fine if it is already gone."""
        self.api.delete(self.function_name(account_id, function_uuid))

    def invoke(self, target: Target, event: dict[str, Any], *, timeout_s: float | None = None) -> Outcome:
        limit = self._timeout_s if timeout_s is None else min(timeout_s, self._timeout_s)
        request: dict[str, Any] = {"op": "invoke", "input": event, "timeout_ms": max(1, int(limit * 1000))}
        if self._image_uri:
            request["bundle"] = self._bundle(target)
        install = self._build_limits.timeout_s if target.dependencies else 0  # a new container installs first
        request.update(self._access_fields(target, limit + install))
        payload = json.dumps(request, separators=(",", ":")).encode()
        started = time.perf_counter()
        raw, function_error = self.api.invoke(self.function_name(target.account_id, target.function_uuid), ALIAS,
                                              payload)
        return outcome_of(raw, function_error, (time.perf_counter() - started) * 1000)

    def close(self) -> None:
        """Close the HTTP pool of a client this executor made (an injected one belongs to the caller)."""
        close = getattr(self._client, "close", None)
        if self._owns_client and callable(close):
            close()

    # -- deploy steps -----------------------------------------------------------------------------------------------
    def _bundle(self, target: Target) -> dict[str, Any]:
        runtime = find_runtime(target.runtime)
        if runtime is None:
            raise BuildFailed(detail=f"Unsupported runtime {target.runtime!r}")
        if runtime.language == "node" and not self._image_uri:
            raise DeployFailed(detail="Node.js functions need the fngate container image on AWS Lambda (image_uri): "
                                      "the python3.11 zip runtime has no node binary")
        return make_bundle(target, runtime.language, self._csds, self._build_limits)

    def _lambda_timeout(self, dependencies: bool) -> int:
        """The function's limit and the shim's grace; with dependencies also their install, which a new container
        does before its first invocation (and the deploy's build op), so the function still gets its full limit."""
        extra = int(self._build_limits.timeout_s) if dependencies else 0
        return min(LAMBDA_TIMEOUT_MAX_S, self._timeout_s + LAMBDA_GRACE_S + extra)

    def _access_fields(self, target: Target, limit_s: float) -> dict[str, Any]:
        """Toolbelt route and egress, with a token that lives as long as the Lambda may run this event."""
        if self._access is None:
            return {}
        return self._access.event_fields(target.account_id, target.function_uuid, int(limit_s) + LAMBDA_GRACE_S + 1)

    def _role(self, account_id: str) -> tuple[str, bool]:
        """The account's execution role (created or updated now), or the fixed one; (ARN, created just now)."""
        if self._roles is not None:
            return self._roles.ensure(account_id)
        if not self._role_arn:
            raise DeployFailed(detail="No execution role configured for AWS Lambda functions (role_arn)")
        return self._role_arn, False

    def _create(self, fresh_role: bool, **params: Any) -> None:
        """CreateFunction; a role made seconds ago is not yet assumable by Lambda (IAM is eventually consistent)."""
        waited, delay = 0.0, 1.0
        while True:
            try:
                self.api.create(**params)
                return
            except DeployFailed as err:
                if not fresh_role or "cannot be assumed" not in str(err) or waited >= self._role_wait_s:
                    raise
            self._sleep(delay)
            waited, delay = waited + delay, min(delay * 2, 8.0)

    def _put_function(self, name: str, target: Target, role: str, fresh_role: bool = False) -> None:
        """Create the Lambda, or update its code then its configuration (waiting for each change to apply)."""
        if self._log_groups is not None:
            self._log_groups.ensure(name)  # before Lambda's first write would make it without an expiry
        package_type = "Image" if self._image_uri else "Zip"
        code = {"ImageUri": self._image_uri} if self._image_uri else {"ZipFile": self._build(target)}
        settings = self._settings(target, role)
        existing = self.api.configuration(name)
        if existing is not None and (existing.get("PackageType", "Zip") != package_type
                                     or existing.get("State") == "Failed"):
            log.info("recreating %s (%s, %s)", name, existing.get("PackageType"), existing.get("State"))
            self.api.delete(name)  # a package type cannot change in place; a Failed function never recovers
            existing = None
        if existing is None:
            self._create(fresh_role, FunctionName=name, PackageType=package_type, Code=code, Publish=False,
                         Tags={"fngate:account": target.account_id, "fngate:function": target.function_uuid},
                         **settings)
            return
        self.api.wait_ready(name)
        self.api.update_code(name, **code)
        self.api.wait_ready(name)
        self.api.update_configuration(name, **settings)

    def _settings(self, target: Target, role: str) -> dict[str, Any]:
        settings: dict[str, Any] = {
            "Role": role, "MemorySize": self._memory_mb, "Timeout": self._lambda_timeout(bool(target.dependencies)),
            "Description": f"fngate {target.account_id}/{target.function_uuid} {target.function_name}"[:256],
            "Environment": {"Variables": {}}}
        if self._image_uri:
            settings["ImageConfig"] = {"Command": [SHIM_HANDLER]}
        else:
            settings.update(Runtime=ZIP_RUNTIME, Handler=SHIM_HANDLER)
        if self._vpc:
            settings["VpcConfig"] = self._vpc
        return settings

    def _check(self, name: str, version: str, bundle: dict[str, Any], target: Target) -> None:
        """Load the code on the new version before any traffic reaches it: a build error keeps the old alias."""
        request: dict[str, Any] = {"op": "check", **({"bundle": bundle} if self._image_uri else {})}
        if bundle.get("deps"):  # a new container installs them (through the egress proxy) before loading
            request.update(self._access_fields(target, self._build_limits.timeout_s))
        raw, function_error = self.api.invoke(name, version, json.dumps(request).encode())
        answer = _answer(raw, function_error)
        if answer.get("op") == "load-error":
            raise BuildFailed(detail=str(answer.get("message") or "The code could not be loaded"))
        if answer.get("op") != "ready":
            raise DeployFailed(detail=f"The function's Lambda could not load it: {answer.get('message') or answer}")

    def _prune(self, name: str, keep: set[str]) -> None:
        """Delete published versions other than the live one and the one it replaced; best effort."""
        try:
            for version in self.api.versions(name):
                if version.isdigit() and version not in keep:
                    self.api.delete(name, version)
        except Unavailable as err:
            log.warning("could not prune old versions of %s: %s", name, err)
