"""LambdaExecutor on moto (control plane, canned shim answers) and on botocore's Stubber (errors moto cannot make).

moto's Lambda without Docker never runs code: invoke echoes the request, or returns results queued through its
``/moto-api/static/lambda-simple/response`` endpoint, which is how the shim's answers are played here.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import zipfile
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
import requests
from botocore.response import StreamingBody
from botocore.stub import Stubber
from moto import mock_aws

from chalicelib.domain.errors import (
    BuildFailed,
    DeployFailed,
    ExecutionTimeExceeded,
    FunctionFailed,
    LogLimitReached,
    RuntimeException,
    TooManyRequests,
    Unavailable,
)
from chalicelib.runtime.aws_lambda import (
    ALIAS,
    SHIM_HANDLER,
    LambdaApi,
    LambdaExecutor,
    LambdaNotDeployed,
    build_zip,
    lambda_name,
    make_bundle,
)
from chalicelib.runtime.base import Target

REGION = "us-east-1"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/fngate-runtime:1"
TRUST = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                                                 "Action": "sts:AssumeRole"}]}
PY_CODE = "def lambda_handler(input, callback):\n    callback(None, input)\n"
NODE_CODE = "async function lambda(input) {\n  return input;\n}\n"
LOG = {"level": "Info", "message": "hello", "extras": [], "timestamp": 1}


def target(code: str = PY_CODE, runtime: str = "python3.11", version: int = 1, **kw: Any) -> Target:
    return Target(account_id="le12345678", function_uuid="4a1c9d3e-0000-4000-8000-000000000001",
                  manifest_version=version, runtime=runtime, code=code, function_name="greeter",
                  environment=kw.pop("environment", {"GREETING": "hi"}), **kw)


class Recording:
    """Passes every call to the real (moto) client and remembers it."""

    def __init__(self, client: Any) -> None:
        self.client, self.calls = client, []

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.client, name)

        def call(**params: Any) -> Any:
            self.calls.append((name, params))
            return method(**params)

        return call

    def payloads(self, operation: str = "invoke") -> list[tuple[str, dict[str, Any]]]:
        return [(p.get("Qualifier", ""), json.loads(p["Payload"])) for name, p in self.calls if name == operation]


@pytest.fixture
def aws() -> Iterator[dict[str, Any]]:
    with mock_aws(config={"lambda": {"use_docker": False}}):
        iam = boto3.client("iam", region_name=REGION)
        role = iam.create_role(RoleName="fngate-function", AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]
        yield {"client": boto3.client("lambda", region_name=REGION), "role": role}


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def make(aws: dict[str, Any], sleeps: list[float]) -> Any:
    def _make(**kw: Any) -> LambdaExecutor:
        kw.setdefault("verify", False)
        return LambdaExecutor(kw.pop("client", aws["client"]), role_arn=kw.pop("role_arn", aws["role"]),
                              sleep=sleeps.append, **kw)

    return _make


def queue(*answers: Any) -> None:
    """Canned answers for moto's next invocations (its documented lambda-simple endpoint)."""
    results = [a if isinstance(a, str) else json.dumps(a) for a in answers]
    reply = requests.post("http://motoapi.amazonaws.com/moto-api/static/lambda-simple/response",
                          json={"results": results, "region": REGION}, timeout=5)
    assert reply.status_code == 201


def alias_version(client: Any, name: str) -> str:
    return client.get_alias(FunctionName=name, Name=ALIAS)["FunctionVersion"]


def versions(client: Any, name: str) -> list[str]:
    return [v["Version"] for v in client.list_versions_by_function(FunctionName=name)["Versions"]]


# -- names and packages -------------------------------------------------------------------------------------------
def test_lambda_names_are_stable_valid_and_distinct() -> None:
    name = lambda_name("fngate-fn-", "le1", "uuid-1")
    assert name == lambda_name("fngate-fn-", "le1", "uuid-1")
    assert len(name) <= 64 and name.startswith("fngate-fn-") and name.replace("-", "").isalnum()
    assert len({name, lambda_name("fngate-fn-", "le2", "uuid-1"), lambda_name("fngate-fn-", "le1", "uuid-2")}) == 3
    with pytest.raises(ValueError):
        LambdaExecutor(object(), function_prefix="bad prefix!")
    with pytest.raises(ValueError):
        LambdaExecutor(object(), function_prefix="x" * 50)


def test_the_zip_holds_the_shim_the_workers_and_the_bundle_and_is_reproducible() -> None:
    bundle = make_bundle(target(), "python", csds_domain="csds.example")
    data = build_zip(bundle)
    assert data == build_zip(bundle)  # same target, same bytes: an unchanged redeploy keeps CodeSha256
    names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    assert {"lambda_shim/handler.py", "local/protocol.py", "local/worker_python.py", "local/worker_python_logs.py",
            "runtime.json", "function.py"} <= set(names)
    meta = json.loads(zipfile.ZipFile(io.BytesIO(data)).read("runtime.json"))
    assert meta["env"] == {"GREETING": "hi", "X_LIVEPERSON_BRAND_ID": "le12345678",
                           "X_LIVEPERSON_PROJECT_ID": "le12345678",
                           "X_LIVEPERSON_FUNCTION_UUID": "4a1c9d3e-0000-4000-8000-000000000001",
                           "X_LIVEPERSON_CSDS_DOMAIN": "csds.example"}
    assert zipfile.ZipFile(io.BytesIO(data)).read("function.py").decode() == PY_CODE


# -- deploy / redeploy / undeploy ---------------------------------------------------------------------------------
def test_deploy_creates_the_function_a_version_and_the_live_alias(aws: dict[str, Any], make: Any) -> None:
    ex = make(memory_mb=512, timeout_s=20)
    ex.deploy(target())
    name = ex.function_name("le12345678", target().function_uuid)
    config = aws["client"].get_function_configuration(FunctionName=name)
    assert config["Runtime"] == "python3.11" and config["Handler"] == SHIM_HANDLER == "lambda_shim.handler.handle"
    assert (config["Role"], config["MemorySize"], config["Timeout"]) == (aws["role"], 512, 25)
    assert config.get("Environment", {}).get("Variables", {}) == {}  # nothing of the gateway's, no function env
    bundle_zip = build_zip(make_bundle(target(), "python"))
    assert config["CodeSha256"] == base64.b64encode(hashlib.sha256(bundle_zip).digest()).decode()
    assert alias_version(aws["client"], name) == "1"
    tags = aws["client"].list_tags(Resource=config["FunctionArn"])["Tags"]
    assert tags["fngate:function"] == target().function_uuid


def test_redeploy_updates_code_publishes_a_version_moves_the_alias_and_prunes(aws: dict[str, Any],
                                                                              make: Any) -> None:
    ex = make()
    name = ex.function_name("le12345678", target().function_uuid)
    ex.deploy(target())
    ex.deploy(target(code=PY_CODE.replace("input", "inp"), version=2))
    sha_two = aws["client"].get_function_configuration(FunctionName=name)["CodeSha256"]
    assert alias_version(aws["client"], name) == "2"
    ex.deploy(target(code=PY_CODE + "# v3\n", version=3))
    assert alias_version(aws["client"], name) == "3"
    assert aws["client"].get_function_configuration(FunctionName=name)["CodeSha256"] != sha_two
    assert versions(aws["client"], name) == ["$LATEST", "2", "3"]  # live and the one it replaced


def test_undeploy_deletes_the_function_and_is_idempotent(aws: dict[str, Any], make: Any) -> None:
    ex = make()
    ex.deploy(target())
    ex.undeploy("le12345678", target().function_uuid)
    assert aws["client"].list_functions()["Functions"] == []
    ex.undeploy("le12345678", target().function_uuid)
    ex.undeploy("le00000000", "never-deployed")


def test_deploy_checks_the_new_version_loads_before_moving_the_alias(aws: dict[str, Any], make: Any) -> None:
    client = Recording(aws["client"])
    ex = make(client=client, verify=True)
    name = ex.function_name("le12345678", target().function_uuid)
    queue({"op": "ready", "form": "callback"})
    ex.deploy(target())
    assert client.payloads() == [("1", {"op": "check"})]  # zip mode: the code is in the package
    queue({"op": "load-error", "message": "SyntaxError: invalid syntax (index.py, line 2)"})
    with pytest.raises(BuildFailed, match="SyntaxError"):
        ex.deploy(target(code="def lambda_handler(input):\n    return (\n", version=2))
    assert alias_version(aws["client"], name) == "1"  # traffic stays on the code that loads
    queue({"op": "shim-error", "message": "No function code"})
    with pytest.raises(DeployFailed, match="No function code"):
        ex.deploy(target(version=3))


def test_deploy_refusals(aws: dict[str, Any], make: Any) -> None:
    with pytest.raises(DeployFailed, match="container image"):
        make().deploy(target(code=NODE_CODE, runtime="nodejs20"))
    with pytest.raises(BuildFailed, match="Unsupported runtime"):
        make().deploy(target(runtime="cobol85"))
    with pytest.raises(DeployFailed, match="role_arn"):
        make(role_arn="").deploy(target())
    with pytest.raises(DeployFailed, match="cannot be assumed"):  # InvalidParameterValueException from Lambda
        make(role_arn="arn:aws:iam::123456789012:role/missing").deploy(target())


def test_image_mode_deploys_the_shared_image_and_sends_the_bundle(aws: dict[str, Any], make: Any) -> None:
    client = Recording(aws["client"])
    ex = make(client=client, image_uri=IMAGE, verify=True)
    node = target(code=NODE_CODE, runtime="nodejs20")
    queue({"op": "ready", "form": "async"}, {"op": "result", "ok": True, "result": 7, "logs": []})
    ex.deploy(node)
    name = ex.function_name("le12345678", node.function_uuid)
    config = aws["client"].get_function_configuration(FunctionName=name)
    assert config["PackageType"] == "Image"
    assert aws["client"].get_function(FunctionName=name)["Code"]["ImageUri"] == IMAGE
    assert ex.invoke(node, {"payload": 1}, timeout_s=3).result == 7
    (check_q, check), (live_q, call) = client.payloads()
    assert (check_q, live_q) == ("1", ALIAS)
    assert check["bundle"] == call["bundle"] == make_bundle(node, "node")
    assert (call["op"], call["input"], call["timeout_ms"]) == ("invoke", {"payload": 1}, 3000)


def test_changing_the_package_type_recreates_the_function(aws: dict[str, Any], make: Any) -> None:
    make().deploy(target())
    ex = make(image_uri=IMAGE)
    ex.deploy(target(version=2))
    name = ex.function_name("le12345678", target().function_uuid)
    assert aws["client"].get_function_configuration(FunctionName=name)["PackageType"] == "Image"
    assert alias_version(aws["client"], name) == "1"  # a new function: its first version


# -- invoke: the shim's answers -------------------------------------------------------------------------------------
def test_invoke_returns_result_and_logs(aws: dict[str, Any], make: Any) -> None:
    client = Recording(aws["client"])
    ex = make(client=client)
    ex.deploy(target())
    queue({"op": "result", "ok": True, "result": {"a": [1]}, "logs": [LOG]})
    outcome = ex.invoke(target(), {"headers": [], "payload": {"x": 1}})
    assert (outcome.result, outcome.logs) == ({"a": [1]}, [LOG])
    assert client.payloads() == [(ALIAS, {"op": "invoke", "input": {"headers": [], "payload": {"x": 1}},
                                          "timeout_ms": 30000})]


@pytest.mark.parametrize(("kind", "error", "message"), [
    ("custom-failure", FunctionFailed, "nope"),
    ("runtime-exception", RuntimeException, "TypeError: x is not a function"),
    ("timeout", ExecutionTimeExceeded, "Lambda Execution is taking too long"),
    ("log-limit", LogLimitReached, "Function exceeded the log limits"),
    ("something-new", RuntimeException, "odd"),
])
def test_each_failure_kind_maps_to_its_error_with_logs(aws: dict[str, Any], make: Any, kind: str,
                                                       error: type[FunctionFailed], message: str) -> None:
    ex = make()
    ex.deploy(target())
    queue({"op": "result", "ok": False, "kind": kind, "message": message, "logs": [LOG]})
    with pytest.raises(error) as caught:
        ex.invoke(target(), {"payload": None})
    assert type(caught.value) is error and caught.value.logs == [LOG]
    shown = message if kind in ("custom-failure", "runtime-exception") else error(None).message
    assert str(caught.value) == shown  # only the function's own failures carry its message


@pytest.mark.parametrize(("answer", "error", "text"), [
    ({"op": "load-error", "message": "SyntaxError: nope"}, RuntimeException, "SyntaxError"),
    ({"op": "shim-error", "message": "Node.js is not installed"}, Unavailable, "Node.js"),
    ("not json at all", Unavailable, "not JSON"),
    ([1, 2], Unavailable, "unexpected"),
])
def test_platform_answers_map_to_errors(aws: dict[str, Any], make: Any, answer: Any, error: type[Exception],
                                        text: str) -> None:
    ex = make()
    ex.deploy(target())
    queue(answer)
    with pytest.raises(error, match=text):
        ex.invoke(target(), {})


# -- invoke: Lambda's own errors (Stubber: moto's simple backend never fails an invoke) ------------------------------
def stubbed() -> tuple[Any, Stubber]:
    client = boto3.client("lambda", region_name=REGION)
    return client, Stubber(client)


def unhandled(message: str) -> dict[str, Any]:
    body = json.dumps({"errorMessage": message, "errorType": "Runtime.ExitError"}).encode()
    return {"StatusCode": 200, "FunctionError": "Unhandled", "Payload": StreamingBody(io.BytesIO(body), len(body))}


@pytest.mark.parametrize(("message", "error"), [
    ("2024-05-01T10:00:00Z 1f0c Task timed out after 35.00 seconds", ExecutionTimeExceeded),
    ("RequestId: 1f0c Error: Runtime exited with error: signal: killed", RuntimeException),
])
def test_unhandled_function_errors(message: str, error: type[Exception]) -> None:
    client, stub = stubbed()
    stub.add_response("invoke", unhandled(message))
    with stub, pytest.raises(error):
        LambdaExecutor(client).invoke(target(), {})


@pytest.mark.parametrize(("code", "status", "error"), [
    ("TooManyRequestsException", 429, TooManyRequests),
    ("ResourceNotFoundException", 404, LambdaNotDeployed),
    ("ServiceException", 500, Unavailable),
    ("EC2ThrottledException", 502, Unavailable),
])
def test_invoke_service_errors(code: str, status: int, error: type[Exception]) -> None:
    client, stub = stubbed()
    stub.add_client_error("invoke", code, "boom", http_status_code=status)
    with stub, pytest.raises(error) as caught:
        LambdaExecutor(client).invoke(target(), {})
    if error is TooManyRequests:
        assert caught.value.retry_after == 1
    if error is LambdaNotDeployed:
        assert isinstance(caught.value, Unavailable)


def test_invoke_is_never_retried_and_caps_the_timeout() -> None:
    client, stub = stubbed()
    stub.add_client_error("invoke", "TooManyRequestsException", http_status_code=429)
    body = json.dumps({"op": "result", "ok": True, "result": 1, "logs": []}).encode()
    stub.add_response("invoke", {"StatusCode": 200, "Payload": StreamingBody(io.BytesIO(body), len(body))},
                      expected_params={"FunctionName": lambda_name("fngate-fn-", "le12345678",
                                                                   target().function_uuid),
                                       "Qualifier": ALIAS, "InvocationType": "RequestResponse",
                                       "Payload": b'{"op":"invoke","input":{},"timeout_ms":10000}'})
    ex = LambdaExecutor(client, timeout_s=10)
    with stub:
        with pytest.raises(TooManyRequests):
            ex.invoke(target(), {})
        assert ex.invoke(target(), {}, timeout_s=60).result == 1  # never above the deployed limit
        stub.assert_no_pending_responses()


# -- control plane: retries and waiting -----------------------------------------------------------------------------
def test_conflicts_and_throttling_are_retried_with_backoff_then_unavailable() -> None:
    client, stub = stubbed()
    sleeps: list[float] = []
    api = LambdaApi(client, sleep=sleeps.append, attempts=3)
    stub.add_client_error("delete_function", "ResourceConflictException", http_status_code=409)
    stub.add_client_error("delete_function", "TooManyRequestsException", http_status_code=429)
    stub.add_response("delete_function", {})
    for _ in range(3):
        stub.add_client_error("delete_function", "ResourceConflictException", http_status_code=409)
    with stub:
        api.delete("fngate-fn-x")
        assert len(sleeps) == 2 and 0 < sleeps[0] <= sleeps[1]  # jittered, growing
        with pytest.raises(Unavailable, match="busy"):
            api.delete("fngate-fn-x")
    assert len(sleeps) == 4


def test_invalid_parameters_fail_the_deploy_without_retry() -> None:
    client, stub = stubbed()
    sleeps: list[float] = []
    stub.add_client_error("get_function_configuration", "ResourceNotFoundException", http_status_code=404)
    stub.add_client_error("create_function", "InvalidParameterValueException", "Unzipped size must be smaller",
                          http_status_code=400)
    with stub, pytest.raises(DeployFailed, match="Unzipped size"):
        LambdaExecutor(client, role_arn="arn:aws:iam::123456789012:role/r", sleep=sleeps.append).deploy(target())
    assert sleeps == []


class StateClient:
    """get_function_configuration answers from a script of (State, LastUpdateStatus) pairs."""

    def __init__(self, *states: tuple[str, str]) -> None:
        self.states = list(states)

    def get_function_configuration(self, **_: Any) -> dict[str, Any]:
        state, update = self.states.pop(0) if len(self.states) > 1 else self.states[0]
        return {"State": state, "LastUpdateStatus": update, "StateReason": "image not found"}


def test_wait_ready_polls_until_active_and_successful() -> None:
    sleeps: list[float] = []
    api = LambdaApi(StateClient(("Pending", "InProgress"), ("Active", "InProgress"), ("Active", "Successful")),
                    sleep=sleeps.append)
    assert api.wait_ready("f")["State"] == "Active"
    assert sleeps == [0.25, 0.5]


def test_wait_ready_gives_up_and_reports_failures() -> None:
    sleeps: list[float] = []
    with pytest.raises(DeployFailed, match="still Pending"):
        LambdaApi(StateClient(("Pending", "InProgress")), sleep=sleeps.append, wait_s=20).wait_ready("f")
    assert 20 <= sum(sleeps) < 30 and max(sleeps) == 5.0
    with pytest.raises(DeployFailed, match="image not found"):
        LambdaApi(StateClient(("Failed", "Failed")), sleep=sleeps.append).wait_ready("f")


def test_settings_select_the_lambda_executor():
    from chalicelib.config import Settings
    from chalicelib.runtime.aws_lambda import LambdaExecutor
    from chalicelib.services.container import build_executor

    env = {"FNGATE_EXECUTOR": "aws_lambda", "FNGATE_LAMBDA_ROLE_ARN": "arn:aws:iam::123456789012:role/fn",
           "AWS_DEFAULT_REGION": "us-east-1"}
    assert isinstance(build_executor(Settings.from_env(env)), LambdaExecutor)
