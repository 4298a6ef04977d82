"""The gateway's handle on one worker process, and the thread that drains every worker's stderr.

A call runs entirely in the caller's thread (write the request, poll/read the answer, serve RPCs in between): the
pool hands a worker to one caller at a time, so there is no reader thread and no hand-off on the hot path.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import select
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chalicelib.runtime.local.protocol import LineReader, LineWriter, WorkerGone, WorkerTimeout, encode

log = logging.getLogger("fngate.runtime.worker")
_ids = itertools.count(1)

RpcAnswer = Callable[[dict[str, Any]], bytes]  # an "rpc" request → the encoded "rpc-result" line


class LoadFailed(Exception):
    """The function's code did not load (syntax error, no entry point, top level threw or hung)."""

    def __init__(self, message: str, *, gone: bool = False) -> None:
        super().__init__(message)
        self.gone = gone  # the process died instead of answering (a stale spare, or the code exited)


@dataclass(eq=False)
class Worker:
    """One sandboxed process serving one target (or none yet: a spare)."""

    language: str
    pid: int
    pidfd: int
    uid: int | None
    workdir: str | None
    reader: LineReader
    writer: LineWriter
    stderr_fd: int
    recycle: bool = False  # retire instead of returning to the idle list
    alive: bool = True
    egress_token: str | None = None  # its egress proxy password, while it serves a target

    def load(self, message: dict[str, Any], deadline: float) -> str:
        """Send the code; wait for ready (returns the detected form) or raise LoadFailed."""
        try:
            self.writer.write(encode(message), deadline)
            while True:
                reply = self.reader.read(deadline)
                if reply.get("op") == "ready":
                    return str(reply.get("form", ""))
                if reply.get("op") == "load-error":
                    raise LoadFailed(str(reply.get("message") or "The code could not be loaded"))
        except WorkerTimeout:
            raise LoadFailed("The code did not finish loading in time") from None
        except WorkerGone:
            raise LoadFailed("The worker exited while loading the code", gone=True) from None

    def call(self, event: Any, timeout_s: float, deadline: float, rpc: RpcAnswer) -> dict[str, Any]:
        """One invocation: returns the worker's result message; raises WorkerTimeout or WorkerGone."""
        invocation_id = next(_ids)
        self.writer.write(encode({"id": invocation_id, "op": "invoke", "input": event,
                                  "timeout_ms": max(1, int(timeout_s * 1000))}), deadline)
        while True:
            message = self.reader.read(deadline)
            op = message.get("op")
            if op == "result" and message.get("id") == invocation_id:
                if message.get("recycle"):
                    self.recycle = True
                return message
            if op == "rpc":
                self.writer.write(rpc(message), deadline)

    def kill(self) -> None:
        """SIGKILL through the pidfd (never a recycled pid), then let go of our ends."""
        if not self.alive:
            return
        self.alive = False
        with contextlib.suppress(OSError):
            signal.pidfd_send_signal(self.pidfd, signal.SIGKILL)
        for fd in (self.reader.fd, self.writer.fd, self.pidfd):
            with contextlib.suppress(OSError):
                os.close(fd)


class StderrPump:
    """One thread, one epoll: every worker's stderr goes to the gateway log, at most ``budget`` bytes per worker
    (the rest is read and dropped so a chatty worker never blocks on a full pipe)."""

    def __init__(self, budget: int = 16_384) -> None:
        self._budget = budget
        self._epoll = select.epoll()
        self._streams: dict[int, list[Any]] = {}  # fd → [label, bytes left, partial line]
        self._lock = threading.Lock()
        self._wake_r, self._wake_w = os.pipe()
        self._epoll.register(self._wake_r, select.EPOLLIN)
        self._thread = threading.Thread(target=self._run, name="fngate-stderr", daemon=True)
        self._thread.start()

    def add(self, fd: int, label: str) -> None:
        os.set_blocking(fd, False)
        with self._lock:
            self._streams[fd] = [label, self._budget, b""]
        self._epoll.register(fd, select.EPOLLIN)

    def relabel(self, fd: int, label: str) -> None:
        with self._lock:
            if fd in self._streams:
                self._streams[fd][0] = label

    def _run(self) -> None:
        while True:
            for fd, _events in self._epoll.poll():
                if fd == self._wake_r:
                    self._shutdown()
                    return
                self._drain(fd)

    def _drain(self, fd: int) -> None:
        try:
            chunk = os.read(fd, 65536)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        with self._lock:
            stream = self._streams.get(fd)
        if stream is None:
            return
        if not chunk:
            self._emit(stream, stream[2], final=True)
            self._forget(fd)
            return
        self._emit(stream, stream[2] + chunk, final=False)

    def _emit(self, stream: list[Any], data: bytes, *, final: bool) -> None:
        lines = data.split(b"\n")
        stream[2] = b"" if final else lines.pop()
        if len(stream[2]) > 4096:  # no newline in sight: flush it as a line of its own
            lines.append(stream[2])
            stream[2] = b""
        for line in filter(None, lines):
            if stream[1] > 0:
                stream[1] -= len(line)
                log.warning("worker %s: %s", stream[0], line[:2000].decode(errors="replace"))
                if stream[1] <= 0:
                    log.warning("worker %s: stderr budget spent; dropping the rest", stream[0])

    def _forget(self, fd: int) -> None:
        with self._lock:
            self._streams.pop(fd, None)
        with contextlib.suppress(OSError):
            self._epoll.unregister(fd)
        os.close(fd)

    def _shutdown(self) -> None:
        with self._lock:
            fds = list(self._streams)
            self._streams.clear()
        for fd in fds:
            os.close(fd)
        self._epoll.close()
        os.close(self._wake_r)

    def close(self) -> None:
        os.write(self._wake_w, b"x")
        self._thread.join(timeout=2)
        os.close(self._wake_w)
