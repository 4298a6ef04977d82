"""How the gateway's blocking code waits, wherever it runs.

On a thread, a wait blocks the thread. An invocation served on a server process's event loop (``run_on_loop``)
runs in a greenlet on the loop's own thread: there, waiting for a function worker's pipe either blocks briefly (a
function that has been answering within ``patience``) or hands control back to the loop, which resumes the call when
the pipe is ready; a step that may block for long (starting a worker, answering a Toolbelt RPC) runs on a thread
meanwhile (``offload``). One thread then does an invocation's Python from the request to the answer, with no hand-over
between threads and no contention for the GIL on the hot path (bench/results.md: at 16 connections the gateway's CPU
per no-op invocation went from ~500 to ~280 µs). The code below calls ``readable``, ``writable`` and ``offload`` and
never needs to know which of the two it runs on.
"""

from __future__ import annotations

import asyncio
import contextlib
import select
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import greenlet  # type: ignore[import-untyped]

from chalicelib.runtime.local.protocol import poll_ready

T = TypeVar("T")
Submit = Callable[[Callable[[], None]], None]  # runs a job on some thread (the server's request threads)
_FINISHED = object()  # what a runner hands back when its call has ended (the outcome is on the runner)
_IDLE_MAX = 256  # finished runners kept for reuse: a new greenlet allocates its own frame stack (~40 µs a call)


class _Runner(greenlet.greenlet):
    """A greenlet that runs calls for ``run_on_loop``, one after another."""

    def __init__(self) -> None:
        super().__init__(self._serve)
        self.loop: asyncio.AbstractEventLoop | None = None
        self.submit: Submit | None = None
        self.patience_s = 0.0
        self.outcome: tuple[bool, Any] | None = None  # (True, result) or (False, exception) of the call just run

    def _serve(self, call: Callable[[], Any] | None) -> None:
        while call is not None:
            try:
                self.outcome = (True, call())
            except greenlet.GreenletExit:
                raise
            except BaseException as err:  # handed to the awaiting coroutine, which raises it
                self.outcome = (False, err)
            del call  # an idle runner keeps nothing of the request it served (its body may be a megabyte)
            call = self.parent.switch(_FINISHED)

    def wait(self, awaitable: Awaitable[T]) -> T:
        """Suspends the call until ``awaitable`` is done on the loop."""
        ok, value = self.parent.switch(awaitable)
        if not ok:
            raise value
        return value  # type: ignore[no-any-return]


_idle: list[_Runner] = []


async def run_on_loop(call: Callable[[], T], loop: asyncio.AbstractEventLoop, submit: Submit) -> T:
    """``call()`` run on this loop's thread; its waits (below) are awaited here, its slow steps go to ``submit``."""
    runner = _idle.pop() if _idle else _Runner()
    runner.parent, runner.loop, runner.submit, runner.patience_s = greenlet.getcurrent(), loop, submit, 0.0
    waiting = runner.switch(call)
    while waiting is not _FINISHED:
        try:
            resumed: tuple[bool, Any] = (True, await waiting)
        except BaseException as err:  # delivered to the waiting code, which decides
            resumed = (False, err)
        waiting = runner.switch(resumed)
    assert runner.outcome is not None
    (ok, result), runner.outcome = runner.outcome, None
    if len(_idle) < _IDLE_MAX:
        _idle.append(runner)
    if not ok:
        raise result
    return result  # type: ignore[no-any-return]


def _current() -> _Runner | None:
    runner = greenlet.getcurrent()
    return runner if isinstance(runner, _Runner) else None


@contextlib.contextmanager
def patience(seconds: float) -> Iterator[None]:
    """Within it, a loop call blocks up to ``seconds`` for a pipe before handing the wait to the loop: for a
    function that answers in microseconds, a blocking poll is far cheaper than a round through the loop. No effect
    on a thread."""
    runner = _current()
    if runner is None:
        yield
        return
    before, runner.patience_s = runner.patience_s, seconds
    try:
        yield
    finally:
        runner.patience_s = before


def readable(fd: int, timeout_s: float, poller: select.poll) -> bool:
    """Whether ``fd`` became readable within ``timeout_s``; ``poller`` (registered for it) is used to block."""
    runner = _current()
    if runner is None:
        return poll_ready(fd, timeout_s, poller)
    if runner.patience_s and poll_ready(fd, min(runner.patience_s, timeout_s), poller):
        return True
    return runner.wait(_ready(runner.loop, fd, timeout_s, write=False))


def writable(fd: int, timeout_s: float, poller: select.poll) -> bool:
    runner = _current()
    if runner is None:
        return poll_ready(fd, timeout_s, poller)
    return runner.wait(_ready(runner.loop, fd, timeout_s, write=True))


def offload(fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)``; from a loop call, on a thread, so that a slow one never stalls the loop."""
    runner = _current()
    if runner is None:
        return fn(*args)
    loop, submit = runner.loop, runner.submit
    assert loop is not None and submit is not None
    done: asyncio.Future[T] = loop.create_future()

    def job() -> None:
        try:
            result = fn(*args)
        except BaseException as err:
            _deliver(loop, done, False, err)
        else:
            _deliver(loop, done, True, result)

    submit(job)
    return runner.wait(done)


def _deliver(loop: asyncio.AbstractEventLoop, done: asyncio.Future[Any], ok: bool, value: Any) -> None:
    def settle() -> None:
        if not done.done():
            if ok:
                done.set_result(value)
            else:
                done.set_exception(value)

    with contextlib.suppress(RuntimeError):  # the loop has closed: the process is stopping
        loop.call_soon_threadsafe(settle)


def _ready(loop: Any, fd: int, timeout_s: float, *, write: bool) -> asyncio.Future[bool]:
    """A future that becomes True when ``fd`` is ready, False when ``timeout_s`` has passed first."""
    ready: asyncio.Future[bool] = loop.create_future()
    remove = loop.remove_writer if write else loop.remove_reader

    def stop() -> None:
        remove(fd)
        timer.cancel()

    def settle(value: bool) -> None:
        if not ready.done():
            stop()
            ready.set_result(value)

    def cancelled(done: asyncio.Future[bool]) -> None:
        if done.cancelled():  # the request was cancelled while waiting
            stop()

    (loop.add_writer if write else loop.add_reader)(fd, settle, True)
    timer = loop.call_later(max(0.0, timeout_s), settle, False)
    ready.add_done_callback(cancelled)
    return ready

