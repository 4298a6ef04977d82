"""Pool behaviour with small limits: concurrency, the bounded queue, LRU eviction, undeploy, shutdown, refusal."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

import pytest

from chalicelib.domain.errors import TooManyRequests
from chalicelib.runtime.local import executor as executor_module
from chalicelib.runtime.local import protocol, worker_python
from chalicelib.runtime.local.executor import LocalExecutor
from chalicelib.runtime.local.sandbox import SandboxPolicy
from tests.runtime.conftest import NODE, PYTHON, need_sandbox, run, target

SLEEP = "import time\ndef lambda_handler(input):\n    time.sleep(input['payload'])\n    return 'ok'\n"


@pytest.fixture
def small() -> Iterator[LocalExecutor]:
    need_sandbox()
    ex = LocalExecutor(timeout_s=5.0, max_workers=3, per_target=2, queue_max=1, queue_timeout_s=0.3, spares=0)
    yield ex
    ex.close()


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ")[1][0] != "Z"
    except FileNotFoundError:
        return False


MEET = "import fngate_rpc\ndef lambda_handler(input):\n    return fngate_rpc.call('meet', None)\n"


def test_per_target_concurrency_runs_in_parallel() -> None:
    # GIVEN a function whose invocations each wait, through the RPC bridge, until the other one has arrived too
    need_sandbox()
    both_here = threading.Barrier(2, timeout=10)

    def meet(target: Any, method: str, params: Any) -> str:
        both_here.wait()  # BrokenBarrierError (the call fails) if the two never run at the same time
        return "met"

    ex = LocalExecutor(timeout_s=15.0, max_workers=3, per_target=2, spares=0, rpc_handler=meet)
    try:
        t = target(PYTHON, MEET)
        ex.deploy(t)
        # WHEN two invocations of it are made at once
        with ThreadPoolExecutor(2) as pool:
            results = [f.result().result for f in [pool.submit(run, ex, t) for _ in range(2)]]
        # THEN both met: they ran in two workers at the same time
        assert results == ["met", "met"]
        assert ex.stats()["targets"][t.key]["workers"] == 2
    finally:
        ex.close()


def test_full_queue_and_queue_deadline_answer_too_many_requests(small: LocalExecutor) -> None:
    t = target(PYTHON, SLEEP)
    small.deploy(t)
    errors: list[Exception] = []

    def call(payload: float) -> Any:
        try:
            return run(small, t, payload).result
        except TooManyRequests as err:
            errors.append(err)
            return None

    with ThreadPoolExecutor(4) as pool:
        busy = [pool.submit(call, 1.0) for _ in range(2)]  # both workers of the target
        time.sleep(0.15)
        queued = pool.submit(call, 0)  # waits in the queue (max 1) until its 0.3 s deadline
        time.sleep(0.05)
        with pytest.raises(TooManyRequests) as overflow:  # the queue is full: refused at once
            run(small, t, 0)
        assert overflow.value.retry_after == 1 and "waiting" in overflow.value.message
        assert queued.result() is None and [f.result() for f in busy] == ["ok", "ok"]
    assert len(errors) == 1 and "concurrency limit" in errors[0].message
    assert run(small, t, 0).result == "ok"


def test_lru_eviction_keeps_the_pool_under_its_cap(small: LocalExecutor) -> None:
    targets = [target(PYTHON, "def lambda_handler(input):\n    return input['payload']\n") for _ in range(5)]
    pids: list[int] = []
    for i, t in enumerate(targets):
        small.deploy(t)
        assert run(small, t, i).result == i
        assert small.stats()["total"] <= 3
        pids.append(small.stats()["targets"][t.key]["pids"][0])
    live = set(small.stats()["targets"])
    assert live == {t.key for t in targets[2:]}  # the two least recently used were evicted
    deadline = time.monotonic() + 2
    while any(_alive(p) for p in pids[:2]) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not any(_alive(p) for p in pids[:2]) and all(_alive(p) for p in pids[2:])
    assert run(small, targets[0], "back").result == "back"  # an evicted target just starts cold again


def test_undeploy_retires_every_version(small: LocalExecutor) -> None:
    first = target(PYTHON, SLEEP)
    second = replace(first, manifest_version=2)
    for t in (first, second):
        small.deploy(t)
    pids = [small.stats()["targets"][t.key]["pids"][0] for t in (first, second)]
    small.undeploy(first.account_id, first.function_uuid)
    assert small.stats()["total"] == 0
    small.undeploy(first.account_id, first.function_uuid)  # idempotent
    time.sleep(0.1)
    assert not any(_alive(p) for p in pids)


def test_busy_worker_of_an_undeployed_function_is_retired_when_it_finishes(small: LocalExecutor) -> None:
    t = target(PYTHON, SLEEP)
    small.deploy(t)
    pid = small.stats()["targets"][t.key]["pids"][0]
    thread = threading.Thread(target=run, args=(small, t, 0.3))
    thread.start()
    time.sleep(0.1)
    small.undeploy(t.account_id, t.function_uuid)
    thread.join()
    assert small.stats()["total"] == 0
    time.sleep(0.1)
    assert not _alive(pid)


def test_close_ends_every_worker() -> None:
    need_sandbox()
    ex = LocalExecutor(timeout_s=5.0)
    ts = [target(PYTHON, SLEEP), target(NODE, "async function lambda(input) {\n  return 1;\n}\n")]
    for t in ts:
        ex.deploy(t)
    pids = [ex.stats()["targets"][t.key]["pids"][0] for t in ts]
    ex.close()
    deadline = time.monotonic() + 2
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not any(_alive(p) for p in pids)


def test_the_python_worker_mirrors_the_protocol_constants() -> None:
    assert (worker_python.CUSTOM_FAILURE, worker_python.RUNTIME_EXCEPTION, worker_python.TIMEOUT,
            worker_python.LOG_LIMIT) == (protocol.CUSTOM_FAILURE, protocol.RUNTIME_EXCEPTION, protocol.TIMEOUT,
                                         protocol.LOG_LIMIT)
    assert (worker_python.RPC_FAILED, worker_python.RPC_NO_INVOCATION) == (protocol.RPC_FAILED,
                                                                           protocol.RPC_NO_INVOCATION)
    with open(os.path.join(os.path.dirname(protocol.__file__), "worker_node.js")) as js:
        source = js.read()
    for kind in (protocol.CUSTOM_FAILURE, protocol.RUNTIME_EXCEPTION, protocol.TIMEOUT, protocol.LOG_LIMIT,
                 protocol.RPC_FAILED, protocol.RPC_NO_INVOCATION):
        assert f"'{kind}'" in source


GATEWAY = """
import json, sys, time
from chalicelib.runtime.base import Target
from chalicelib.runtime.local.executor import LocalExecutor
ex = LocalExecutor()
ts = [Target("a", "p", 1, "python3.11", "def lambda_handler(input):\\n    return 1\\n"),
      Target("a", "n", 1, "nodejs20", "async function lambda(input) {\\n  return 1;\\n}\\n")]
for t in ts:
    ex.deploy(t)
print(json.dumps([ex.stats()["targets"][t.key]["pids"][0] for t in ts]), flush=True)
time.sleep(60)
"""


def test_workers_die_with_the_gateway() -> None:
    need_sandbox()
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    gateway = subprocess.Popen([sys.executable, "-c", GATEWAY], cwd=root, stdout=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONPATH": root})
    try:
        assert gateway.stdout is not None
        pids = json.loads(gateway.stdout.readline())
        assert all(_alive(p) for p in pids)
    finally:
        gateway.kill()
        gateway.wait()
    deadline = time.monotonic() + 3
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not any(_alive(p) for p in pids)


def test_a_policy_without_isolation_still_runs_functions() -> None:
    """What insecure mode falls back to on a host without root: same workers, no uid drop and no netns."""
    need_sandbox()
    ex = LocalExecutor(policy=SandboxPolicy(drop_privileges=False, isolate_network=False), spares=0)
    try:
        for runtime, code in ((PYTHON, "import os\ndef lambda_handler(input):\n    return os.getuid()\n"),
                              (NODE, "async function lambda(input) {\n  return process.getuid();\n}\n")):
            t = target(runtime, code)
            ex.deploy(t)
            assert run(ex, t).result == 0
            ex.undeploy(t.account_id, t.function_uuid)
    finally:
        ex.close()


def test_functions_reach_the_toolbelts_through_their_paths() -> None:
    need_sandbox()
    root = tempfile.mkdtemp(prefix="fngate-toolbelt-test-")
    try:
        os.chmod(root, 0o755)
        for relative, text in (
                ("node/lp-faas-toolbelt/index.js",
                 "exports.Toolbelt = { ask: (key) => globalThis.__fngateRpc('secret.read', { key }) };\n"),
                ("python/lp_faas_toolbelt.py",
                 "import fngate_rpc\ndef ask(key):\n    return fngate_rpc.call('secret.read', {'key': key})\n")):
            path = os.path.join(root, relative)
            os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
            with open(path, "w") as handle:
                handle.write(text)
            os.chmod(path, 0o644)
        ex = LocalExecutor(spares=0, rpc_handler=lambda target, method, params: {"value": params["key"] * 2},
                           toolbelt_node_path=os.path.join(root, "node"),
                           toolbelt_python_path=os.path.join(root, "python"))
        try:
            node = ("const { Toolbelt } = require('lp-faas-toolbelt');\n"
                    "async function lambda(input) {\n  return Toolbelt.ask('ab');\n}\n")
            python = "import lp_faas_toolbelt\ndef lambda_handler(input):\n    return lp_faas_toolbelt.ask('cd')\n"
            for runtime, code, expected in ((NODE, node, "abab"), (PYTHON, python, "cdcd")):
                t = target(runtime, code)
                ex.deploy(t)
                assert run(ex, t).result == {"value": expected}
        finally:
            ex.close()
    finally:
        shutil.rmtree(root)


def test_node_workers_start_from_a_snapshot_and_fall_back_to_the_script(monkeypatch: pytest.MonkeyPatch) -> None:
    need_sandbox()
    ex = LocalExecutor(spares=0)
    try:
        assert ex.settle()
        assert ex._node_argv[-2:] == ["--snapshot-blob", "/opt/fngate/runtime/worker_node.blob"]
        t = target(NODE, "async function lambda(input) {\n  return process.execArgv;\n}\n")
        ex.deploy(t)
        assert "--snapshot-blob" in run(ex, t).result
        before = list(ex._node_argv)
        warnings: list[str] = []
        monkeypatch.setattr(executor_module.log, "warning", lambda message, *args: warnings.append(message % args))
        ex._snapshot_node("/nonexistent/worker_node.js", None)  # a build that fails changes nothing
        assert ex._node_argv == before and any("no Node start-up snapshot" in w for w in warnings)
    finally:
        ex.close()
