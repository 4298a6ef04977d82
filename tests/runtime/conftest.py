"""Real workers (node and python) behind one shared LocalExecutor; helpers to deploy and invoke snippets."""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest

from chalicelib.runtime.base import Outcome, Target
from chalicelib.runtime.local.executor import LocalExecutor
from chalicelib.runtime.local.sandbox import SandboxPolicy
from tests.conftest import ACCOUNT

NODE, PYTHON = "nodejs20", "python3.11"
GATEWAY_SECRET = "FNGATE_SECRET_TEST"
_uuids = itertools.count(1)


class Upstream(BaseHTTPRequestHandler):
    """A test upstream's handler: ``answer(body)`` sends it with 200; nothing is logged."""

    def answer(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass



def need_sandbox() -> None:
    if os.geteuid() != 0 or not shutil.which("node"):
        pytest.skip("the local executor's tests need root (for the sandbox) and node")


class FakeRpcError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


def fake_rpc(target: Target, method: str, params: Any) -> Any:
    """Echoes the call; method "fail" fails with a toolbelt-style code."""
    if method == "fail":
        raise FakeRpcError("com.example.nope", "nope")
    return {"method": method, "params": params, "account": target.account_id}


@pytest.fixture(scope="session")
def executor() -> Iterator[LocalExecutor]:
    need_sandbox()
    os.environ[GATEWAY_SECRET] = "must-not-leak"  # the gateway's env, set before the workers exist
    ex = LocalExecutor(timeout_s=5.0, rpc_handler=fake_rpc, csds_domain="csds.example.test",
                       egress_socket="/run/fngate/egress.sock")
    yield ex
    ex.close()
    os.environ.pop(GATEWAY_SECRET, None)


@pytest.fixture(scope="session")
def bare_executor() -> Iterator[LocalExecutor]:
    """The OS sandbox without the runtimes' own layer: what a function that got around that layer would meet."""
    need_sandbox()
    ex = LocalExecutor(timeout_s=5.0, rpc_handler=fake_rpc, policy=SandboxPolicy(guard_runtime=False), spares=0)
    yield ex
    ex.close()


def target(runtime: str, code: str, env: dict[str, str] | None = None, account: str = ACCOUNT) -> Target:
    return Target(account_id=account, function_uuid=f"fn-{next(_uuids):04d}", manifest_version=1, runtime=runtime,
                  code=code, environment=env or {}, function_name="t")


def event(payload: Any = None) -> dict[str, Any]:
    return {"headers": [{"key": "content-type", "value": "application/json"}], "payload": payload}


def deployed(ex: LocalExecutor, runtime: str, code: str, env: dict[str, str] | None = None) -> Target:
    t = target(runtime, code, env)
    ex.deploy(t)
    return t


def run(ex: LocalExecutor, t: Target, payload: Any = None, timeout_s: float | None = None) -> Outcome:
    return ex.invoke(t, event(payload), timeout_s=timeout_s)


def idle_pid(ex: LocalExecutor, t: Target) -> int:
    return ex.stats()["targets"][t.key]["pids"][0]
