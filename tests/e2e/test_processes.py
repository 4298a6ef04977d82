"""`fngate serve --processes 2`: one gateway on one port — shared account limits, changes seen by every process,
a killed process replaced without losing acknowledged writes, and Ctrl-C stopping every process and worker."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import ACCOUNT, Gateway, start_gateway, stop_gateway
from tests.e2e.test_gateway import _app_token

pytestmark = pytest.mark.slow

BASE = f"/api/account/{ACCOUNT}"
PY = "def lambda_handler(input, callback):\n    callback(None, {'ok': True})\n"
BODY = {"timestamp": 0, "headers": [], "payload": {}}


@pytest.fixture(scope="module")
def two(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    gw = start_gateway(tmp_path_factory.mktemp("two"), {"FNGATE_ACCOUNT_RATE": "0.01"}, args=("--processes", "2"))
    yield gw
    stop_gateway(gw)


def children(pid: int) -> set[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return {int(p) for p in out.split()}


def descendants(pid: int) -> set[int]:
    found, stack = set(), [pid]
    while stack:
        kids = children(stack.pop())
        found |= kids
        stack += kids
    return found


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:  # exited between listing and reading
        return b""


def server_processes(gw: Gateway) -> set[int]:
    return {p for p in children(gw.process.pid) if b"chalicelib.cli" in _cmdline(p)}


def wait_for(condition: Callable[[], Any], what: str, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"{what}: not within {timeout} s")


def invoke(gw: Gateway, uuid: str, token: str) -> tuple[int, object, object]:
    return gw.request("POST", f"{BASE}/lambdas/{uuid}/invoke?v=1&skillId=&externalSystem=e2e", token=token,
                      body=BODY)


def test_two_server_processes_share_one_port(two: Gateway) -> None:
    assert len(wait_for(lambda: len(server_processes(two)) == 2 and server_processes(two), "2 processes")) == 2


def test_the_account_rate_holds_across_processes(two: Gateway) -> None:
    # GIVEN an account allowed 1 invocation now (rate 0.01/s, burst 1) on a gateway of 2 processes
    uuid = two.deploy("limited", PY, runtime="python3.11")
    token = _app_token(two)

    # WHEN 20 invocations arrive, each on a new connection (spread over both processes)
    answers = [invoke(two, uuid, token) for _ in range(20)]

    # THEN the account got one 200, not one per process; the rest are 429 with Retry-After
    statuses = [status for status, _, _ in answers]
    assert statuses.count(200) == 1, statuses
    assert statuses.count(429) == 19
    assert all(headers["Retry-After"] for status, _, headers in answers if status == 429)


def test_a_new_deployment_answers_on_every_process_at_once(tmp_path: Path) -> None:
    gw = start_gateway(tmp_path, args=("--processes", "2"))
    try:
        token = _app_token(gw)
        uuid = gw.deploy("fresh", PY, runtime="python3.11")
        statuses = [invoke(gw, uuid, token)[0] for _ in range(10)]  # new connections: both processes
        assert statuses == [200] * 10

        status, _, _ = gw.request("DELETE", f"{BASE}/deployments/{uuid}", token=gw.creds["developerToken"])
        assert status == 200
        wait_for(lambda: all(invoke(gw, uuid, token)[0] == 404 for _ in range(10)), "undeploy seen everywhere")
    finally:
        stop_gateway(gw)


def test_a_killed_process_is_replaced_and_loses_no_acknowledged_write(tmp_path: Path) -> None:
    gw = start_gateway(tmp_path, args=("--processes", "2"))
    try:
        dev = gw.creds["developerToken"]
        created = []
        for i in range(5):
            status, fn, _ = gw.request("POST", f"{BASE}/functions", token=dev,
                                       body={"name": f"kept-{i}", "description": "e2e", "code": PY,
                                             "runtime": "python3.11"})
            assert status == 201, fn
            created.append(fn["uuid"])
        before = wait_for(lambda: len(server_processes(gw)) == 2 and server_processes(gw), "2 processes")

        victim = min(before)
        os.kill(victim, signal.SIGKILL)

        after = wait_for(lambda: (s := server_processes(gw)) and len(s) == 2 and victim not in s and s,
                         "a replacement process")
        assert len(after - before) == 1
        for uuid in created:  # every acknowledged write is there, whichever process answers
            for _ in range(4):
                assert gw.request("GET", f"{BASE}/functions/{uuid}", token=dev)[0] == 200
    finally:
        stop_gateway(gw)


def test_ctrl_c_stops_every_process_and_function_worker(tmp_path: Path) -> None:
    gw = start_gateway(tmp_path, args=("--processes", "2"))
    gw.deploy("warm", PY, runtime="python3.11")
    everything = wait_for(lambda: (d := descendants(gw.process.pid)) and len(d) >= 4 and d, "workers running")

    os.killpg(gw.process.pid, signal.SIGINT)  # what a terminal's Ctrl-C does: the whole foreground group
    gw.process.communicate(timeout=30)

    assert gw.process.returncode == 0
    wait_for(lambda: not [p for p in everything if Path(f"/proc/{p}").exists()
                          and b"zombie" not in Path(f"/proc/{p}/status").read_bytes().lower()],
             "every process gone", timeout=10)
    assert gw.console is not None and "Traceback" not in gw.console.read_text()  # a quiet stop, no stack dumps
