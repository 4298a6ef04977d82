"""The Lambda runtime shim: starts one worker per container (cold start) and relays each invocation to it.

Why a shim and not a handler per language: the local executor's worker scripts (local/worker_python.py,
local/worker_node.js) hold the whole programming model — both forms, the error kinds, log capture and caps, the
soft timeout — so running those same scripts here makes a function behave on AWS exactly as it does locally. The
shim speaks their pipe protocol with local/protocol.py (stdlib-only, loaded by path) and answers LambdaExecutor.

Events (from chalicelib.runtime.aws_lambda.LambdaExecutor) and answers::

    {"op": "invoke", "input": <any>, "timeout_ms": 30000, "bundle"?: {...}}
        → the worker's result without id/recycle: {"op": "result", "ok": true, "result": ..., "logs": [...]}
                                                | {"op": "result", "ok": false, "kind": KIND, "message", "logs"}
    {"op": "check", "bundle"?: {...}}        → {"op": "ready", "form": "callback" | "async"}   (deploy: does it load?)
    {"op": "build", "bundle": {...}}         → {"op": "built", "key": lock key}   (deploy: its dependencies)
    any → {"op": "load-error", "message"}      (the code or its dependencies do not load: a build error)
           | {"op": "shim-error", "message"}   (the platform is wrong: no code, no node binary)

The bundle is what a worker needs: {"runtime", "language", "code", "env", "limits", "deps"?}; ``deps``
({"declared", "key", "limits"}) are installed in the container first (packages.py). A zip package carries it as
runtime.json (all but the code) plus function.py or function.js at the package root. A container image cannot
carry per-function code, so there the executor sends the bundle with every event (≤ 100 kB of code) and the shim
keeps its worker while the bundle's digest is unchanged: the gateway, the only caller, stays the authority on which
code is live (no window where a just-published version refuses the previous code during a redeploy). Workers start
with a minimal environment and then see only the bundle's ``env``, never the Lambda's own variables (the execution
role's credentials are among them). They run as the shim's uid, so a function could still read the shim's
/proc/PID/environ: the functions' execution role must grant nothing beyond writing CloudWatch Logs.

Toolbelt and egress (outbound.py): an invoke event may carry ``"toolbelt": {"url", "token"}`` — the worker's rpc
requests are then POSTed to that gateway route with the token and its answer is handed back (without it they are
answered "unavailable") — and ``"egress": {"proxy", "token"}``: the worker's HTTP_PROXY then points at a relay on
127.0.0.1 that adds the invocation's token and forwards to the egress proxy service. The Lambda sits in subnets
with no other way out, so the proxy's per-account allowlist is the function's whole network.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import itertools
import os
import shutil
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from . import outbound, packages
from .bundle import ShimError, bundle_digest, read_package

HERE = Path(__file__).resolve().parent
ENV_BUNDLE_DIR = "FNGATE_BUNDLE_DIR"
ENV_WORKER_DIR = "FNGATE_WORKER_DIR"
ENV_NODE = "FNGATE_NODE_BINARY"
ENV_TOOLBELT_NODE = "FNGATE_TOOLBELT_NODE_PATH"
ENV_TOOLBELT_PYTHON = "FNGATE_TOOLBELT_PYTHON_PATH"
ENV_DEPS_ROOT = "FNGATE_DEPS_ROOT"  # where the container installs dependencies (default /tmp/fngate-deps)
BASE_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": "/tmp"}
LOAD_TIMEOUT_S = 10.0
GRACE_S = 0.25  # the worker reports its own timeout (with logs); past this the shim kills it
LAMBDA_MARGIN_MS = 300  # answer before Lambda itself stops the container
DEFAULT_TIMEOUT_MS = 30_000
TIMEOUT_MESSAGE = "Lambda Execution is taking too long"
CRASHED = "The function's worker process crashed or exited during the invocation"
NO_TOOLBELT_HOST = "The toolbelt host is not reachable from AWS Lambda"

_PYTHON_BOOT = """
import importlib.util, sys
def load(name):
    spec = importlib.util.spec_from_file_location("_fngate_" + name, sys.argv[1] + "/" + name + ".py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module
load("worker_python_logs")
worker = load("worker_python")
worker.prepare([p for p in sys.argv[2:] if p], lambda: None)
worker.main()
"""



class LoadError(Exception):
    """The function's code does not load (the worker said load-error, exited, or hung while loading)."""


# -- protocol messages (framing and kinds come from local/protocol.py) -------------------------------------------------
def load_protocol(worker_dir: Path) -> ModuleType:
    """local/protocol.py by path: the zip holds no chalicelib package, and this keeps one copy of the framing."""
    return load_worker_module(worker_dir, "protocol")


def load_worker_module(directory: Path, stem: str) -> ModuleType:
    """A stdlib-only runtime module by path (protocol.py, egress_relay.py): one copy serves local and Lambda."""
    name = f"_fngate_{stem}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, directory / f"{stem}.py")
    if spec is None or spec.loader is None:
        raise ShimError(f"No module {stem} in {directory}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except OSError as err:
        del sys.modules[name]
        raise ShimError(f"No module {stem} in {directory}: {err}") from None
    return module


def load_message(bundle: dict[str, Any], extra_env: dict[str, str] | None = None) -> dict[str, Any]:
    return {"op": "load", "code": bundle["code"], "env": {**BASE_ENV, **(bundle.get("env") or {}), **(extra_env or {})},
            "limits": bundle.get("limits") or {}}


def invoke_message(invocation_id: int, event_input: Any, timeout_ms: int) -> dict[str, Any]:
    return {"id": invocation_id, "op": "invoke", "input": event_input, "timeout_ms": timeout_ms}


def rpc_refusal(request: dict[str, Any], code: str) -> dict[str, Any]:
    return {"op": "rpc-result", "rid": request.get("rid"), "ok": False, "code": code, "message": NO_TOOLBELT_HOST}


def failure(kind: str, message: str) -> dict[str, Any]:
    return {"op": "result", "ok": False, "kind": kind, "message": message, "logs": []}


def _remaining_ms(context: Any) -> int | None:
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    return int(remaining()) if callable(remaining) else None


def _timeout_ms(requested: Any, remaining_ms: int | None) -> int:
    """The caller's limit, cut so the shim still answers (with the worker's logs) before Lambda's own timeout."""
    timeout = int(requested) if isinstance(requested, int | float) and requested > 0 else DEFAULT_TIMEOUT_MS
    if remaining_ms is not None:
        timeout = min(timeout, remaining_ms - LAMBDA_MARGIN_MS - int(GRACE_S * 1000))
    return max(1, timeout)


def _high_fd(fd: int) -> int:
    """Move ``fd`` above the descriptors posix_spawn rewires (0 and 3), so no dup2 lands on itself."""
    high = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return high


# -- the worker process -----------------------------------------------------------------------------------------------
@dataclass(eq=False)
class _Worker:
    pid: int
    reader: Any  # protocol.LineReader
    writer: Any  # protocol.LineWriter
    digest: str
    form: str = ""

    def exited(self) -> bool:
        """Whether the process is gone (it stays unreaped, so its pid and group stay ours until kill())."""
        try:
            return os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
        except ChildProcessError:
            return True

    def kill(self) -> None:
        """SIGKILL the worker's process group (whatever the function forked too), then reap it."""
        with contextlib.suppress(OSError):
            os.killpg(self.pid, signal.SIGKILL)
        for fd in (self.reader.fd, self.writer.fd):
            with contextlib.suppress(OSError):
                os.close(fd)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(self.pid, 0)


class Shim:
    """One container's state: the loaded worker (at most one) and how to start another."""

    def __init__(self, *, worker_dir: Path, bundle_dir: Path | None = None,
                 node_binary: str | None = None, python: str = sys.executable, node_heap_mb: int = 192,
                 toolbelt_node_path: str = "", toolbelt_python_path: str = "",
                 rpc: Callable[..., dict[str, Any]] = outbound.gateway_call,
                 deps_root: str = packages.ROOT) -> None:
        self.worker_dir, self.bundle_dir = worker_dir, bundle_dir
        self.rpc = rpc  # (url, token, method, params, proxy=) → an rpc-result body
        self.deps_root = deps_root
        self._relay: outbound.ProxyRelay | None = None
        self._proxy = ""
        self.node_binary, self.python, self.node_heap_mb = node_binary, python, node_heap_mb
        self.toolbelt_node_path, self.toolbelt_python_path = toolbelt_node_path, toolbelt_python_path
        self._protocol: ModuleType | None = None
        self._packaged: dict[str, Any] | None = None
        self._worker: _Worker | None = None
        self._ids = itertools.count(1)

    @classmethod
    def from_environment(cls) -> Shim:
        """The shim as a Lambda container runs it: locations and binaries from the environment or the package."""
        env = os.environ
        memory_mb = int(env.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE") or 256)
        return cls(worker_dir=Path(env.get(ENV_WORKER_DIR) or HERE.parent / "local"),
                   bundle_dir=Path(env.get(ENV_BUNDLE_DIR) or env.get("LAMBDA_TASK_ROOT") or HERE.parent),
                   node_binary=env.get(ENV_NODE) or shutil.which("node"),
                   node_heap_mb=max(64, memory_mb - 64), toolbelt_node_path=env.get(ENV_TOOLBELT_NODE, ""),
                   toolbelt_python_path=env.get(ENV_TOOLBELT_PYTHON, ""),
                   deps_root=env.get(ENV_DEPS_ROOT) or packages.ROOT)

    @property
    def protocol(self) -> ModuleType:
        if self._protocol is None:
            self._protocol = load_protocol(self.worker_dir)
        return self._protocol

    def handle(self, event: Any, context: Any = None) -> dict[str, Any]:
        """One Lambda event: make sure the right worker is loaded, then check or invoke (see the module doc)."""
        if not isinstance(event, dict):
            return {"op": "shim-error", "message": "The event is not a JSON object"}
        try:
            self._egress(event.get("egress"))
            bundle, digest = self._bundle(event.get("bundle"))
            if event.get("op") == "build":
                return {"op": "built", "key": self._dependencies(bundle)[0]}
            worker = self._ready_worker(bundle, digest)
        except ShimError as err:
            return {"op": "shim-error", "message": str(err)}
        except LoadError as err:
            return {"op": "load-error", "message": str(err)}
        if event.get("op") == "check":
            return {"op": "ready", "form": worker.form}
        return self._invoke(worker, event, _remaining_ms(context))

    def close(self) -> None:
        self._retire()
        if self._relay is not None:
            self._relay.close()
            self._relay = None

    def _egress(self, egress: Any) -> None:
        """Start the relay on the first event that names a proxy; every event sets the token it adds."""
        if not isinstance(egress, dict) or not egress.get("proxy"):
            if self._relay is not None:
                self._relay.token = ""  # no token this time: the proxy refuses whatever the function sends
            return
        if self._relay is None:
            relay = load_worker_module(HERE.parent, "egress_relay")
            self._relay = outbound.ProxyRelay(str(egress["proxy"]), relay).start()
            self._proxy = str(egress["proxy"])
        self._relay.token = str(egress.get("token") or "")

    # -- bundle and worker ------------------------------------------------------------------------------------------
    def _bundle(self, sent: Any) -> tuple[dict[str, Any], str]:
        if sent is not None and not isinstance(sent, dict):
            raise ShimError("The bundle sent is not an object")
        bundle = sent
        if bundle is None:
            if self._packaged is None and self.bundle_dir is not None:
                self._packaged = read_package(self.bundle_dir)
            bundle = self._packaged
        if bundle is None:
            raise ShimError("No function code: none is packaged and the event carries no bundle")
        return bundle, bundle_digest(bundle) + ("+egress" if self._relay is not None else "")

    def _dependencies(self, bundle: dict[str, Any]) -> tuple[str, str, str]:
        """(lock key, python path, node path) of the bundle's dependencies, installed now if not yet."""
        deps = bundle.get("deps")
        if not isinstance(deps, dict) or not deps.get("declared"):
            return "", "", ""
        language = str(bundle.get("language"))
        try:
            key, installed = packages.install(language, deps, self._relay.env() if self._relay else {},
                                              self.deps_root)
        except packages.InstallError as err:
            raise LoadError(f"The dependencies could not be installed: {err}") from None
        except packages.DriftError as err:
            raise ShimError(str(err)) from None
        return (key, *packages.worker_paths(language, installed))

    def _ready_worker(self, bundle: dict[str, Any], digest: str) -> _Worker:
        worker = self._worker
        if worker is not None and worker.digest == digest and not worker.exited():
            return worker
        self._retire()
        _, python_path, node_path = self._dependencies(bundle)
        worker = self._spawn(str(bundle.get("language")), digest, python_path, node_path)
        try:
            worker.form = self._load(worker, bundle, self._relay.env() if self._relay is not None else None)
        except LoadError:
            worker.kill()
            raise
        self._worker = worker
        return worker

    def _argv(self, language: str, python_path: str = "") -> list[str]:
        if language == "python":
            return [self.python, "-I", "-S", "-c", _PYTHON_BOOT, str(self.worker_dir), self.toolbelt_python_path,
                    python_path]
        if language != "node":
            raise ShimError(f"Unsupported language {language!r}")
        if not self.node_binary:
            raise ShimError("Node.js is not installed in this Lambda: Node functions need the fngate container image")
        return [self.node_binary, f"--max-old-space-size={self.node_heap_mb}", str(self.worker_dir / "worker_node.js")]

    def _spawn(self, language: str, digest: str, python_path: str = "", node_path: str = "") -> _Worker:
        """Start a worker with its requests on fd 0 and its answers on fd 3, in a process group of its own."""
        protocol, argv = self.protocol, self._argv(language, python_path)
        script = self.worker_dir / ("worker_node.js" if language == "node" else "worker_python.py")
        if not script.is_file():
            raise ShimError(f"The worker script {script.name} is missing from {self.worker_dir}")
        env = dict(BASE_ENV)
        node_paths = [p for p in (self.toolbelt_node_path, node_path) if p]
        if language == "node" and node_paths:
            env["NODE_PATH"] = ":".join(node_paths)
        in_r, in_w = os.pipe()
        out_r, out_w = os.pipe()
        child_in, child_out = _high_fd(in_r), _high_fd(out_w)
        try:
            pid = os.posix_spawn(argv[0], argv, env, setpgroup=0, file_actions=[
                (os.POSIX_SPAWN_DUP2, child_in, protocol.WORKER_IN_FD),
                (os.POSIX_SPAWN_DUP2, child_out, protocol.WORKER_OUT_FD)])
        except OSError as err:
            os.close(in_w)
            os.close(out_r)
            raise ShimError(f"Could not start the {language} worker: {err}") from None
        finally:
            os.close(child_in)
            os.close(child_out)
        return _Worker(pid, protocol.LineReader(out_r), protocol.LineWriter(in_w), digest)

    def _load(self, worker: _Worker, bundle: dict[str, Any], extra_env: dict[str, str] | None = None) -> str:
        protocol, deadline = self.protocol, time.monotonic() + LOAD_TIMEOUT_S
        try:
            worker.writer.write(protocol.encode(load_message(bundle, extra_env)), deadline)
            while True:
                reply = worker.reader.read(deadline)
                if reply.get("op") == "ready":
                    return str(reply.get("form") or "")
                if reply.get("op") == "load-error":
                    raise LoadError(str(reply.get("message") or "The code could not be loaded"))
        except protocol.WorkerTimeout:
            raise LoadError("The code did not finish loading in time") from None
        except protocol.WorkerGone:
            raise LoadError("The worker exited while loading the code") from None

    def _retire(self) -> None:
        if self._worker is not None:
            self._worker.kill()
            self._worker = None

    # -- invocation -------------------------------------------------------------------------------------------------
    def _invoke(self, worker: _Worker, event: dict[str, Any], remaining_ms: int | None) -> dict[str, Any]:
        protocol = self.protocol
        timeout_ms = _timeout_ms(event.get("timeout_ms"), remaining_ms)
        deadline = time.monotonic() + timeout_ms / 1000 + GRACE_S
        try:
            message = self._call(worker, event.get("input"), timeout_ms, deadline, event.get("toolbelt"))
        except protocol.WorkerTimeout:
            self._retire()
            return failure(protocol.TIMEOUT, TIMEOUT_MESSAGE)
        except protocol.WorkerGone:
            self._retire()
            return failure(protocol.RUNTIME_EXCEPTION, CRASHED)
        if message.get("recycle") or message.get("kind") == protocol.TIMEOUT:
            self._retire()  # a timed-out worker is never reused; a recycled one asked to go
        return {key: value for key, value in message.items() if key not in ("id", "recycle")}

    def _call(self, worker: _Worker, event_input: Any, timeout_ms: int, deadline: float,
              toolbelt: Any = None) -> dict[str, Any]:
        protocol = self.protocol
        invocation_id = next(self._ids)
        worker.writer.write(protocol.encode(invoke_message(invocation_id, event_input, timeout_ms)), deadline)
        while True:
            message = worker.reader.read(deadline)
            if message.get("op") == "result" and message.get("id") == invocation_id:
                return message
            if message.get("op") == "rpc":
                worker.writer.write(protocol.encode(self._rpc_answer(message, toolbelt, deadline)), deadline)

    def _rpc_answer(self, request: dict[str, Any], toolbelt: Any, deadline: float) -> dict[str, Any]:
        """The gateway's answer to one of the worker's RPCs, or "unavailable" when this event brought no route."""
        if not isinstance(toolbelt, dict) or not toolbelt.get("url") or not toolbelt.get("token"):
            return rpc_refusal(request, self.protocol.RPC_UNAVAILABLE)
        answer = self.rpc(str(toolbelt["url"]), str(toolbelt["token"]), str(request.get("method")),
                          request.get("params"), proxy=self._proxy,
                          timeout_s=max(0.1, min(outbound.RPC_TIMEOUT_S, deadline - time.monotonic())))
        return {"op": "rpc-result", "rid": request.get("rid"), **{
            k: answer.get(k) for k in ("ok", "result", "code", "message") if k in answer}}


_default: Shim | None = None


def handle(event: Any, context: Any) -> dict[str, Any]:
    """The Lambda handler (``lambda_shim.handler.handle``): one shim, and so one warm worker, per container."""
    global _default
    if _default is None:
        _default = Shim.from_environment()
    return _default.handle(event, context)
