"""The Python worker: loads one function's code and runs its invocations, one at a time (protocol.py).

It is not started as a program: the zygote imports it once (prepare()), and each forked, sandboxed child calls
main(). Stdlib only. The function's code sees ``console`` (debug/info/warn/error), ``print`` (each line an Info
record), ``logging`` (records reaching the root logger: WARNING and up unless the code lowers its level),
``import fngate_rpc`` (the toolbelt bridge), and ``os.environ`` holding only its own variables.

Error rule (the only place it lives for Python):
* return-value form (``async def lambda_handler(input)`` or ``def lambda_handler(input)``): raising one of
  RUNTIME_ERRORS (built-in programming faults), or a BaseException that is not an Exception (SystemExit…), is a
  runtime-exception; raising anything else (Exception, ValueError, RuntimeError, OSError, your own classes) is
  deliberate: custom-failure with ``str(err)``.
* callback form (``def lambda_handler(input, callback)``): ``callback(err)`` is a custom-failure; any exception
  escaping the handler is a runtime-exception (V1: uncaught exception).
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import fcntl
import gc
import inspect
import itertools
import json
import logging
import os
import signal
import sys
import threading
import time
import types
from typing import Any

try:  # in the zygote there is no package: zygote.py has loaded the sibling by path under this name
    import _fngate_worker_python_logs as book  # type: ignore[import-not-found]
except ImportError:
    from chalicelib.runtime.local import worker_python_logs as book

# mirrors of protocol.py (this module cannot import the package; tests keep them equal)
CUSTOM_FAILURE, RUNTIME_EXCEPTION, TIMEOUT, LOG_LIMIT = book.CUSTOM_FAILURE, "runtime-exception", "timeout", "log-limit"
RPC_FAILED, RPC_NO_INVOCATION = "com.fngate.rpc.failed", "com.fngate.rpc.no-invocation"
TIMEOUT_MESSAGE = "Lambda Execution is taking too long"
EGRESS_SOCKET = "FNGATE_EGRESS_SOCKET"

RUNTIME_ERRORS: tuple[type[BaseException], ...] = (
    TypeError, NameError, AttributeError, LookupError, ArithmeticError, AssertionError, ImportError, SyntaxError,
    RecursionError, NotImplementedError, MemoryError, SystemError)
PRELOAD = ("base64", "collections", "dataclasses", "datetime", "decimal", "functools", "hashlib", "hmac", "math",
           "random", "re", "string", "typing", "urllib.parse", "uuid", "zoneinfo")

Outcome = tuple[str, Any]  # ("ok", result) | (kind, message)
_channel: Channel | None = None
_handler: Any = None
_form = "async"
_worker_pid = 0
_recycle = False
_rpc_lock = threading.Lock()
_rids = itertools.count(1)
describe, error_message = book.describe, book.error_message


def classify(exc: BaseException) -> Outcome:
    if isinstance(exc, RUNTIME_ERRORS) or not isinstance(exc, Exception):
        return RUNTIME_EXCEPTION, describe(exc)
    return CUSTOM_FAILURE, error_message(exc)


def prepare(extra_paths: list[str], route_imports: Any) -> None:
    """In the zygote (root): add the toolbelt path, pre-import common modules (every child shares them), make
    imports work for the worker uids (sandbox.route_imports), and freeze the heap so the collector does not touch
    (and so copy) the zygote's objects in every child."""
    sys.path.extend(p for p in extra_paths if p not in sys.path)
    for name in PRELOAD:
        __import__(name)
    route_imports()
    gc.freeze()


# -- the pipe --------------------------------------------------------------------------------------------------------
class Channel:
    def __init__(self, in_fd: int, out_fd: int) -> None:
        self.reader = os.fdopen(in_fd, "rb", buffering=1 << 16)
        self.out_fd = out_fd
        self._wlock = threading.Lock()

    def read(self) -> dict[str, Any] | None:
        line = self.reader.readline()
        return json.loads(line) if line else None

    def write(self, data: bytes) -> None:
        with self._wlock:
            view = memoryview(data)
            while view:
                view = view[os.write(self.out_fd, view):]

    def send(self, message: dict[str, Any]) -> None:
        self.write(_encode(message))


def _encode(message: dict[str, Any]) -> bytes:
    return json.dumps(message, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode() + b"\n"


# -- the RPC bridge (module fngate_rpc) -------------------------------------------------------------------------------
class RpcError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


def rpc_call(method: str, params: Any = None) -> Any:
    """Ask the gateway (its rpc_handler) and wait for the answer; only during an invocation."""
    with _rpc_lock:
        inv, channel = book.current, _channel
        if inv is None or inv.finished or channel is None:
            raise RpcError(RPC_NO_INVOCATION, "No invocation is in progress")
        rid = next(_rids)
        channel.send({"op": "rpc", "rid": rid, "id": inv.id, "method": method, "params": params})
        while True:
            msg = channel.read()
            if msg is None:
                os._exit(0)
            if msg.get("op") == "rpc-result" and msg.get("rid") == rid:
                break
    if msg.get("ok"):
        return msg.get("result")
    raise RpcError(msg.get("code") or RPC_FAILED, msg.get("message") or "")


async def rpc_acall(method: str, params: Any = None) -> Any:
    return await asyncio.to_thread(rpc_call, method, params)


def _rpc_module() -> types.ModuleType:
    module = types.ModuleType("fngate_rpc", "The gateway bridge the toolbelt is built on: call(method, params).")
    module.__dict__.update(call=rpc_call, acall=rpc_acall, RpcError=RpcError, console=book.CONSOLE)
    return module


# -- load and run ------------------------------------------------------------------------------------------------------
class _SoftTimeout(Exception):
    pass


# The runtime's own layer against starting processes (the seccomp filter refuses the same below it): Python's ways
# to fork or exec answer PermissionError, and ctypes (raw calls into libc) cannot be imported. Python code can
# still dig out objects by introspection (gc, frames), so for Python this layer is a courtesy; the filter is the
# boundary.
REFUSED_CALLS = ("fork", "forkpty", "vfork", "execv", "execve", "execvp", "execvpe", "execl", "execle", "execlp",
                 "execlpe", "fexecve", "spawnv", "spawnve", "spawnvp", "spawnvpe", "spawnl", "spawnle", "spawnlp",
                 "spawnlpe", "posix_spawn", "posix_spawnp", "system", "popen")
REFUSED_MODULES = ("ctypes", "_ctypes")


def _refused(name: str) -> Any:
    def refuse(*_args: Any, **_kwargs: Any) -> Any:
        raise PermissionError(1, f"{name} is not available to functions")

    return refuse


class _RefusedModules:
    """A meta path finder that refuses REFUSED_MODULES (first on sys.meta_path)."""

    @staticmethod
    def find_spec(name: str, *_args: Any) -> None:
        if name.partition(".")[0] in REFUSED_MODULES:
            raise ModuleNotFoundError(f"Module '{name}' is not available to functions", name=name)


def guard_runtime() -> None:
    import _posixsubprocess
    import posix

    for module, prefix in ((os, "os"), (posix, "os")):
        for name in REFUSED_CALLS:
            if hasattr(module, name):
                setattr(module, name, _refused(f"{prefix}.{name}"))
    _posixsubprocess.fork_exec = _refused("subprocess")  # subprocess, multiprocessing and asyncio's spawns
    if "subprocess" in sys.modules:  # imported already (asyncio does): it holds its own reference
        setattr(sys.modules["subprocess"], "_fork_exec", _posixsubprocess.fork_exec)  # noqa: B010
    for name in [m for m in sys.modules if m.partition(".")[0] in REFUSED_MODULES or m.startswith("_fngate_")]:
        if name != "_fngate_worker_python_logs":  # the sandbox's own modules hold ctypes: out of reach by import
            del sys.modules[name]
    sys.meta_path.insert(0, _RefusedModules)  # type: ignore[arg-type]


def load(msg: dict[str, Any]) -> None:
    """Run the code's top level in a fresh module ``index`` and pick the form from lambda_handler's signature."""
    global _handler, _form
    os.environ.clear()
    os.environ.update(msg.get("env") or {})
    if os.environ.get(EGRESS_SOCKET):
        _egress_relay().start_from_env()  # before any user code: HTTP(S)_PROXY → the relay on our loopback
    if msg.get("guard", True):
        guard_runtime()
    limits = msg.get("limits") or {}
    book.limits[:] = [int(limits.get("log_entries", 10)), int(limits.get("log_chars", 5000))]
    if msg.get("deps"):  # the function's installed packages come first
        sys.path.insert(0, msg["deps"])
    module = types.ModuleType("index")
    module.__dict__.update(__file__="index.py", console=book.CONSOLE)
    sys.modules["index"] = module
    exec(compile(msg["code"], "index.py", "exec"), module.__dict__)
    handler = module.__dict__.get("lambda_handler")
    if not callable(handler):
        raise LookupError("The code does not define a function lambda_handler")
    positional = [p for p in inspect.signature(handler).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)]
    _handler = handler
    _form = "callback" if len(positional) >= 2 else "async"  # an async callback-form handler is awaited too


def _egress_relay() -> Any:
    """egress_relay.py: preloaded by the zygote (sandbox.egress_relay); the package's copy outside it (tests)."""
    module = sys.modules.get("_fngate_egress_relay")
    if module is None:
        from chalicelib.runtime import egress_relay as module
    return module


def _load_error(exc: BaseException) -> str:
    if isinstance(exc, SyntaxError):
        return f"{type(exc).__name__}: {exc.msg} (index.py, line {exc.lineno})"
    return describe(exc)


_loop: asyncio.AbstractEventLoop | None = None


def _await(awaitable: Any, deadline: float) -> Any:
    global _loop
    if _loop is None:
        _loop = asyncio.new_event_loop()
        asyncio.set_event_loop(_loop)

    async def wrapped() -> Any:
        return await awaitable

    task = _loop.create_task(wrapped())
    expired: list[bool] = []
    alarm = _loop.call_later(max(0.0, deadline - time.monotonic()), lambda: expired.append(task.cancel()))
    try:
        result = _loop.run_until_complete(task)  # cheaper than asyncio.wait(timeout=...): ~20 µs a call
    except asyncio.CancelledError:
        if expired:
            raise _SoftTimeout() from None
        raise
    finally:
        alarm.cancel()
    if expired:
        raise _SoftTimeout()
    return result


def _run(inv: book.Invocation, event: Any, deadline: float) -> Outcome:
    if _form == "callback":
        try:
            returned = _handler(event, inv.callback)
            if inspect.isawaitable(returned):
                _await(returned, deadline)
        except _SoftTimeout:
            pass
        except BaseException as exc:
            return inv.answer or (RUNTIME_EXCEPTION, describe(exc))
        if not inv.answered.wait(max(0.0, deadline - time.monotonic())):
            return TIMEOUT, TIMEOUT_MESSAGE
        return inv.answer or (TIMEOUT, "")
    try:
        result = _handler(event)
        return "ok", _await(result, deadline) if inspect.isawaitable(result) else result
    except _SoftTimeout:
        return TIMEOUT, TIMEOUT_MESSAGE
    except BaseException as exc:
        return classify(exc)


def _has_children() -> bool:
    """Whether the function left processes behind (then this worker is recycled, and they are swept)."""
    try:
        while (pid := os.waitpid(-1, os.WNOHANG)[0]) > 0:
            pass
        return pid == 0
    except ChildProcessError:
        return False


def invoke(msg: dict[str, Any]) -> None:
    inv = book.Invocation(msg.get("id"))
    book.begin(inv)
    outcome = _run(inv, msg.get("input"), time.monotonic() + msg.get("timeout_ms", 30_000) / 1000)
    if os.getpid() != _worker_pid:  # a process the function forked came back here: it must never answer
        os._exit(0)
    sys.stdout.flush()
    logs, overflow = book.finish(inv)
    if overflow:
        outcome = LOG_LIMIT, overflow
    base = {"id": inv.id, "op": "result", "logs": logs, "recycle": _recycle or _has_children()}
    line = b""
    if outcome[0] == "ok":
        try:
            line = _encode({**base, "ok": True, "result": outcome[1]})
        except (TypeError, ValueError, RecursionError) as exc:
            outcome = RUNTIME_EXCEPTION, f"The function's result is not JSON-serialisable: {describe(exc)}"
    if not line:
        line = _encode({**base, "ok": False, "kind": outcome[0], "message": outcome[1]})
    assert _channel is not None
    _channel.write(line)


_WARM_CODE = "async def lambda_handler(input):\n    console.info('warm', {'a': [1]})\n    return {'ok': input}\n"


def warm_up() -> None:
    """While idle (before any code arrives), run the load and invoke paths once on a throwaway function: a forked
    worker pays a copy-on-write fault the first time it touches each page, ~1 ms per path here; better now."""
    global _handler
    load({"op": "load", "code": _WARM_CODE, "env": dict(os.environ), "guard": False})  # the real load guards
    inv = book.Invocation(0)
    book.begin(inv)
    outcome = _run(inv, {"headers": [{"key": "k", "value": "v"}], "payload": {"n": 1.5}}, time.monotonic() + 5)
    json.loads(_encode({"id": 0, "op": "result", "ok": True, "result": outcome[1], "logs": book.finish(inv)[0]}))
    _handler = None
    sys.modules.pop("index", None)


def _orphan() -> None:
    """In any process the function forks: drop the protocol pipes so only the worker itself ever answers."""
    global _channel
    if _channel is not None:
        for fd in (_channel.reader.fileno(), _channel.out_fd):
            with contextlib.suppress(OSError):
                os.close(fd)
        _channel = None


def _on_sigxcpu(_signum: int, _frame: Any) -> None:
    global _recycle
    _recycle = True


def main() -> None:
    """Entry point in the sandboxed child: move the pipes off fds 0/3, load, then serve invocations until EOF."""
    global _channel, _worker_pid
    _worker_pid = os.getpid()
    in_fd, out_fd = (fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in (0, 3))
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.close(3)
    os.register_at_fork(after_in_child=_orphan)
    signal.signal(signal.SIGXCPU, _on_sigxcpu)
    sys.modules["fngate_rpc"] = _rpc_module()
    builtins.console = book.CONSOLE  # type: ignore[attr-defined]
    sys.stdout = book.PrintCapture()
    logging.root.addHandler(book.LogHandler())
    _channel = channel = Channel(in_fd, out_fd)
    warm_up()
    first = channel.read()
    if not first or first.get("op") != "load":
        os._exit(2)
    try:
        load(first)
    except BaseException as exc:
        channel.send({"op": "load-error", "message": _load_error(exc)})
        os._exit(0)
    channel.send({"op": "ready", "form": _form})
    while True:
        with _rpc_lock:
            msg = channel.read()
        if msg is None or msg.get("op") == "exit":
            os._exit(0)
        if msg.get("op") == "invoke":
            invoke(msg)
