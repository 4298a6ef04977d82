"""LocalExecutor: runs Node.js and Python functions in warm, sandboxed worker processes on this machine.

Cold starts: workers are started ahead of need (``spares`` per language, refilled in the background), so a new
target only pays for loading its code; Python workers are forked from a pre-imported zygote (a few ms), Node
workers are forked from it and exec node (~45 ms) — hence the spares. Faults map to the FUNCTION_FAILURES kinds:
custom failure → FunctionFailed, runtime error / crash / bad result → RuntimeException, no answer in time →
ExecutionTimeExceeded (the worker is killed), too many logs → LogLimitReached. Overload → TooManyRequests.
"""

from __future__ import annotations

import atexit
import functools
import itertools
import logging
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chalicelib.domain.errors import (
    BuildFailed,
    DeployFailed,
    ExecutionTimeExceeded,
    RuntimeException,
    TooManyRequests,
    Unavailable,
)
from chalicelib.domain.limits import EXECUTION_TIMEOUT_S, LOG_CHARS_MAX, LOG_ENTRIES_MAX
from chalicelib.domain.runtimes import find_runtime
from chalicelib.runtime import waits
from chalicelib.runtime.base import Outcome, Target, outcome_from_result
from chalicelib.runtime.deps import BuildLimits, DependencyBuilder
from chalicelib.runtime.local import fsview, protocol
from chalicelib.runtime.local.pool import Chores, Spares, WorkerPool
from chalicelib.runtime.local.protocol import LineReader, LineWriter, WorkerGone, WorkerTimeout, encode
from chalicelib.runtime.local.sandbox import SandboxPolicy, UidPool, reachable
from chalicelib.runtime.local.worker import LoadFailed, StderrPump, Worker
from chalicelib.runtime.local.zygote import Zygote, ZygoteError

if TYPE_CHECKING:
    from chalicelib.runtime.egress import EgressProxy

log = logging.getLogger("fngate.runtime.local")

RpcHandler = Callable[[Target, str, Any], Any]
BASE_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": "/tmp"}
ENV_TOOLBELT_NODE = "FNGATE_TOOLBELT_NODE_PATH"
ENV_TOOLBELT_PYTHON = "FNGATE_TOOLBELT_PYTHON_PATH"
SPARE_WAIT_S = {"python": 0.02, "node": 0.08}  # how long a cold start waits for a spare being started (≈ a spawn)
GRACE_S = 0.25  # the worker reports its own timeout (with logs); past this the host kills it
# On a server's event loop (runtime/waits.py) a call to a function whose recent calls took under QUICK_S blocks
# up to PATIENCE_S for its answer instead of a round through the loop; a slower one never blocks the loop.
PATIENCE_S, QUICK_S = 0.001, 0.0005
CRASHED = "The function's worker process crashed or exited during the invocation"
HERE = Path(__file__).resolve().parent
ROOT_PREFIX = "fngate-workers-"  # + gateway pid: per-executor dir under the temp dir for staged files and worker dirs


class SandboxUnavailable(Unavailable):
    """The host cannot confine workers (not root, or no user/network namespaces) and insecure mode was not asked."""


class LocalExecutor:
    """The Executor protocol over local warm workers (see the module docstring and protocol.py)."""

    def __init__(self, *, timeout_s: float = EXECUTION_TIMEOUT_S, max_workers: int = 64, per_target: int = 4,
                 queue_max: int = 64, queue_timeout_s: float = 10.0, load_timeout_s: float = 10.0,
                 insecure_sandbox: bool = False, policy: SandboxPolicy | None = None,
                 rpc_handler: RpcHandler | None = None, egress_socket: str | None = None,
                 csds_domain: str | None = None, spares: int = 1, node_binary: str | None = None,
                 toolbelt_node_path: str | None = None, toolbelt_python_path: str | None = None,
                 egress: EgressProxy | None = None, deps_root: str | None = None,
                 build_limits: BuildLimits | None = None) -> None:
        self._timeout, self._queue_timeout, self._load_timeout = timeout_s, queue_timeout_s, load_timeout_s
        self._recent_s: dict[str, float] = {}  # per target: a moving average of its calls' durations
        self._rpc_handler, self._csds = rpc_handler, csds_domain
        # egress: the proxy issues each loaded worker its token; egress_socket alone only passes the path on
        self._egress_proxy = egress
        self._egress = egress_socket or (egress.socket_path if egress is not None else None)
        self._node = node_binary or shutil.which("node")
        toolbelt_node_path = toolbelt_node_path or os.environ.get(ENV_TOOLBELT_NODE) or None
        toolbelt_python_path = toolbelt_python_path or os.environ.get(ENV_TOOLBELT_PYTHON) or None
        _remove_stale_roots()
        self._work_root = tempfile.mkdtemp(prefix=f"{ROOT_PREFIX}{os.getpid()}-")
        os.chmod(self._work_root, 0o711)  # workers may traverse to their own dir, never list the others
        runtime_dir = os.path.join(self._work_root, "runtime")  # what Node workers load, readable by worker uids
        os.mkdir(runtime_dir, 0o755)
        node_script = self._stage(HERE / "worker_node.js", runtime_dir)
        self._stage(HERE.parent / "egress_relay.js", runtime_dir)  # worker_node.js requires it from its own dir
        atexit.register(shutil.rmtree, self._work_root, True)
        policy = policy or SandboxPolicy()
        # installed dependency locks, content-addressed; mounted read-only into every view (workers can reach a
        # lock's dir by its key, not list the others)
        self._builder = DependencyBuilder(deps_root or os.path.join(self._work_root, "deps"), build_limits)
        view = fsview.plan(python_prefix=sys.base_prefix, node_binary=self._node, runtime_dir=runtime_dir,
                           toolbelt_node=toolbelt_node_path, toolbelt_python=toolbelt_python_path,
                           egress_socket=self._egress, deps_root=str(self._builder.root)) \
            if policy.isolate_filesystem else None
        self._zygote = Zygote(os.path.realpath(sys.executable), self._work_root, BASE_ENV,
                              [toolbelt_python_path] if toolbelt_python_path else [], view=view)
        # the uid block first, and the probe as one of its uids: another gateway process claiming or sweeping its
        # own block never kills this probe (probing as a shared uid let one process's start-up stop another's)
        uids = UidPool(policy.uid_base, policy.uid_count) if policy.drop_privileges else None
        try:
            self._policy = self._check_sandbox(policy, insecure_sandbox, uids.first if uids else policy.uid_base)
        except BaseException:
            if uids is not None:
                uids.close()
            raise
        if uids is not None and not self._policy.drop_privileges:
            uids.close()
            uids = None
        self._uids = uids
        view = view if self._policy.isolate_filesystem else None
        self._view = view
        # Where workers find things: inside the view when there is one (see fsview.plan), else the host paths.
        self._egress_env = fsview.inside(view, self._egress) if self._egress else None
        # Node's flags: the address-space cap is RLIMIT_AS; the heap cap is V8's. Without the trap handler V8 reserves
        # no multi-GiB guard regions for WebAssembly memories, so undici (fetch, which runs llhttp as wasm) works
        # under RLIMIT_AS.
        self._node_flags = [f"--max-old-space-size={self._policy.memory_mb}", "--disable-wasm-trap-handler"]
        self._node_script = fsview.inside(view, node_script)
        self._node_argv = [fsview.inside(view, os.path.realpath(self._node)) if self._node else "", *self._node_flags,
                           self._node_script]
        node_path = [p for p in (toolbelt_node_path, toolbelt_node_path and os.path.join(
            toolbelt_node_path, "preinstalled", "node_modules")) if p and os.path.isdir(p)]  # the Toolbelt, jsforce
        self._node_env = {**BASE_ENV, "FNGATE_WORKER_DIR": fsview.inside(view, runtime_dir),
                          **({"NODE_PATH": ":".join(fsview.inside(view, p) for p in node_path)} if node_path else {}),
                          **({"FNGATE_EGRESS_SOCKET": self._egress_env} if self._egress_env else {})}
        if view is None and toolbelt_node_path and not reachable(toolbelt_node_path):
            log.warning("%s is not readable by worker uids: Node functions cannot require from it", toolbelt_node_path)
        self._names = itertools.count(1)
        self._pump = StderrPump()
        self._chores = Chores()
        self._pool = WorkerPool(self._start, self._retire, max_workers=max_workers, per_target=per_target,
                                queue_max=queue_max)
        self._spares = {language: Spares(functools.partial(self._spawn, language), self._chores, count)
                        for language, count in (("python", spares), ("node", spares if self._node else 0))}
        if self._node:  # before the first spares (chores run in order)
            self._chores.put(lambda: self._snapshot_node(node_script, view))
        for pool in self._spares.values():
            pool.refill()

    # -- Executor protocol ----------------------------------------------------------------------------------------
    def build(self, target: Target) -> str:
        """The build step: the target's dependencies resolved, locked and installed into the cache (see deps.py)."""
        language = self._language(target)
        return self._builder.build(language, [{"key": k, "value": v} for k, v in target.dependencies])

    def deploy(self, target: Target) -> None:
        """Start (or reuse) one warm worker: proves the code loads, and makes the first call warm."""
        self._language(target)
        try:
            worker = self._pool.acquire(target, time.monotonic() + self._queue_timeout)
        except LoadFailed as err:
            raise BuildFailed(detail=str(err)) from None
        except (ZygoteError, OSError) as err:
            raise DeployFailed(detail=f"Could not start a worker: {err}") from None
        except TooManyRequests:
            raise DeployFailed(detail="No worker capacity to start the function right now; try again") from None
        self._pool.release(worker, True)

    def undeploy(self, account_id: str, function_uuid: str) -> None:
        self._pool.retire_prefix(f"{account_id}/{function_uuid}/")

    def invoke(self, target: Target, event: dict[str, Any], *, timeout_s: float | None = None) -> Outcome:
        timeout = (target.timeout_s or self._timeout) if timeout_s is None else timeout_s
        try:
            # a warm idle worker is taken at once; starting one, or queueing for one, may take long (waits.offload)
            worker = self._pool.take_idle(target) or waits.offload(
                self._pool.acquire, target, time.monotonic() + min(timeout, self._queue_timeout))
        except LoadFailed as err:
            raise RuntimeException(str(err)) from None
        except (ZygoteError, OSError) as err:
            raise Unavailable(detail=f"Could not start a worker: {err}") from None
        healthy = False
        started = time.perf_counter()
        try:
            with waits.patience(PATIENCE_S if self._recent_s.get(target.key, 0.0) < QUICK_S else 0.0):
                message = worker.call(event, timeout, time.monotonic() + timeout + GRACE_S,
                                      lambda request: waits.offload(self._answer_rpc, target, request))
            healthy = message.get("kind") != protocol.TIMEOUT
        except WorkerTimeout:
            raise ExecutionTimeExceeded() from None
        except WorkerGone:
            raise RuntimeException(CRASHED) from None
        finally:
            took = time.perf_counter() - started
            if len(self._recent_s) > 10_000:  # targets of old deployments pile up; the averages rebuild in a call
                self._recent_s.clear()
            self._recent_s[target.key] = 0.75 * self._recent_s.get(target.key, took) + 0.25 * took
            self._pool.release(worker, healthy)
        return outcome_from_result(message, took * 1000)

    def close(self) -> None:
        for spares in self._spares.values():
            for worker in spares.close():
                self._retire(worker)
        self._pool.close()
        self._chores.close()
        self._zygote.close()
        self._pump.close()
        if self._uids is not None:
            self._uids.close()
        shutil.rmtree(self._work_root, ignore_errors=True)

    def settle(self, timeout_s: float = 10.0) -> bool:
        """Wait for the background start-up work queued so far (Node snapshot, spare workers): benchmarks and tests
        that time cold paths start from a settled executor."""
        return self._chores.drain(timeout_s)

    def stats(self) -> dict[str, Any]:
        """Pool occupancy (for tests, health checks and metrics)."""
        return self._pool.stats()

    # -- workers ----------------------------------------------------------------------------------------------------
    def _language(self, target: Target) -> str:
        runtime = find_runtime(target.runtime)
        if runtime is None:
            raise BuildFailed(detail=f"Unsupported runtime {target.runtime!r}")
        if runtime.language == "node" and not self._node:
            raise DeployFailed(detail="Node.js is not installed on this gateway")
        return runtime.language

    def _spawn(self, language: str, memory_mb: int = 0) -> Worker:
        """A fresh, sandboxed, code-less worker from the zygote; ``memory_mb`` other than the policy's gives it
        that memory limit (Python: address space; Node: V8's heap, started without the snapshot built for the
        default one)."""
        uid = self._uids.take() if self._uids is not None else None
        if self._uids is not None and uid is None:
            raise ZygoteError("no free worker uid (raise SandboxPolicy.uid_count)")
        policy = replace(self._policy, memory_mb=memory_mb) if memory_mb else self._policy
        request: dict[str, Any] = {"op": "spawn", "lang": language, "name": f"w{uid or next(self._names)}",
                                   "spec": policy.spec(language, uid, None)}
        if language == "node":
            argv = self._node_argv
            if memory_mb:
                argv = [argv[0], f"--max-old-space-size={memory_mb}", *self._node_flags[1:], self._node_script]
            request["exec"] = {"argv": argv, "env": self._node_env}
        try:
            reply, fds = self._zygote.request(request)
        except BaseException:
            self._chores.put(lambda: self._sweep(uid, None, None))  # a child may have started before it failed
            raise
        in_w, out_r, err_r, pidfd = fds
        self._pump.add(err_r, f"{language} pid={reply['pid']}")
        return Worker(language, reply["pid"], pidfd, uid, reply.get("workdir"), LineReader(out_r, waits.readable),
                      LineWriter(in_w, waits.writable), err_r)

    def _start(self, target: Target) -> Worker:
        """Called by the pool, outside its lock: a worker with ``target``'s code loaded (a spare if one is ready)."""
        language = self._language(target)
        memory = target.memory_mb if target.memory_mb and target.memory_mb != self._policy.memory_mb else 0
        spares = self._spares[language]
        spare = spares.take(wait_s=SPARE_WAIT_S[language]) if not memory else None  # spares have the default
        load = {"op": "load", "code": target.code, "env": self._function_env(target),
                "limits": {"log_entries": LOG_ENTRIES_MAX, "log_chars": LOG_CHARS_MAX},
                "guard": self._policy.guard_runtime}
        if target.build_key:  # its packages, read-only (a bind of the cache inside the view)
            load["deps"] = fsview.inside(self._view, str(self._builder.path(target.build_key)))
        try:
            if spare is not None:
                try:
                    return self._load(spare, target, load)
                except LoadFailed as err:
                    if not err.gone:
                        raise  # the code's fault; a dead spare (killed while waiting) just means: spawn one
            with spares.demand():
                return self._load(self._spawn(language, memory), target, load)
        finally:
            spares.refill()

    def _load(self, worker: Worker, target: Target, load: dict[str, Any]) -> Worker:
        if self._egress_proxy is not None:  # one token per worker, retired with it (_retire)
            worker.egress_token = self._egress_proxy.register(target.account_id, target.function_uuid)
            load = {**load, "env": {**load["env"], "FNGATE_EGRESS_TOKEN": worker.egress_token}}
        try:
            worker.load(load, time.monotonic() + self._load_timeout)
        except LoadFailed:
            self._retire(worker)
            raise
        self._pump.relabel(worker.stderr_fd, f"{worker.language} {target.key} pid={worker.pid}")
        return worker

    def _retire(self, worker: Worker) -> None:
        """Kill now (pidfd); sweep its uid and private dir in the background, then free the uid.

        A worker with its own pid namespace and no host dir needs no sweep: when it (pid 1 there) dies, the kernel
        kills everything it started, and nothing can leave that namespace. Its uid is free once it has exited —
        no zygote round trip competing with the next cold start."""
        exited = os.dup(worker.pidfd) if worker.alive and self._policy.isolate_pids and not worker.workdir else None
        worker.kill()
        if worker.egress_token is not None and self._egress_proxy is not None:
            self._egress_proxy.unregister(worker.egress_token)
            worker.egress_token = None
        if exited is not None:
            self._chores.put(lambda: self._free_after_exit(exited, worker))
        else:
            self._chores.put(lambda: self._sweep(worker.uid, worker.pid, worker.workdir))

    def _free_after_exit(self, pidfd: int, worker: Worker) -> None:
        try:
            gone = bool(select.select([pidfd], [], [], 5.0)[0])
        finally:
            os.close(pidfd)
        if gone:
            if worker.uid is not None and self._uids is not None:
                self._uids.give(worker.uid)
        else:  # not seen to exit: take the long way
            self._sweep(worker.uid, worker.pid, worker.workdir)

    def _sweep(self, uid: int | None, pgid: int | None, workdir: str | None) -> None:
        """Kill whatever the worker left (its uid's processes, else its process group) and remove its dir; only
        then may its uid serve another worker."""
        try:
            if uid is not None or pgid:
                self._zygote.request({"op": "sweep", "uid": uid, "pgid": pgid, "workdir": workdir})
        finally:
            if uid is not None and self._uids is not None:
                self._uids.give(uid)

    def _function_env(self, target: Target) -> dict[str, str]:
        """Exactly what the function may see: a minimal base, its own variables, the platform's runtime vars."""
        env = {**BASE_ENV, **target.environment, "X_LIVEPERSON_BRAND_ID": target.account_id,
               "X_LIVEPERSON_PROJECT_ID": target.account_id, "X_LIVEPERSON_FUNCTION_UUID": target.function_uuid}
        if self._csds:
            env["X_LIVEPERSON_CSDS_DOMAIN"] = self._csds
        if self._egress_env:
            env["FNGATE_EGRESS_SOCKET"] = self._egress_env
        return env

    def _answer_rpc(self, target: Target, request: dict[str, Any]) -> bytes:
        rid = request.get("rid")
        if self._rpc_handler is None:
            return encode({"op": "rpc-result", "rid": rid, "ok": False, "code": protocol.RPC_UNAVAILABLE,
                           "message": "This gateway has no toolbelt host"})
        try:
            result = self._rpc_handler(target, str(request.get("method")), request.get("params"))
            return encode({"op": "rpc-result", "rid": rid, "ok": True, "result": result})
        except Exception as err:
            code = getattr(err, "code", None) or getattr(err, "v1_code", None) or protocol.RPC_FAILED
            message = getattr(err, "message", None) or str(err) or type(err).__name__
            return encode({"op": "rpc-result", "rid": rid, "ok": False, "code": str(code), "message": str(message)})

    # -- setup ------------------------------------------------------------------------------------------------------
    def _snapshot_node(self, script: str, view: dict[str, Any] | None) -> None:
        """Build a V8 startup snapshot of the Node worker (in the background, ~0.5 s): workers started from it skip
        ~10 ms of start-up. It must be built with the workers' own V8 flags (V8 refuses a blob built with others)
        and lives in the executor's private dir. On any failure workers keep starting from the script."""
        blob = os.path.join(os.path.dirname(script), "worker_node.blob")
        try:
            done = subprocess.run([str(self._node), *self._node_flags, "--no-warnings", "--snapshot-blob", blob,
                                   "--build-snapshot", script], env=dict(BASE_ENV), cwd=os.path.dirname(script),
                                  stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired) as err:
            log.warning("no Node start-up snapshot (workers start from the script): %s", err)
            return
        if done.returncode != 0 or not os.path.exists(blob):
            log.warning("no Node start-up snapshot (workers start from the script): %s",
                        done.stderr.decode(errors="replace")[-500:])
            return
        os.chmod(blob, 0o644)
        self._node_argv = [*self._node_argv[:-1], "--snapshot-blob", fsview.inside(view, blob)]

    @staticmethod
    def _stage(source: Path, directory: str) -> str:
        """Copy a worker file where any worker uid can read it (the project may live under a private dir)."""
        staged = os.path.join(directory, source.name)
        shutil.copyfile(source, staged)
        os.chmod(staged, 0o644)
        return staged

    def _check_sandbox(self, policy: SandboxPolicy, insecure: bool, uid: int) -> SandboxPolicy:
        """Every isolation step the policy asks for must work here (tried as ``uid``); else refuse, or (insecure)
        run without it."""
        caps = self._zygote.request({"op": "probe", "uid": uid})[0]["caps"]
        steps = {"unshare(CLONE_NEWNET)": ("isolate_network", caps["unshare"]),
                 "pid/IPC/UTS namespaces": ("isolate_pids", caps["pids"]),
                 "read-only filesystem view": ("isolate_filesystem", caps["view"]),
                 "setuid to an unprivileged worker uid": ("drop_privileges", caps["setuid"]),
                 "seccomp syscall filter": ("filter_syscalls", caps["syscalls"])}
        missing = {step: (field, err) for step, (field, err) in steps.items() if getattr(policy, field) and err}
        if not missing:
            return policy
        detail = "; ".join(f"{step} failed: {err}" for step, (_, err) in missing.items())
        if not insecure:
            self._zygote.close()
            shutil.rmtree(self._work_root, ignore_errors=True)
            raise SandboxUnavailable(detail=f"Cannot sandbox function workers ({detail}). Run the gateway as root, "
                                            "or pass --insecure-sandbox (development only: functions then run "
                                            "without these protections).")
        log.warning("running function workers WITHOUT full isolation: %s", detail)
        return replace(policy, **{field: False for field, _ in missing.values()})


def _remove_stale_roots() -> None:
    """Work roots of gateways that died without closing their executor (SIGKILL skips atexit)."""
    base = tempfile.gettempdir()
    for name in os.listdir(base):
        pid = name[len(ROOT_PREFIX):].split("-")[0] if name.startswith(ROOT_PREFIX) else ""
        if pid.isdigit() and not os.path.exists(f"/proc/{pid}"):
            shutil.rmtree(os.path.join(base, name), ignore_errors=True)
