"""The gateway ↔ worker wire protocol, and the host side of its framing.

Newline-delimited JSON (UTF-8, one object per line, never a raw newline inside) over three pipes per worker:

* host → worker: the worker's **fd 0**;
* worker → host: the worker's **fd 3** (so stray writes to stdout cannot corrupt the protocol);
* the worker's fd 1 and fd 2 share one pipe the host drains into its own log, bounded (worker.StderrPump).

Lifecycle (a worker serves exactly one Target and one invocation at a time)::

    host → {"op": "load", "code": "...", "env": {...}, "limits": {"log_entries": 10, "log_chars": 5000}}
    worker → {"op": "ready", "form": "callback" | "async"}
           | {"op": "load-error", "message": "SyntaxError: ... (index.js:3)"}        (then the worker exits)
    host → {"id": 7, "op": "invoke", "input": {...}, "timeout_ms": 30000}
    worker → {"id": 7, "op": "result", "ok": true, "result": <any>, "logs": [...], "recycle": false}
           | {"id": 7, "op": "result", "ok": false, "kind": KIND, "message": "...", "logs": [...], "recycle": false}
    host → {"op": "exit"}                                                              (optional; EOF works too)

``kind`` is a key of ``chalicelib.domain.errors.FUNCTION_FAILURES``: custom-failure, runtime-exception, timeout,
log-limit. The worker keeps its own timer and answers ``timeout`` (with the logs so far) at ``timeout_ms``; the
host kills it anyway (a timed-out worker is never reused) and, if the worker is stuck, does so at timeout + 0.25 s
without logs. Past a log cap the invocation still runs to its end, then answers ``log-limit`` with one Error
record. ``recycle: true`` asks the host to retire the worker after this call (CPU budget nearly spent, or the
function left child processes behind). Log records: ``{"level": "Debug"|"Info"|"Warn"|"Error",
"message": <string or JSON value>, "extras": [...], "timestamp": <epoch ms>}``; a record's size is
``len(message)`` for a string message (else the length of its compact JSON) plus the length of the compact JSON
of ``extras`` when it is not empty.

Toolbelt RPC, only while an invocation is in flight::

    worker → {"op": "rpc", "rid": 3, "id": 7, "method": "secret.read", "params": {...}}
    host → {"op": "rpc-result", "rid": 3, "ok": true, "result": <any>}
         | {"op": "rpc-result", "rid": 3, "ok": false, "code": "...", "message": "..."}

The host answers with ``LocalExecutor(rpc_handler=...)``: ``rpc_handler(target, method, params) -> result``; an
exception becomes ``ok: false`` with its ``.code`` (else ``.v1_code``, else RPC_FAILED) and ``.message``.
What function code (and the toolbelt packages) call:

* Node: ``globalThis.__fngateRpc(method, params) -> Promise<result>``; a failure rejects with an ``Error`` whose
  ``.code`` and ``.message`` are the host's.
* Python: ``import fngate_rpc``; ``fngate_rpc.call(method, params)`` (blocking) or
  ``await fngate_rpc.acall(method, params)``; a failure raises ``fngate_rpc.RpcError`` (``.code``, ``.message``).

The handler runs in the gateway thread serving the invocation, one RPC at a time per worker: it must bound its own
time (the invocation deadline is checked again only when it returns). Where the toolbelts live: Node resolves
``require('lp-faas-toolbelt')`` through NODE_PATH = ``FNGATE_TOOLBELT_NODE_PATH`` (a directory holding package
dirs); Python appends ``FNGATE_TOOLBELT_PYTHON_PATH`` to the workers' sys.path. Egress hook: the function's env
carries ``FNGATE_EGRESS_SOCKET`` (``LocalExecutor(egress_socket=...)``); workers have no network otherwise.

Both sides are stdlib-only: this module is also loaded by path inside the zygote.
"""

from __future__ import annotations

import json
import os
import select
import time
from collections.abc import Callable
from typing import Any

# kinds (keys of domain.errors.FUNCTION_FAILURES)
CUSTOM_FAILURE = "custom-failure"
RUNTIME_EXCEPTION = "runtime-exception"
TIMEOUT = "timeout"
LOG_LIMIT = "log-limit"

# RPC failure codes the gateway itself produces
RPC_FAILED = "com.fngate.rpc.failed"
RPC_UNAVAILABLE = "com.fngate.rpc.unavailable"
RPC_NO_INVOCATION = "com.fngate.rpc.no-invocation"

WORKER_IN_FD = 0
WORKER_OUT_FD = 3
_READ_CHUNK = 1 << 16


class WorkerGone(Exception):
    """The worker closed its end (crashed, was killed, or exited) or spoke something that is not the protocol."""


class WorkerTimeout(Exception):
    """The worker did not answer before the deadline."""


def encode(message: dict[str, Any]) -> bytes:
    """One protocol line; compact, UTF-8, NaN refused (JSON has none)."""
    return json.dumps(message, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode() + b"\n"


Ready = Callable[[int, float, select.poll], bool]  # (fd, seconds, its poller) → ready in time


def poll_ready(fd: int, timeout_s: float, poller: select.poll) -> bool:
    """Blocks the calling thread until ``fd`` is ready (``poller`` is registered for it) or the time is up."""
    return bool(poller.poll(max(1, int(timeout_s * 1000 + 0.999))))


def _wait(ready: Ready, fd: int, poller: select.poll, deadline: float) -> None:
    remaining = deadline - time.monotonic()
    if remaining <= 0 or not ready(fd, remaining, poller):
        raise WorkerTimeout()


class LineReader:
    """Reads protocol lines from a non-blocking pipe with a deadline: poll + read in the caller's thread.

    One in-flight call per worker means the caller owns the pipe, so there is no reader thread to hand off to.
    """

    def __init__(self, fd: int, ready: Ready = poll_ready) -> None:
        os.set_blocking(fd, False)
        self.fd, self._ready = fd, ready
        self._buf = bytearray()
        self._scanned = 0
        self._poller = select.poll()
        self._poller.register(fd, select.POLLIN)

    def read(self, deadline: float) -> dict[str, Any]:
        while True:
            end = self._buf.find(b"\n", self._scanned)
            if end >= 0:
                line = bytes(self._buf[:end])
                del self._buf[: end + 1]
                self._scanned = 0
                try:
                    message = json.loads(line)
                except ValueError as err:
                    raise WorkerGone(f"garbled protocol line: {err}") from None
                if not isinstance(message, dict):
                    raise WorkerGone("protocol line is not an object")
                return message
            self._scanned = len(self._buf)
            self._fill(deadline)

    def _fill(self, deadline: float) -> None:
        _wait(self._ready, self.fd, self._poller, deadline)
        try:
            chunk = os.read(self.fd, _READ_CHUNK)
        except BlockingIOError:
            return
        except OSError as err:
            raise WorkerGone(str(err)) from None
        if not chunk:
            raise WorkerGone("end of stream")
        self._buf += chunk


class LineWriter:
    """Writes protocol lines to a non-blocking pipe, waiting for room at most until the deadline."""

    def __init__(self, fd: int, ready: Ready = poll_ready) -> None:
        os.set_blocking(fd, False)
        self.fd, self._ready = fd, ready
        self._poller = select.poll()
        self._poller.register(fd, select.POLLOUT)

    def write(self, data: bytes, deadline: float) -> None:
        view = memoryview(data)
        while view:
            try:
                view = view[os.write(self.fd, view):]
            except BlockingIOError:
                _wait(self._ready, self.fd, self._poller, deadline)
            except OSError as err:  # EPIPE: the worker is gone
                raise WorkerGone(str(err)) from None
