"""Runs Node toolbelt snippets under real node (tests/toolbelt/harness.js), answering their RPCs from Python."""

from __future__ import annotations

import json
import os
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chalicelib.toolbelt import NODE_PATH, NODE_PREINSTALLED
from tests.toolbelt.fakes import ACCOUNT, RpcFailure

HARNESS = Path(__file__).with_name("harness.js")
Rpc = Callable[[str, Any], Any] | dict[str, Any] | None


@dataclass
class NodeRun:
    ok: bool
    value: Any
    error: dict[str, Any]
    calls: list[tuple[str, Any]]
    stderr: str

    def methods(self) -> list[str]:
        return [method for method, _ in self.calls]


def answer_rpc(rpc: Rpc, method: str, params: Any) -> Any:
    if callable(rpc):
        return rpc(method, params)
    if rpc is None or method not in rpc:
        raise RpcFailure("com.liveperson.faas.handler.unknown-rpc", f"no fake for {method}")
    value = rpc[method]
    if isinstance(value, Exception):
        raise value
    return value(params) if callable(value) else value


def node_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """A clean environment: nothing inherited that could route traffic elsewhere."""
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": "/tmp",
            "NODE_PATH": f"{NODE_PATH}:{NODE_PREINSTALLED}", "X_LIVEPERSON_BRAND_ID": ACCOUNT, **(extra or {})}


def run_node(code: str, rpc: Rpc = None, env: dict[str, str] | None = None, timeout: float = 20.0) -> NodeRun:
    """Run ``code`` (an async function body) in node with the toolbelt; answer its RPCs with ``rpc``."""
    proc = subprocess.Popen(["node", str(HARNESS)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=node_env(env), text=True)
    watchdog = threading.Timer(timeout, proc.kill)
    watchdog.start()
    calls: list[tuple[str, Any]] = []
    done: dict[str, Any] = {"ok": False, "error": {"message": "node exited without an answer"}}
    try:
        assert proc.stdin and proc.stdout
        proc.stdin.write(json.dumps({"op": "run", "code": code}) + "\n")
        proc.stdin.flush()
        for line in proc.stdout:
            msg = json.loads(line)
            if msg["op"] == "done":
                done = msg
                break
            calls.append((msg["method"], msg["params"]))
            try:
                reply = {"op": "rpc-result", "rid": msg["rid"], "ok": True,
                         "result": answer_rpc(rpc, msg["method"], msg["params"])}
            except Exception as err:
                reply = {"op": "rpc-result", "rid": msg["rid"], "ok": False,
                         "code": getattr(err, "code", "com.fngate.rpc.failed"), "message": str(err)}
            try:
                proc.stdin.write(json.dumps(reply) + "\n")
                proc.stdin.flush()
            except BrokenPipeError:  # node finished meanwhile; its answer is still in the pipe
                continue
        proc.wait(timeout)
        stderr = proc.stderr.read() if proc.stderr else ""
    finally:
        watchdog.cancel()
        proc.kill()
    return NodeRun(bool(done.get("ok")), done.get("value"), done.get("error") or {}, calls, stderr)
