"""The zygote: a single-threaded root helper that forks every worker, sandboxed, and hands the pipes back.

Why: forking a pre-imported Python costs ~1 ms where a fresh interpreter costs tens; the gateway is
multi-threaded, so it must not fork itself (and preexec_fn is unsafe there); and PDEATHSIG fires when the parent
*thread* exits, which only a single-threaded parent makes reliable. So the gateway starts one zygote
(``python -I -S zygote.py FD``), talks to it over a SOCK_SEQPACKET socketpair, and receives each new worker's pipe
ends and pidfd by SCM_RIGHTS. Its settings (work root, import paths, the filesystem view) arrive as the first
datagram, not on the command line: a forked Python worker's /proc/self/cmdline is the zygote's. Python workers
are the forked child itself (worker_python.main); Node workers are the forked child exec'ing node. The zygote
exits when the gateway's end closes (the gateway died or closed the executor), and its workers die with it
(PDEATHSIG).

Requests (JSON, one per datagram) and replies:
  {"op": "probe", "uid": N}
      → {"ok": true, "caps": {"unshare": "", "pids": "", "setuid": "", "syscalls": "", "view": ""}} ("" = works)
  {"op": "spawn", "lang": "python"|"node", "spec": {...}, "name": "w200001", "exec": {"argv": [...], "env": {}}}
      → {"ok": true, "pid": N, "workdir": "..."|null} + fds [in_w, out_r, err_r, pidfd]
  {"op": "sweep", "uid": N|null, "pgid": N, "workdir": "..."|null}   → {"ok": true}
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
_MAX_DATAGRAM = 1 << 20


def _load(name: str) -> Any:
    """Import a sibling module by path (the zygote runs with -I -S: no site-packages, no project on sys.path)."""
    spec = importlib.util.spec_from_file_location(f"_fngate_{name}", HERE / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


# -- zygote side ------------------------------------------------------------------------------------------------------
class _Server:
    def __init__(self, sock: socket.socket, work_root: str, extra_paths: list[str],
                 view: dict[str, Any] | None) -> None:
        self.sock, self.work_root, self.pid = sock, work_root, os.getpid()
        self.sandbox = _load("sandbox")
        self.sandbox.egress_relay()  # preloaded here (root): workers start it without reading the project's files
        with contextlib.suppress(OSError):  # (and so is this, with its programs: a worker in its view could not
            self.sandbox.seccomp().prepare()  # read libseccomp; without it the probe reports the filter missing)
        self.pids = self.sandbox.PidNamespaces()
        self.alive_r, self.alive_w = os.pipe()  # children see EOF on alive_r once the zygote is gone
        self.view_root, self.view_error = None, "not requested"
        if view:
            try:  # the read-only skeleton, in this process's own mount namespace
                root = os.path.join(work_root, "view")
                self.sandbox.fsview().build(root, view["binds"])
                self.view_root, self.view_error = root, ""
            except OSError as err:
                self.view_error = str(err)
        _load("worker_python_logs")  # before worker_python, which imports it under this name
        self.worker = _load("worker_python")
        paths = view["paths"] if view and self.view_root else None
        remap = (lambda: self.sandbox.remap_imports(paths)) if paths is not None else self.sandbox.route_imports
        self.worker.prepare(extra_paths, remap)

    def serve(self) -> None:
        signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel; we never wait on workers
        # Ctrl-C in a terminal reaches the whole process group: the gateway stops this process itself (it closes the
        # socket, or PDEATHSIG), so a KeyboardInterrupt here would only print a traceback on the user's console
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        self.sandbox.prctl(self.sandbox.PR_SET_CHILD_SUBREAPER, 1)  # and so are their orphans (not left to init)
        self.sock.send(json.dumps({"op": "hello", "pid": self.pid}).encode())
        while True:
            try:
                data = self.sock.recv(_MAX_DATAGRAM)
            except OSError:
                data = b""
            if not data:
                os._exit(0)
            fds: list[int] = []
            try:
                reply, fds = self.handle(json.loads(data))
            except Exception as exc:
                reply = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
            try:
                socket.send_fds(self.sock, [json.dumps(reply).encode()], fds)
            finally:
                for fd in fds:
                    os.close(fd)

    def handle(self, req: dict[str, Any]) -> tuple[dict[str, Any], list[int]]:
        op = req.get("op")
        if op == "spawn":
            return self.spawn(req)
        if op == "sweep":
            self.sandbox.sweep(req.get("uid"), req.get("pgid"))
            if req.get("workdir"):
                shutil.rmtree(req["workdir"], ignore_errors=True)
            return {"ok": True}, []
        if op == "probe":
            return {"ok": True, "caps": {**self.sandbox.probe(req["uid"]), "view": self.view_error}}, []
        raise ValueError(f"unknown op {op!r}")

    def spawn(self, req: dict[str, Any]) -> tuple[dict[str, Any], list[int]]:
        spec = req["spec"]
        if not (spec.get("isolate_filesystem") and self.view_root):
            spec["workdir"] = self.sandbox.make_workdir(self.work_root, req["name"], spec.get("uid"))
        in_r, in_w = os.pipe()
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        with self.pids.fresh(bool(spec.get("isolate_pids"))):
            pid = os.fork()
            if pid == 0:
                self._child(req, spec, (in_r, out_w, err_w), (in_w, out_r, err_r))
        for fd in (in_r, out_w, err_w):
            os.close(fd)
        try:
            pidfd = os.pidfd_open(pid)
        except OSError:
            for fd in (in_w, out_r, err_r):
                os.close(fd)
            raise
        return {"ok": True, "pid": pid, "workdir": spec.get("workdir")}, [in_w, out_r, err_r, pidfd]

    def _child(self, req: dict[str, Any], spec: dict[str, Any], ours: tuple[int, int, int],
               theirs: tuple[int, int, int]) -> None:
        """In the fresh child: wire fds 0 (in), 1+2 (stderr pipe), 3 (out); confine; become the worker."""
        try:
            high = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in ours]
            for fd in (*ours, *theirs, self.sock.fileno(), self.alive_w, self.pids.fileno()):
                os.close(fd)
            os.dup2(high[0], 0)
            os.dup2(high[2], 1)
            os.dup2(high[2], 2)
            os.dup2(high[1], 3)
            for fd in high:
                os.close(fd)
            if req["lang"] == "node":  # the one descriptor the Node worker's syscall filter lets it exec through
                self._hold_for_exec(req["exec"]["argv"][0])
            self.sandbox.enter(spec, self.alive_r, self.view_root)
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.default_int_handler)  # as a Python process starts with
            if req["lang"] == "node":
                signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past RLIMIT_FSIZE fail with EFBIG, not a kill
                os.execve(self.sandbox.seccomp().EXEC_FD, req["exec"]["argv"], req["exec"]["env"])
            self.worker.main()
        except BaseException as exc:  # never return into the zygote's loop
            try:
                os.write(2, f"fngate: worker failed to start: {type(exc).__name__}: {exc}\n".encode())
            finally:
                os._exit(70)
        os._exit(0)


    def _hold_for_exec(self, binary: str) -> None:
        """Open ``binary`` at EXEC_FD (close-on-exec, above the worker's RLIMIT_NOFILE) before entering the sandbox."""
        exec_fd = self.sandbox.seccomp().EXEC_FD
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft <= exec_fd:
            resource.setrlimit(resource.RLIMIT_NOFILE, (exec_fd + 1, max(hard, exec_fd + 1)))
        fd = os.open(binary, os.O_PATH | os.O_CLOEXEC)
        os.dup2(fd, exec_fd, inheritable=False)
        os.close(fd)


# -- gateway side -----------------------------------------------------------------------------------------------------
class ZygoteError(Exception):
    """The zygote refused or failed a request (or could not be started)."""


class Zygote:
    """The gateway's handle: one request at a time (spawns take ~1 ms), restarted if it ever dies."""

    def __init__(self, python: str, work_root: str, env: dict[str, str], python_paths: list[str] | None = None,
                 timeout_s: float = 10.0, view: dict[str, Any] | None = None) -> None:
        self._python, self._env, self._timeout = python, env, timeout_s
        self._setup = json.dumps({"work_root": work_root, "paths": python_paths or [], "view": view}).encode()
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        with self._lock:
            self._start()

    def _start(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self._proc = subprocess.Popen(
                [self._python, "-I", "-S", str(HERE / "zygote.py"), str(theirs.fileno())],
                pass_fds=[theirs.fileno()], env=self._env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                cwd="/")
        finally:
            theirs.close()
        ours.settimeout(self._timeout)
        self._sock = ours
        try:
            ours.send(self._setup)
            hello = json.loads(ours.recv(_MAX_DATAGRAM) or b"null")
        except (OSError, ValueError) as err:
            raise ZygoteError(f"the zygote did not start: {err}") from None
        if not isinstance(hello, dict) or hello.get("op") != "hello":
            raise ZygoteError("the zygote did not start (see the gateway's stderr)")

    def request(self, message: dict[str, Any]) -> tuple[dict[str, Any], list[int]]:
        with self._lock:
            try:
                return self._exchange(message)
            except OSError:  # the zygote died: start another once (its workers died with it)
                self._stop()
                self._start()
                return self._exchange(message)

    def _exchange(self, message: dict[str, Any]) -> tuple[dict[str, Any], list[int]]:
        if self._sock is None:
            raise ZygoteError("the zygote is closed")
        self._sock.send(json.dumps(message).encode())
        data, fds, _flags, _addr = socket.recv_fds(self._sock, _MAX_DATAGRAM, 8)
        if not data:
            raise ConnectionResetError("the zygote closed its socket")
        for fd in fds:
            os.set_inheritable(fd, False)
        reply = json.loads(data)
        if not reply.get("ok"):
            for fd in fds:
                os.close(fd)
            raise ZygoteError(reply.get("error") or "zygote request failed")
        return reply, fds

    def _stop(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        if self._proc is not None:
            try:
                self._proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            self._proc = None

    def close(self) -> None:
        with self._lock:
            self._stop()


if __name__ == "__main__":
    channel = socket.socket(fileno=int(sys.argv[1]))
    setup = json.loads(channel.recv(_MAX_DATAGRAM) or b"{}")
    _Server(channel, setup["work_root"], setup["paths"], setup["view"]).serve()
