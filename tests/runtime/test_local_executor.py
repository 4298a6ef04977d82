"""The programming model on real workers: both forms per language, results, env, logs, errors, the RPC bridge."""

from __future__ import annotations

import time

import pytest

from chalicelib.domain.errors import (
    BuildFailed,
    ExecutionTimeExceeded,
    FunctionFailed,
    LogLimitReached,
    RuntimeException,
)
from chalicelib.runtime.local.executor import LocalExecutor
from tests.conftest import ACCOUNT
from tests.runtime.conftest import GATEWAY_SECRET, NODE, PYTHON, deployed, run

ECHO = {
    (NODE, "callback"): "function lambda(input, callback) {\n  callback(null, input.payload);\n}\n",
    (NODE, "async"): "async function lambda(input) {\n  return input.payload;\n}\n",
    (PYTHON, "callback"): "def lambda_handler(input, callback):\n    callback(None, input['payload'])\n",
    (PYTHON, "async"): "async def lambda_handler(input):\n    return input['payload']\n",
}


def test_async_callback_form_is_awaited_and_its_callback_counts(executor: LocalExecutor) -> None:
    node = "async function lambda(input, callback) {\n  await null;\n  callback(null, input.payload);\n}\n"
    python = "async def lambda_handler(input, callback):\n    await asyncio.sleep(0)\n    callback(None, input['payload'])\n"  # noqa: E501
    assert run(executor, deployed(executor, NODE, node), "n").result == "n"
    assert run(executor, deployed(executor, PYTHON, "import asyncio\n" + python), "p").result == "p"


@pytest.mark.parametrize("form", ["callback", "async"])
@pytest.mark.parametrize("runtime", [NODE, PYTHON])
def test_echoes_objects_strings_and_null(executor: LocalExecutor, runtime: str, form: str) -> None:
    t = deployed(executor, runtime, ECHO[runtime, form])
    for payload in ({"a": [1, 2.5, "ü", None], "b": {"c": True}}, "plain string", None, 0, []):
        outcome = run(executor, t, payload)
        assert outcome.result == payload
        assert outcome.logs == [] and outcome.duration_ms > 0


def test_input_is_passed_unchanged(executor: LocalExecutor) -> None:
    t = deployed(executor, PYTHON, "def lambda_handler(input):\n    return input\n")
    event = {"headers": [{"key": "x-a", "value": "1"}], "payload": {"n": 1}}
    assert executor.invoke(t, event).result == event


ENV = {
    NODE: "async function lambda(input) {\n  return process.env;\n}\n",
    PYTHON: "import os\nasync def lambda_handler(input):\n    return dict(os.environ)\n",
}


@pytest.mark.parametrize("runtime", [NODE, PYTHON])
def test_function_sees_only_its_env_and_runtime_vars(executor: LocalExecutor, runtime: str) -> None:
    t = deployed(executor, runtime, ENV[runtime], env={"GREETING": "hi", "EMPTY": ""})
    env = run(executor, t).result
    assert env["GREETING"] == "hi" and env["EMPTY"] == ""
    assert env["X_LIVEPERSON_BRAND_ID"] == ACCOUNT == env["X_LIVEPERSON_PROJECT_ID"]
    assert env["X_LIVEPERSON_FUNCTION_UUID"] == t.function_uuid
    assert env["X_LIVEPERSON_CSDS_DOMAIN"] == "csds.example.test"
    assert env["FNGATE_EGRESS_SOCKET"] == "/run/fngate/egress.sock"
    assert env["HOME"] == "/tmp"
    assert GATEWAY_SECRET not in env
    assert not [k for k in env if k.startswith("AWS_")]
    assert set(env) <= {"PATH", "LANG", "HOME", "GREETING", "EMPTY", "FNGATE_EGRESS_SOCKET"} | {
        k for k in env if k.startswith("X_LIVEPERSON_")}


LOGS = {
    NODE: ("async function lambda(input) {\n"
           "  console.debug('d'); console.info('hello', {a: 1}, [2]); console.warn({obj: true});\n"
           "  console.error(new Error('bad')); console.log('plain');\n  return 1;\n}\n"),
    PYTHON: ("import logging\nasync def lambda_handler(input):\n"
             "    console.debug('d'); console.info('hello', {'a': 1}, [2]); console.warn({'obj': True})\n"
             "    console.error(ValueError('bad')); print('plain')\n    return 1\n"),
}


@pytest.mark.parametrize("runtime", [NODE, PYTHON])
def test_logs_are_captured_with_their_shape(executor: LocalExecutor, runtime: str) -> None:
    t = deployed(executor, runtime, LOGS[runtime])
    logs = run(executor, t).logs
    assert [(r["level"], r["message"], r["extras"]) for r in logs] == [
        ("Debug", "d", []), ("Info", "hello", [{"a": 1}, [2]]), ("Warn", {"obj": True}, []),
        ("Error", "Error: bad" if runtime == NODE else "ValueError: bad", []), ("Info", "plain", [])]
    now = time.time() * 1000
    assert all(isinstance(r["timestamp"], int) and now - 60_000 < r["timestamp"] <= now + 1000 for r in logs)


LOG_FLOOD = {
    NODE: "async function lambda(input) {\n  for (let i = 0; i < input.payload.n; i++) console.info('x'.repeat(input.payload.size));\n  return 1;\n}\n",  # noqa: E501
    PYTHON: "def lambda_handler(input):\n    for _ in range(input['payload']['n']):\n        console.info('x' * input['payload']['size'])\n    return 1\n",  # noqa: E501
}


@pytest.mark.parametrize("runtime", [NODE, PYTHON])
def test_log_limits(executor: LocalExecutor, runtime: str) -> None:
    t = deployed(executor, runtime, LOG_FLOOD[runtime])
    assert len(run(executor, t, {"n": 10, "size": 500}).logs) == 10  # exactly at both limits: fine
    for too_much in ({"n": 11, "size": 1}, {"n": 1, "size": 6000}, {"n": 6, "size": 900}):
        with pytest.raises(LogLimitReached) as caught:
            run(executor, t, too_much)
        assert [(r["level"], r["extras"]) for r in caught.value.logs] == [("Error", [])]
        assert "log limits" in caught.value.logs[0]["message"]
        assert caught.value.v1_code == "com.liveperson.faas.handler.log-limit-reached"
    assert run(executor, t, {"n": 1, "size": 1}).result == 1


FAILURES = {  # (runtime, snippet) → (error class, message)
    (NODE, "function lambda(input, callback) {\n  callback(new Error('boom'));\n}\n"): (FunctionFailed, "boom"),
    (NODE, "function lambda(input, callback) {\n  callback('just text');\n}\n"): (FunctionFailed, "just text"),
    (NODE, "async function lambda(input) {\n  throw new Error('boom');\n}\n"): (FunctionFailed, "boom"),
    (NODE, "async function lambda(input) {\n  class Mine extends Error {}\n  throw new Mine('mine');\n}\n"):
        (FunctionFailed, "mine"),
    (NODE, "async function lambda(input) {\n  return input.nope.deeper;\n}\n"):
        (RuntimeException, "TypeError: Cannot read properties of undefined (reading 'deeper')"),
    (NODE, "async function lambda(input) {\n  return notDefined;\n}\n"):
        (RuntimeException, "ReferenceError: notDefined is not defined"),
    (NODE, "function lambda(input, callback) {\n  throw new Error('sync throw');\n}\n"):
        (RuntimeException, "Error: sync throw"),
    (NODE, "function lambda(input, callback) {\n  setTimeout(() => { throw new Error('later'); }, 1);\n}\n"):
        (RuntimeException, "Error: later"),
    (NODE, "async function lambda(input) {\n  Promise.reject(new Error('floating'));\n  await new Promise((r) => setTimeout(r, 50));\n}\n"):  # noqa: E501
        (RuntimeException, "Error: floating"),
    (NODE, "async function lambda(input) {\n  return 10n;\n}\n"):
        (RuntimeException, "The function's result is not JSON-serialisable: TypeError: Do not know how to serialize a BigInt"),  # noqa: E501
    (PYTHON, "def lambda_handler(input, callback):\n    callback(Exception('boom'))\n"): (FunctionFailed, "boom"),
    (PYTHON, "def lambda_handler(input, callback):\n    callback('just text')\n"): (FunctionFailed, "just text"),
    (PYTHON, "async def lambda_handler(input):\n    raise Exception('boom')\n"): (FunctionFailed, "boom"),
    (PYTHON, "async def lambda_handler(input):\n    raise ValueError('bad value')\n"): (FunctionFailed, "bad value"),
    (PYTHON, "async def lambda_handler(input):\n    return input['nope']\n"): (RuntimeException, "KeyError: 'nope'"),
    (PYTHON, "async def lambda_handler(input):\n    return 1 / 0\n"):
        (RuntimeException, "ZeroDivisionError: division by zero"),
    (PYTHON, "def lambda_handler(input):\n    return undefined_name\n"):
        (RuntimeException, "NameError: name 'undefined_name' is not defined"),
    (PYTHON, "def lambda_handler(input, callback):\n    raise Exception('escaped')\n"):
        (RuntimeException, "Exception: escaped"),
    (PYTHON, "import sys\ndef lambda_handler(input):\n    sys.exit(3)\n"): (RuntimeException, "SystemExit: 3"),
    (PYTHON, "def lambda_handler(input):\n    return object()\n"):
        (RuntimeException, "The function's result is not JSON-serialisable: TypeError: Object of type object is not JSON serializable"),  # noqa: E501
    (PYTHON, "def lambda_handler(input):\n    return float('nan')\n"):
        (RuntimeException, "The function's result is not JSON-serialisable: ValueError: Out of range float values are not JSON compliant"),  # noqa: E501
}


@pytest.mark.parametrize(("runtime", "code"), list(FAILURES), ids=[f"{r}-{i}" for i, (r, _) in enumerate(FAILURES)])
def test_failures_map_to_their_error_and_the_worker_keeps_serving(executor: LocalExecutor, runtime: str,
                                                                  code: str) -> None:
    error, message = FAILURES[runtime, code]
    t = deployed(executor, runtime, code)
    with pytest.raises(FunctionFailed) as caught:
        run(executor, t)
    assert type(caught.value) is error
    assert caught.value.message == message


CALLBACK_TWICE = {
    NODE: "function lambda(input, callback) {\n  callback(null, 'first');\n  callback(null, 'second');\n}\n",
    PYTHON: "def lambda_handler(input, callback):\n    callback(None, 'first')\n    callback(None, 'second')\n",
}


@pytest.mark.parametrize("runtime", [NODE, PYTHON])
def test_first_callback_wins_and_a_second_is_a_warning(executor: LocalExecutor, runtime: str) -> None:
    outcome = run(executor, deployed(executor, runtime, CALLBACK_TWICE[runtime]))
    assert outcome.result == "first"
    assert [(r["level"], r["message"]) for r in outcome.logs] == [
        ("Warn", "callback was called more than once; only the first call counts")]


NEVER_CALLED = {
    NODE: "function lambda(input, callback) {\n  console.info('waiting');\n}\n",
    PYTHON: "def lambda_handler(input, callback):\n    console.info('waiting')\n",
}
BUSY = {
    NODE: "async function lambda(input) {\n  if (input.payload === 'spin') for (;;) {}\n  return 'ok';\n}\n",
    PYTHON: "import time\ndef lambda_handler(input):\n    if input['payload'] == 'spin':\n        while True: pass\n    return 'ok'\n",  # noqa: E501
}


@pytest.mark.parametrize("runtime", [NODE, PYTHON])
def test_timeouts_kill_the_worker_and_the_next_call_works(executor: LocalExecutor, runtime: str) -> None:
    silent = deployed(executor, runtime, NEVER_CALLED[runtime])
    started = time.monotonic()
    with pytest.raises(ExecutionTimeExceeded) as caught:
        run(executor, silent, timeout_s=0.5)
    assert time.monotonic() - started > 0.45  # not before its time (how much later depends on the machine's load)
    assert [r["message"] for r in caught.value.logs] == ["waiting"]  # the worker's own timer kept the logs
    assert caught.value.message == "Lambda Execution is taking too long"

    busy = deployed(executor, runtime, BUSY[runtime])
    pid = executor.stats()["targets"][busy.key]["pids"][0]
    with pytest.raises(ExecutionTimeExceeded):
        run(executor, busy, "spin", timeout_s=0.5)  # a blocked event loop: the host kills it
    assert run(executor, busy, "x").result == "ok"
    assert pid not in executor.stats()["targets"][busy.key]["pids"]


SYNTAX = {
    NODE: ("function lambda(input, callback) {\n  callback(null, {)\n}\n",
           "SyntaxError: Unexpected token ')' (index.js:2)"),
    PYTHON: ("def lambda_handler(input, callback):\n    callback(None, {)\n", "SyntaxError: closing parenthesis ')' does not match opening parenthesis '{' (index.py, line 2)"),  # noqa: E501
}
NO_ENTRY = {NODE: "function other(input) {\n  return 1;\n}\n", PYTHON: "def other(input):\n    return 1\n"}
BAD_TOP_LEVEL = {NODE: "throw new Error('at load');\n", PYTHON: "raise RuntimeError('at load')\n"}


@pytest.mark.parametrize("runtime", [NODE, PYTHON])
def test_code_that_does_not_load_fails_the_build(executor: LocalExecutor, runtime: str) -> None:
    code, message = SYNTAX[runtime]
    with pytest.raises(BuildFailed) as caught:
        deployed(executor, runtime, code)
    assert caught.value.message == message
    with pytest.raises(BuildFailed, match="does not define a function"):
        deployed(executor, runtime, NO_ENTRY[runtime])
    with pytest.raises(BuildFailed, match="at load"):
        deployed(executor, runtime, BAD_TOP_LEVEL[runtime])


def test_unknown_runtime_fails_the_build(executor: LocalExecutor) -> None:
    with pytest.raises(BuildFailed, match="Unsupported runtime"):
        deployed(executor, "cobol85", "IDENTIFICATION DIVISION.")


RPC = {
    NODE: ("async function lambda(input) {\n"
           "  const ok = await globalThis.__fngateRpc('secret.read', {key: 'k'});\n"
           "  let err = null;\n"
           "  try { await __fngateRpc('fail', {}); } catch (e) { err = {code: e.code, message: e.message}; }\n"
           "  return {ok, err};\n}\n"),
    PYTHON: ("import fngate_rpc\nasync def lambda_handler(input):\n"
             "    ok = await fngate_rpc.acall('secret.read', {'key': 'k'})\n"
             "    try:\n        fngate_rpc.call('fail', {})\n"
             "    except fngate_rpc.RpcError as e:\n        err = {'code': e.code, 'message': e.message}\n"
             "    return {'ok': ok, 'err': err}\n"),
}


@pytest.mark.parametrize("runtime", [NODE, PYTHON])
def test_rpc_bridge_round_trips(executor: LocalExecutor, runtime: str) -> None:
    result = run(executor, deployed(executor, runtime, RPC[runtime])).result
    assert result == {"ok": {"method": "secret.read", "params": {"key": "k"}, "account": ACCOUNT},
                      "err": {"code": "com.example.nope", "message": "nope"}}
