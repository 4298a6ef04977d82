"""chalicelib/runtime/waits.py: the same waits block a thread, and suspend a call run on an event loop so the loop
serves other calls meanwhile; slow steps leave the loop's thread; errors and timeouts reach the caller."""

from __future__ import annotations

import asyncio
import gc
import os
import select
import threading
import weakref
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from chalicelib.runtime import waits


@pytest.fixture()
def pipe() -> Iterator[tuple[int, int, select.poll]]:
    read, write = os.pipe()
    os.set_blocking(read, False)
    poller = select.poll()
    poller.register(read, select.POLLIN)
    yield read, write, poller
    os.close(read)
    os.close(write)


def run(*calls: Callable[[], Any]) -> list[Any]:
    """Each call on one event loop at once (run_on_loop); their results in order."""
    loop = asyncio.new_event_loop()
    pool: list[threading.Thread] = []

    def submit(job: Callable[[], None]) -> None:
        pool.append(threading.Thread(target=job))
        pool[-1].start()

    try:
        async def all_of() -> list[Any]:
            return list(await asyncio.gather(*(waits.run_on_loop(c, loop, submit) for c in calls)))
        return loop.run_until_complete(all_of())
    finally:
        for thread in pool:
            thread.join()
        loop.close()


def test_on_a_thread_a_wait_blocks_until_ready_or_the_time_is_up(pipe):
    read, write, poller = pipe
    assert waits.readable(read, 0.01, poller) is False
    os.write(write, b"x")
    assert waits.readable(read, 1.0, poller) is True
    assert waits.offload(lambda a, b: a + b, 2, 3) == 5  # on a thread: called in place


def test_a_call_waiting_on_the_loop_lets_the_loop_run_other_calls(pipe):
    read, write, poller = pipe
    order: list[str] = []

    def waiter() -> str:
        order.append("waiting")
        assert waits.readable(read, 5.0, poller)
        order.append("woken")
        return os.read(read, 1).decode()

    def writer() -> str:
        order.append("writing")  # runs while the first call waits on the same loop thread
        os.write(write, b"y")
        return "written"

    assert run(waiter, writer) == ["y", "written"]
    assert order == ["waiting", "writing", "woken"]


def test_a_wait_on_the_loop_times_out(pipe):
    read, _, poller = pipe
    assert run(lambda: waits.readable(read, 0.05, poller)) == [False]


def test_patience_answers_a_ready_pipe_without_leaving_the_call(pipe):
    read, write, poller = pipe
    os.write(write, b"z")
    suspended: list[bool] = []

    def quick() -> bool:
        with waits.patience(0.001):
            ready = waits.readable(read, 5.0, poller)
        suspended.append(False)
        return ready

    def other() -> str:
        suspended.append(True)  # would run first if the quick call had handed its wait to the loop
        return "other"

    assert run(quick, other) == [True, "other"]
    assert suspended == [False, True]


def test_offload_runs_on_another_thread_and_returns_or_raises():
    loop_thread = threading.get_ident()

    def where() -> int:
        return waits.offload(threading.get_ident)

    def fails() -> None:
        waits.offload(lambda: (_ for _ in ()).throw(KeyError("nope")))

    (ident,) = run(where)
    assert ident != loop_thread
    with pytest.raises(KeyError):
        run(fails)


def test_an_error_in_a_call_reaches_its_awaiter_and_the_next_call_runs(pipe):
    def boom() -> None:
        raise ValueError("bad")

    with pytest.raises(ValueError, match="bad"):
        run(boom)
    assert run(lambda: 42, lambda: 43) == [42, 43]


def test_a_runner_kept_for_reuse_holds_nothing_of_the_call_it_ran():
    class Body:
        pass

    body = Body()
    kept = weakref.ref(body)

    def call(request: Body = body) -> str:
        return "answered"

    assert run(call) == ["answered"]
    del call, body
    gc.collect()
    assert kept() is None  # an idle runner would otherwise pin the last request (and its body) it served
