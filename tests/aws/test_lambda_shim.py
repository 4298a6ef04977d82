"""The Lambda runtime shim in-process: real Python (and Node) workers, the same scripts the local executor runs.

No Lambda here: handle() is called directly with a fake context, and once from an unpacked zip package in a fresh
interpreter, as Lambda's python3.11 runtime would load it (proving the package needs nothing from chalicelib).
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chalicelib.runtime.aws_lambda import build_zip, make_bundle
from chalicelib.runtime.base import Target
from chalicelib.runtime.lambda_shim import handler
from chalicelib.runtime.lambda_shim.handler import CRASHED, NO_TOOLBELT_HOST, Shim

LOCAL = Path(handler.__file__).resolve().parent.parent / "local"
pytestmark = pytest.mark.skipif(not (LOCAL / "worker_python.py").is_file() or not (LOCAL / "protocol.py").is_file(),
                                reason="the local executor's worker scripts (runtime/local/) are not there yet")
NODE = shutil.which("node")
needs_node = pytest.mark.skipif(not (NODE and (LOCAL / "worker_node.js").is_file()),
                                reason="node or runtime/local/worker_node.js is missing")


class Context:
    """What the shim uses of Lambda's context object."""

    def __init__(self, remaining_ms: int = 60_000) -> None:
        self.deadline = time.monotonic() + remaining_ms / 1000

    def get_remaining_time_in_millis(self) -> int:
        return int((self.deadline - time.monotonic()) * 1000)


def bundle(code: str, language: str = "python", **env: str) -> dict[str, Any]:
    return {"runtime": "python3.11" if language == "python" else "nodejs20", "language": language, "code": code,
            "env": env, "limits": {"log_entries": 10, "log_chars": 5000}}


def invoke(shim: Shim, code: str, payload: Any = None, language: str = "python", timeout_ms: int = 5000,
           context: Any = None, **env: str) -> dict[str, Any]:
    return shim.handle({"op": "invoke", "input": {"headers": [], "payload": payload}, "timeout_ms": timeout_ms,
                        "bundle": bundle(code, language, **env)}, context or Context())


@pytest.fixture
def shim() -> Iterator[Shim]:
    s = Shim(worker_dir=LOCAL, node_binary=NODE)
    yield s
    s.close()


ECHO = """def lambda_handler(input, callback):
    import os
    console.info("called", {"n": 1})
    callback(None, {"payload": input["payload"], "env": dict(os.environ), "pid": os.getpid()})
"""


# -- python -----------------------------------------------------------------------------------------------------------
def test_python_callback_form_result_logs_and_only_its_own_environment(shim: Shim) -> None:
    answer = invoke(shim, ECHO, {"x": 1}, GREETING="hi")
    assert (answer["op"], answer["ok"], answer["result"]["payload"]) == ("result", True, {"x": 1})
    assert answer["logs"][0]["level"] == "Info" and answer["logs"][0]["extras"] == [{"n": 1}]
    env = answer["result"]["env"]
    assert env["GREETING"] == "hi" and "AWS_SECRET_ACCESS_KEY" in os.environ  # the shim's own env has it …
    assert not any(key.startswith("AWS_") for key in env)  # … the function's never does
    assert "id" not in answer and "recycle" not in answer


def test_the_worker_stays_warm_and_is_replaced_when_the_code_changes(shim: Shim) -> None:
    first = invoke(shim, ECHO)["result"]["pid"]
    assert invoke(shim, ECHO)["result"]["pid"] == first
    changed = invoke(shim, ECHO + "# v2\n")["result"]["pid"]
    assert changed != first
    with pytest.raises(ProcessLookupError):
        os.kill(first, 0)  # the old worker was killed and reaped


@pytest.mark.parametrize(("code", "kind", "message"), [
    ("async def lambda_handler(input):\n    raise ValueError('bad input')\n", "custom-failure", "bad input"),
    ("def lambda_handler(input, callback):\n    callback(Exception('declined'))\n", "custom-failure", "declined"),
    ("async def lambda_handler(input):\n    return None + 1\n", "runtime-exception", "TypeError"),
    ("def lambda_handler(input):\n    for i in range(11):\n        console.info(i)\n", "log-limit", "log"),
    ("def lambda_handler(input):\n    return {1, 2}\n", "runtime-exception", "JSON"),
])
def test_python_failure_kinds(shim: Shim, code: str, kind: str, message: str) -> None:
    answer = invoke(shim, code)
    assert (answer["ok"], answer["kind"]) == (False, kind)
    assert message in answer["message"]


def test_timeout_is_reported_and_the_next_call_gets_a_fresh_worker(shim: Shim) -> None:
    # without the 300 ms limit the function would answer ok after its 5 s sleep: "timeout" proves the limit held
    slow = ("import time\ndef lambda_handler(input):\n    console.info('started')\n    time.sleep(5)\n"
            "    return 'late'\n")
    answer = invoke(shim, slow, timeout_ms=300)
    assert answer["kind"] == "timeout"
    assert invoke(shim, ECHO)["ok"] is True


def test_lambdas_remaining_time_bounds_the_function(shim: Shim) -> None:
    # its own limit is 30 s, so only Lambda's 1.5 s remaining time can stop a 5 s sleep before it answers ok
    slow = "import time\ndef lambda_handler(input):\n    time.sleep(5)\n    return 'late'\n"
    answer = invoke(shim, slow, timeout_ms=30_000, context=Context(remaining_ms=1500))
    assert answer["kind"] == "timeout"  # answered before Lambda kills us


def test_a_crashed_worker_is_a_runtime_exception_and_is_replaced(shim: Shim) -> None:
    crash = ("import os\ndef lambda_handler(input):\n"
             "    if input['payload'] == 'die':\n        os._exit(3)\n    return 1\n")
    assert invoke(shim, crash, "die") == {"op": "result", "ok": False, "kind": "runtime-exception",
                                          "message": CRASHED, "logs": []}
    assert invoke(shim, crash, "live")["result"] == 1


def test_check_and_load_errors(shim: Shim) -> None:
    assert shim.handle({"op": "check", "bundle": bundle(ECHO)}) == {"op": "ready", "form": "callback"}
    broken = shim.handle({"op": "check", "bundle": bundle("def lambda_handler(input):\n    return (\n")})
    assert broken["op"] == "load-error" and "SyntaxError" in broken["message"]
    missing = invoke(shim, "x = 1\n")
    assert missing["op"] == "load-error" and "lambda_handler" in missing["message"]


def test_toolbelt_calls_are_refused_without_a_host(shim: Shim) -> None:
    code = """import fngate_rpc
def lambda_handler(input):
    try:
        fngate_rpc.call("secret.read", {"key": "k"})
    except fngate_rpc.RpcError as err:
        return [err.code, err.message]
"""
    assert invoke(shim, code)["result"] == ["com.fngate.rpc.unavailable", NO_TOOLBELT_HOST]


def test_platform_problems_are_shim_errors(shim: Shim) -> None:
    assert shim.handle("not an object")["op"] == "shim-error"
    assert shim.handle({"op": "invoke", "input": {}})["message"].startswith("No function code")
    no_node = Shim(worker_dir=LOCAL, node_binary=None)
    answer = no_node.handle({"op": "invoke", "input": {}, "bundle": bundle("x", "node")})
    assert answer["op"] == "shim-error" and "container image" in answer["message"]


def test_the_zip_package_runs_on_its_own(tmp_path: Path) -> None:
    """Unpack the deployable zip and call lambda_shim.handler.handle the way Lambda's python3.11 runtime does."""
    target = Target(account_id="le1", function_uuid="u-1", manifest_version=1, runtime="python3.11", code=ECHO,
                    environment={"GREETING": "hi"})
    zipfile.ZipFile(io.BytesIO(build_zip(make_bundle(target, "python")))).extractall(tmp_path)
    script = ("import json, os, sys\nsys.path.insert(0, os.environ['LAMBDA_TASK_ROOT'])  # as Lambda's runtime does\n"
              "from lambda_shim.handler import handle\n"
              "print(json.dumps([handle(json.loads(a), None) for a in sys.argv[1:]]))")
    events = [{"op": "check"}, {"op": "invoke", "input": {"payload": 5}, "timeout_ms": 5000}]
    env = {"PATH": os.environ["PATH"], "LAMBDA_TASK_ROOT": str(tmp_path), "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256"}
    run = subprocess.run([sys.executable, "-I", "-c", script, *map(json.dumps, events)], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=60, check=True)
    check, answer = json.loads(run.stdout.splitlines()[-1])
    assert check == {"op": "ready", "form": "callback"}
    assert answer["result"]["payload"] == 5
    assert answer["result"]["env"]["X_LIVEPERSON_FUNCTION_UUID"] == "u-1"
    assert answer["result"]["env"]["GREETING"] == "hi"


# -- node -------------------------------------------------------------------------------------------------------------
@needs_node
def test_node_callback_and_async_forms(shim: Shim) -> None:
    callback = ("function lambda(input, callback) {\n  console.info('hi', input.payload);\n"
                "  const env = process.env;\n"
                "  callback(null, { got: input.payload, greeting: env.GREETING, aws: env.AWS_DEFAULT_REGION });\n}\n")
    answer = invoke(shim, callback, 3, "node", GREETING="hallo")
    assert answer["result"] == {"got": 3, "greeting": "hallo"}
    assert answer["logs"][0]["message"] == "hi" and answer["logs"][0]["extras"] == [3]
    assert invoke(shim, "async function lambda(input) {\n  return input.payload * 2;\n}\n", 4, "node")["result"] == 8


@needs_node
@pytest.mark.parametrize(("code", "kind", "message"), [
    ("async function lambda(input) {\n  throw new Error('declined');\n}\n", "custom-failure", "declined"),
    ("function lambda(input, callback) {\n  callback(new Error('no'));\n}\n", "custom-failure", "no"),
    ("async function lambda(input) {\n  return input.nope.deeper;\n}\n", "runtime-exception", "TypeError"),
    ("function lambda(input, callback) {\n  setTimeout(() => callback(null, 1), 10000);\n}\n", "timeout", "too long"),
])
def test_node_failure_kinds(shim: Shim, code: str, kind: str, message: str) -> None:
    answer = invoke(shim, code, language="node", timeout_ms=500)
    assert (answer["ok"], answer["kind"]) == (False, kind)
    assert message in answer["message"]


@needs_node
def test_node_load_error(shim: Shim) -> None:
    answer = shim.handle({"op": "check", "bundle": bundle("function lambda(input) {\n  return 1 +;\n}\n", "node")})
    assert answer["op"] == "load-error" and "SyntaxError" in answer["message"]
