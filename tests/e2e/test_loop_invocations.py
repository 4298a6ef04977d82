"""Invocations run on each server process's event loop (chalicelib/runtime/waits.py): a slow function never holds
up the others, concurrent invocations each see their own request, and the slow steps (a worker's cold start, a
Toolbelt call) run off the loop. One process, so every request here shares one loop."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from tests.e2e.conftest import ACCOUNT, Gateway, start_gateway, stop_gateway
from tests.e2e.test_gateway import _app_token

BASE = f"/api/account/{ACCOUNT}"
SLOW = "def lambda_handler(input, callback):\n    import time\n    time.sleep(5)\n    callback(None, 'slow')\n"
ECHO = "def lambda_handler(input, callback):\n    callback(None, input['payload'])\n"
NODE_ECHO = "function lambda(input, callback) {\n  callback(null, input.payload);\n}\n"
SECRET = ("def lambda_handler(input, callback):\n"
          "    from fngate_toolbelt import Toolbelt\n"
          "    callback(None, Toolbelt.secret_client().read_secret('loop-secret')['value'])\n")


@pytest.fixture(scope="module")
def one(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    gw = start_gateway(tmp_path_factory.mktemp("loop"), args=("--processes", "1"))
    yield gw
    stop_gateway(gw)


def invoke(gw: Gateway, uuid: str, token: str, payload: object = None) -> tuple[int, object]:
    status, body, _ = gw.request("POST", f"{BASE}/lambdas/{uuid}/invoke?v=1", token=token,
                                 body={"timestamp": 0, "headers": [], "payload": payload})
    return status, body


def test_a_slow_function_holds_up_no_other_invocation(one: Gateway) -> None:
    token = _app_token(one)
    slow, fast = one.deploy("slow", SLOW, runtime="python3.11"), one.deploy("fast", ECHO, runtime="python3.11")
    got: list[tuple[int, object]] = []
    waiting = threading.Thread(target=lambda: got.append(invoke(one, slow, token)))
    waiting.start()
    try:
        answers = [invoke(one, fast, token, {"n": n}) for n in range(20)]
        still_running = waiting.is_alive()  # the slow one is still in flight after all twenty fast answers
    finally:
        waiting.join(30)
    assert answers == [(200, {"n": n}) for n in range(20)]
    assert still_running
    assert got == [(200, "slow")]


@pytest.mark.parametrize("runtime, code", [("python3.11", ECHO), ("nodejs20", NODE_ECHO)])
def test_concurrent_invocations_each_get_their_own_answer(one: Gateway, runtime: str, code: str) -> None:
    token = _app_token(one)
    uuid = one.deploy(f"echo-{runtime[:4]}", code, runtime=runtime)
    answers: dict[int, list[tuple[int, object]]] = {}

    def client(n: int) -> None:
        answers[n] = [invoke(one, uuid, token, {"client": n, "call": i}) for i in range(25)]

    threads = [threading.Thread(target=client, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert answers == {n: [(200, {"client": n, "call": i}) for i in range(25)] for n in range(16)}


def test_a_toolbelt_call_from_a_function_on_the_loop_is_answered(one: Gateway) -> None:
    admin, token = one.creds["adminToken"], _app_token(one)
    status, _, _ = one.request("POST", f"{BASE}/secrets", token=admin, body={"key": "loop-secret", "value": "s3"})
    assert status in (200, 201)
    uuid = one.deploy("reads-secret", SECRET, runtime="python3.11")
    assert [invoke(one, uuid, token) for _ in range(5)] == [(200, "s3")] * 5


def test_a_function_past_its_timeout_is_answered_and_the_loop_serves_on(one: Gateway) -> None:
    token = _app_token(one)
    stuck = one.deploy("stuck", "def lambda_handler(input, callback):\n    while True: pass\n",
                       runtime="python3.11", timeoutSeconds=1)
    fast = one.deploy("after", ECHO, runtime="python3.11")
    status, body = invoke(one, stuck, token)
    assert status >= 400 and isinstance(body, dict) and body.get("errorCode"), body
    assert invoke(one, fast, token, {"ok": 1}) == (200, {"ok": 1})
