"""Faults and confinement on real workers: crashes, kills, memory, fork bombs, network, identity and limits."""

from __future__ import annotations

import os
import signal
import socket
import threading
from typing import Any

import pytest

from chalicelib.domain.errors import FunctionFailed, RuntimeException
from chalicelib.runtime.local.executor import CRASHED, LocalExecutor
from chalicelib.runtime.local.sandbox import SandboxPolicy
from tests.runtime.conftest import NODE, PYTHON, deployed, idle_pid, need_sandbox, run

OK_AFTER = {  # payload "crash" misbehaves, anything else answers "ok"
    "node-exit": (NODE, "async function lambda(input) {\n  if (input.payload === 'crash') process.exit(1);\n  return 'ok';\n}\n"),  # noqa: E501
    "node-heap": (NODE, "async function lambda(input) {\n  if (input.payload === 'crash') { const a = []; for (;;) a.push(new Array(1e6).fill(1.5)); }\n  return 'ok';\n}\n"),  # noqa: E501
    "python-segfault": (PYTHON, "import faulthandler\ndef lambda_handler(input):\n    if input['payload'] == 'crash':\n        faulthandler._read_null()\n    return 'ok'\n"),  # noqa: E501
    "python-exit": (PYTHON, "import os\ndef lambda_handler(input, callback):\n    if input['payload'] == 'crash':\n        os._exit(1)\n    callback(None, 'ok')\n"),  # noqa: E501
}


@pytest.mark.parametrize("case", list(OK_AFTER))
def test_a_crash_fails_the_call_and_the_next_one_gets_a_fresh_worker(executor: LocalExecutor, case: str) -> None:
    runtime, code = OK_AFTER[case]
    t = deployed(executor, runtime, code)
    with pytest.raises(RuntimeException) as caught:
        run(executor, t, "crash")
    assert caught.value.message == CRASHED
    assert run(executor, t, "again").result == "ok"


SLEEPY = {
    NODE: "async function lambda(input) {\n  await new Promise((r) => setTimeout(r, input.payload));\n  return 1;\n}\n",
    PYTHON: "import time\ndef lambda_handler(input):\n    time.sleep(input['payload'] / 1000)\n    return 1\n",
}


@pytest.mark.parametrize("runtime", [NODE, PYTHON])
def test_worker_killed_mid_call(executor: LocalExecutor, runtime: str) -> None:
    t = deployed(executor, runtime, SLEEPY[runtime])
    pid = idle_pid(executor, t)
    threading.Timer(0.2, os.kill, (pid, signal.SIGKILL)).start()
    with pytest.raises(RuntimeException, match="crashed"):
        run(executor, t, 3000)
    assert run(executor, t, 1).result == 1


MEMORY = {
    "python-at-once": (PYTHON, "def lambda_handler(input):\n    if input['payload']:\n        return len(bytearray(1 << 30))\n    return 'ok'\n"),  # noqa: E501
    "python-gradually": (PYTHON, "def lambda_handler(input):\n    hog = []\n    while input['payload']:\n        hog.append(bytearray(8 << 20))\n    return 'ok'\n"),  # noqa: E501
    "node-buffer": (NODE, "async function lambda(input) {\n  if (input.payload) return Buffer.alloc(2 ** 30).length;\n  return 'ok';\n}\n"),  # noqa: E501
}


@pytest.mark.parametrize("case", list(MEMORY))
def test_memory_hogs_fail_and_the_next_call_is_fine(executor: LocalExecutor, case: str) -> None:
    runtime, code = MEMORY[case]
    t = deployed(executor, runtime, code)
    with pytest.raises(RuntimeException) as caught:
        run(executor, t, True)
    assert caught.value.message.startswith("MemoryError" if runtime == PYTHON else "RangeError")
    assert run(executor, t, False).result == "ok"


THREADS = ("import threading, time\ndef lambda_handler(input):\n    n = 0\n    try:\n        while True:\n"
           "            threading.Thread(target=time.sleep, args=(2,), daemon=True).start()\n"
           "            n += 1\n    except RuntimeError as err:\n        return {'started': n, 'error': str(err)}\n")


def test_threads_are_bounded_by_the_task_limit(executor: LocalExecutor) -> None:
    t = deployed(executor, PYTHON, THREADS)
    result = run(executor, t).result
    assert result["error"] == "can't start new thread"
    assert 0 < result["started"] < SandboxPolicy().tasks


def test_fork_is_refused(executor: LocalExecutor) -> None:
    code = "import os\ndef lambda_handler(input):\n    if input['payload']:\n        os.fork()\n    return 'ok'\n"
    t = deployed(executor, PYTHON, code)
    with pytest.raises(FunctionFailed, match=r"os\.fork is not available to functions"):
        run(executor, t, True)
    assert run(executor, t, False).result == "ok"


def test_child_process_is_not_available_to_node(executor: LocalExecutor) -> None:
    code = "async function lambda(input) {\n  require('child_process').execSync('true');\n}\n"
    with pytest.raises(FunctionFailed, match="Module 'child_process' is not available to functions"):
        run(executor, deployed(executor, NODE, code))


CONNECT = {
    NODE: ("const net = require('net');\nasync function lambda(input) {\n"
           "  return await new Promise((resolve) => {\n"
           "    const s = net.connect(input.payload, '127.0.0.1', () => resolve('connected'));\n"
           "    s.on('error', (e) => resolve(e.code));\n  });\n}\n"),
    PYTHON: ("import socket\ndef lambda_handler(input):\n    try:\n"
             "        socket.create_connection(('127.0.0.1', input['payload']), timeout=2)\n"
             "        return 'connected'\n    except OSError as err:\n        return err.__class__.__name__\n"),
}


@pytest.mark.parametrize("runtime", [NODE, PYTHON])
def test_no_network_not_even_the_gateways_loopback(executor: LocalExecutor, runtime: str) -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        result = run(executor, deployed(executor, runtime, CONNECT[runtime]), port).result
        server.settimeout(0.05)
        with pytest.raises(TimeoutError):
            server.accept()
    # the worker's own loopback is up (for the egress relay), but nothing of the gateway's listens there
    assert result in ("ECONNREFUSED", "ConnectionRefusedError")


IDENTITY = {
    NODE: ("const fs = require('fs');\nasync function lambda(input) {\n"
           "  return {uid: process.getuid(), gid: process.getgid(), cwd: process.cwd(),\n"
           "          files: fs.readdirSync('.'), limits: fs.readFileSync('/proc/self/limits', 'utf8'),\n"
           "          mode: fs.statSync('.').mode & 0o777, owner: fs.statSync('.').uid};\n}\n"),
    PYTHON: ("import os\ndef lambda_handler(input):\n"
             "    return {'uid': os.getuid(), 'gid': os.getgid(), 'cwd': os.getcwd(), 'files': os.listdir('.'),\n"
             "            'limits': open('/proc/self/limits').read(), 'mode': os.stat('.').st_mode & 0o777,\n"
             "            'owner': os.stat('.').st_uid}\n"),
}


def _limit(limits: str, name: str) -> str:
    line = next(line for line in limits.splitlines() if line.startswith(name))
    return line[len(name):].split()[0]


@pytest.mark.parametrize("runtime", [NODE, PYTHON])
def test_workers_run_unprivileged_in_a_private_dir_with_limits(executor: LocalExecutor, runtime: str) -> None:
    info: dict[str, Any] = run(executor, deployed(executor, runtime, IDENTITY[runtime])).result
    policy = SandboxPolicy()
    assert info["uid"] >= policy.uid_base and info["gid"] == info["uid"]  # in the executor's own block of uids
    assert info["files"] == [] and info["cwd"] == "/tmp"  # its own private /tmp (see tests/sandbox)
    assert info["mode"] == 0o700 and info["owner"] == info["uid"]
    limits = info["limits"]
    memory = policy.memory_mb if runtime == PYTHON else policy.node_address_space_mb
    assert _limit(limits, "Max address space") == str(memory << 20)
    assert _limit(limits, "Max processes") == str(policy.tasks)
    assert _limit(limits, "Max open files") == str(policy.open_files)
    assert _limit(limits, "Max file size") == str(policy.file_size_mb << 20)
    assert _limit(limits, "Max core file size") == "0"
    assert _limit(limits, "Max cpu time") == str(policy.cpu_budget_s)


@pytest.mark.parametrize("runtime", [NODE, PYTHON])
def test_large_input_and_result_cross_the_pipes(executor: LocalExecutor, runtime: str) -> None:
    code = {NODE: "async function lambda(input) {\n  return input.payload + '!';\n}\n",
            PYTHON: "def lambda_handler(input):\n    return input['payload'] + '!'\n"}[runtime]
    big = "é" * 600_000  # 1.2 MB of UTF-8: far past a pipe's buffer both ways
    assert run(executor, deployed(executor, runtime, code), big).result == big + "!"


def test_a_spent_cpu_budget_recycles_the_worker_after_its_call() -> None:
    need_sandbox()
    ex = LocalExecutor(policy=SandboxPolicy(cpu_budget_s=1), spares=0)
    try:
        code = "import time\ndef lambda_handler(input):\n    while time.process_time() < input['payload']:\n        pass\n    return 'ok'\n"  # noqa: E501
        t = deployed(ex, PYTHON, code)
        pid = idle_pid(ex, t)
        assert run(ex, t, 1.3).result == "ok"  # SIGXCPU at 1 s: the call still completes...
        assert pid not in ex.stats().get("targets", {}).get(t.key, {}).get("pids", [])  # ...then it is replaced
        assert run(ex, t, 0).result == "ok"
    finally:
        ex.close()
