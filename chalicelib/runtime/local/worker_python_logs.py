"""The Python worker's log book: the invocation in flight, and console / print / logging → log records.

Caps (protocol.py): at most ``limits[0]`` records and ``limits[1]`` characters per invocation; past either, the
invocation is marked ``overflow`` (it still runs to the end, then fails with log-limit and one Error record).
Stdlib only: the zygote loads it by path, next to worker_python.
"""

from __future__ import annotations

import io
import json
import logging
import os
import threading
import time
from typing import Any

CUSTOM_FAILURE = "custom-failure"
LIMIT_MESSAGE = "Function exceeded the log limits: at most {entries} entries and {chars} characters per invocation"
TWICE_MESSAGE = "callback was called more than once; only the first call counts"

lock = threading.Lock()  # guards ``current`` and every Invocation's logs and answer
limits = [10, 5000]
current: Invocation | None = None


def describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def error_message(err: Any) -> str:
    if isinstance(err, BaseException):
        return str(err) or type(err).__name__
    if isinstance(err, str):
        return err
    try:
        return json.dumps(err, ensure_ascii=False)
    except (TypeError, ValueError):
        return repr(err)


class Invocation:
    """One call: its logs, and (callback form) the first answer."""

    def __init__(self, invocation_id: int) -> None:
        self.id = invocation_id
        self.logs: list[dict[str, Any]] = []
        self.chars = 0
        self.overflow = self.finished = False
        self.answer: tuple[str, Any] | None = None  # ("ok", result) | (kind, message)
        self.answered = threading.Event()

    def callback(self, err: Any = None, result: Any = None) -> None:
        with lock:
            if self.answer is not None:
                if not self.finished:
                    record(self, "Warn", TWICE_MESSAGE, [], counted=False)
                return
            self.answer = (CUSTOM_FAILURE, error_message(err)) if err is not None else ("ok", result)
        self.answered.set()


def json_safe(value: Any) -> Any:
    if isinstance(value, str):
        return value
    if isinstance(value, BaseException):
        return describe(value)
    try:
        return json.loads(json.dumps(value, ensure_ascii=False, allow_nan=False))
    except (TypeError, ValueError, RecursionError):
        return repr(value)


def size_of(message: Any, extras: list[Any]) -> int:
    dump = lambda v: json.dumps(v, ensure_ascii=False, separators=(",", ":"))
    return (len(message) if isinstance(message, str) else len(dump(message))) + (len(dump(extras)) if extras else 0)


def record(inv: Invocation, level: str, message: Any, extras: list[Any], counted: bool = True) -> None:
    if inv.overflow:
        return
    size = size_of(message, extras) if counted else 0
    if counted and (len(inv.logs) >= limits[0] or inv.chars + size > limits[1]):
        inv.overflow, inv.logs = True, []
        return
    inv.chars += size
    inv.logs.append({"level": level, "message": message, "extras": extras, "timestamp": int(time.time() * 1000)})


def capture(level: str, message: Any, extras: tuple[Any, ...]) -> None:
    safe, safe_extras = json_safe(message), [json_safe(e) for e in extras]
    with lock:
        inv = current
        if inv is not None and not inv.finished:
            record(inv, level, safe, safe_extras)
            return
    os.write(2, f"[{level}] {message} {' '.join(map(str, extras))}\n".encode(errors="replace"))


class Console:
    """What functions log with: ``console.info("message", extra, ...)``."""

    def debug(self, message: Any = "", *extras: Any) -> None:
        capture("Debug", message, extras)

    def info(self, message: Any = "", *extras: Any) -> None:
        capture("Info", message, extras)

    def warn(self, message: Any = "", *extras: Any) -> None:
        capture("Warn", message, extras)

    def error(self, message: Any = "", *extras: Any) -> None:
        capture("Error", message, extras)

    log, warning = info, warn


class PrintCapture(io.TextIOBase):
    """sys.stdout: each printed line becomes an Info record."""

    def __init__(self) -> None:
        self._pending = ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self._pending += text
        while "\n" in self._pending:
            line, self._pending = self._pending.split("\n", 1)
            capture("Info", line, ())
        return len(text)

    def flush(self) -> None:
        if self._pending:
            line, self._pending = self._pending, ""
            capture("Info", line, ())


class LogHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        level = "Debug" if record.levelno < 20 else "Info" if record.levelno < 30 else (
            "Warn" if record.levelno < 40 else "Error")
        capture(level, self.format(record), ())


def finish(inv: Invocation) -> tuple[list[dict[str, Any]], str | None]:
    """Close the book on ``inv``: its records, or (overflow) the one record saying so and that message."""
    global current
    with lock:
        inv.finished = True
        if current is inv:
            current = None
    if not inv.overflow:
        return inv.logs, None
    message = LIMIT_MESSAGE.format(entries=limits[0], chars=limits[1])
    return [{"level": "Error", "message": message, "extras": [], "timestamp": int(time.time() * 1000)}], message


def begin(inv: Invocation) -> None:
    global current
    with lock:
        current = inv


CONSOLE = Console()
