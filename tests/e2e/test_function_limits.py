"""Per-function timeout and memory over a real gateway: set within the operator's ceilings, shown in the function's
API object, enforced by the worker."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.e2e.conftest import ACCOUNT, Gateway, start_gateway, stop_gateway

BASE = f"/api/account/{ACCOUNT}"
SLEEPY = "def lambda_handler(input, callback):\n    import time\n    time.sleep(3)\n    callback(None, 'late')\n"
HUNGRY = ("def lambda_handler(input, callback):\n    block = bytearray(300 * 1024 * 1024)\n"
          "    callback(None, len(block) // (1024 * 1024))\n")
NODE = "function lambda(input, callback) {\n  callback(null, process.memoryUsage().rss > 0);\n}\n"


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    gateway = start_gateway(tmp_path_factory.mktemp("limits"), extra_env={
        "FNGATE_FUNCTION_TIMEOUT_S": "30", "FNGATE_FUNCTION_MEMORY_MAX_MB": "1024"})
    yield gateway
    stop_gateway(gateway)


def create(gw: Gateway, name: str, code: str, runtime: str = "python3.11", **limits: int) -> tuple[int, dict]:
    status, body, _ = gw.request("POST", f"{BASE}/functions", token=gw.creds["developerToken"],
                                 body={"name": name, "description": "limits", "code": code, "runtime": runtime,
                                       **limits})
    return status, body


def deployed(gw: Gateway, name: str, code: str, runtime: str = "python3.11", **limits: int) -> dict:
    status, fn = create(gw, name, code, runtime, **limits)
    assert status == 201, fn
    token = gw.creds["developerToken"]
    gw.request("POST", f"{BASE}/deployments/{fn['uuid']}", token=token)
    deadline = time.time() + 30
    while time.time() < deadline:
        _, got, _ = gw.request("GET", f"{BASE}/functions/{fn['uuid']}", token=token)
        if got["state"] != "Draft" and not got["lastDeployment"]["deploymentState"].endswith("deploying"):
            assert got["state"] == "Productive", got
            return got
        time.sleep(0.05)
    raise AssertionError("not deployed")


def invoke(gw: Gateway, uuid: str) -> tuple[int, object]:
    status, body, _ = gw.request("POST", f"{BASE}/lambdas/{uuid}/invoke?v=1", token=gw.creds["developerToken"],
                                 body={"payload": {}})
    return status, body


def test_limits_are_shown_with_their_defaults(gw: Gateway) -> None:
    fn = deployed(gw, "plain", NODE, "nodejs20")
    assert (fn["manifest"]["timeoutSeconds"], fn["manifest"]["memoryMB"]) == (30, 256)
    assert fn["lastDeployment"]["memory"] == 256


def test_a_function_s_own_timeout_ends_its_run(gw: Gateway) -> None:
    fn = deployed(gw, "sleepy", SLEEPY, timeoutSeconds=1)
    assert fn["manifest"]["timeoutSeconds"] == 1
    status, body = invoke(gw, fn["uuid"])
    assert status == 901 and body["errorCode"] == "com.liveperson.faas.handler.executiontime-exceeded", body


def test_more_memory_lets_a_function_allocate_what_the_default_refuses(gw: Gateway) -> None:
    small = deployed(gw, "hungry-default", HUNGRY)
    status, body = invoke(gw, small["uuid"])
    assert status == 901, body
    big = deployed(gw, "hungry-512", HUNGRY, memoryMB=512)
    assert big["manifest"]["memoryMB"] == 512 and big["lastDeployment"]["memory"] == 512
    assert invoke(gw, big["uuid"]) == (200, 300)
    node = deployed(gw, "node-512", NODE, "nodejs20", memoryMB=512)  # a worker started for it (no spare)
    assert invoke(gw, node["uuid"]) == (200, True)


@pytest.mark.parametrize(("limits", "field"), [({"timeoutSeconds": 31}, "timeoutSeconds"),
                                               ({"timeoutSeconds": 0.5}, "timeoutSeconds"),
                                               ({"memoryMB": 2048}, "memoryMB"), ({"memoryMB": 64}, "memoryMB")])
def test_limits_beyond_the_operator_s_ceilings_are_refused(gw: Gateway, limits: dict, field: str) -> None:
    status, body = create(gw, f"bad{abs(hash(str(limits))) % 10_000}", SLEEPY, **limits)
    assert status == 400 and field in body["message"], body
