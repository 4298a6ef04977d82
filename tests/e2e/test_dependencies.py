"""Function dependencies over a real gateway: npm and PyPI packages resolved, locked and installed at deploy,
shared by equal locks, mounted read-only, refused with the installer's message or the operator's rule.
Needs the npm registry and PyPI (reachable from CI)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import ACCOUNT, Gateway, start_gateway, stop_gateway

BASE = f"/api/account/{ACCOUNT}"
NODE = """function lambda(input, callback) {
  const isNumber = require('is-number');
  callback(null, {five: isNumber(5), text: isNumber('x')});
}
"""
PY = """def lambda_handler(input, callback):
    import six
    callback(None, {"six": six.__version__, "where": six.__file__})
"""
NODE_WRITE = """function lambda(input, callback) {
  const fs = require('fs');
  const file = require.resolve('is-number');
  try { fs.writeFileSync(file, 'hacked'); callback(null, 'written'); } catch (e) { callback(null, e.code); }
}
"""


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    gateway = start_gateway(tmp_path_factory.mktemp("deps"), extra_env={
        "FNGATE_DEPS_DENY": "left-pad", "FNGATE_DEPS_MAX_MB": "1", "FNGATE_FUNCTION_TIMEOUT_S": "10"})
    yield gateway
    stop_gateway(gateway)


def deploy(gw: Gateway, name: str, code: str, runtime: str, deps: dict[str, str]) -> dict:
    token = gw.creds["developerToken"]
    status, fn, _ = gw.request("POST", f"{BASE}/functions", token=token,
                               body={"name": name, "description": "deps", "code": code, "runtime": runtime,
                                     "customDependencies": deps})
    assert status == 201, fn
    assert gw.request("POST", f"{BASE}/deployments/{fn['uuid']}", token=token)[0] == 200
    deadline = time.time() + 120
    while time.time() < deadline:
        _, got, _ = gw.request("GET", f"{BASE}/functions/{fn['uuid']}", token=token)
        if got["state"] in ("Productive", "Build Error", "Deploy Error"):
            return got
        time.sleep(0.1)
    raise AssertionError(f"{name} did not finish deploying")


def invoke(gw: Gateway, uuid: str) -> tuple[int, object]:
    status, body, _ = gw.request("POST", f"{BASE}/lambdas/{uuid}/invoke?v=1", token=gw.creds["developerToken"],
                                 body={"payload": {}})
    return status, body


def test_a_node_function_requires_its_npm_dependency(gw: Gateway) -> None:
    fn = deploy(gw, "npmdep", NODE, "nodejs20", {"is-number": "^7.0.0"})
    assert fn["state"] == "Productive", fn
    assert invoke(gw, fn["uuid"]) == (200, {"five": True, "text": False})
    assert fn["manifest"]["customDependencies"] == {"is-number": "^7.0.0"}


def test_a_python_function_imports_its_pypi_dependency(gw: Gateway) -> None:
    fn = deploy(gw, "pypidep", PY, "python3.11", {"six": "1.16.0"})
    assert fn["state"] == "Productive", fn
    status, out = invoke(gw, fn["uuid"])
    assert status == 200 and out["six"] == "1.16.0" and out["where"].startswith("/opt/fngate/deps/python-")


def test_functions_with_the_same_lock_share_one_install(gw: Gateway) -> None:
    first = deploy(gw, "share1", NODE, "nodejs20", {"is-number": "7.0.0"})
    second = deploy(gw, "share2", NODE, "nodejs20", {"is-number": "7.0.0"})
    lock = first["lastDeployment"]["dependencyLock"]
    assert lock.startswith("node-") and second["lastDeployment"]["dependencyLock"] == lock
    assert (Path(gw.data_dir) / "deps" / lock / "node_modules" / "is-number").is_dir()


def test_a_function_cannot_modify_its_packages(gw: Gateway) -> None:
    fn = deploy(gw, "writer", NODE_WRITE, "nodejs20", {"is-number": "7.0.0"})
    assert invoke(gw, fn["uuid"]) == (200, "EROFS")


@pytest.mark.parametrize(("name", "runtime", "deps", "message"), [
    ("nosuch", "nodejs20", {"no-such-package-fngate-e2e": "1.0.0"}, "E404"),
    ("nosuchpy", "python3.11", {"no-such-package-fngate-e2e": ""}, "No matching distribution"),
    ("denied", "nodejs20", {"left-pad": "1.3.0"}, "deny list"),
    ("toobig", "nodejs20", {"lodash": "4.17.21"}, "the limit is 1 MB"),
])
def test_a_failed_build_is_build_error_with_the_cause(gw: Gateway, name: str, runtime: str, deps: dict,
                                                      message: str) -> None:
    code = NODE if runtime == "nodejs20" else PY
    fn = deploy(gw, name, code, runtime, deps)
    assert fn["state"] == "Build Error", fn
    assert message in fn["lastDeployment"]["deploymentError"]["message"]


def test_an_invalid_dependency_name_is_refused_at_once(gw: Gateway) -> None:
    status, body, _ = gw.request("POST", f"{BASE}/functions", token=gw.creds["developerToken"],
                                 body={"name": "badname", "description": "d", "code": PY, "runtime": "python3.11",
                                       "customDependencies": {"six; rm -rf /": "1"}})
    assert status == 400 and "dependency name" in body["message"]
