"""SharedAccountLimiter: one account's rate and in-flight cap held across processes through one file."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from chalicelib.domain.errors import TooManyRequests
from chalicelib.services.shared_limiter import SharedAccountLimiter

FROZEN = lambda: 1000.0  # no refill during a test


def in_another_process(job: Callable[[], object]) -> object:
    """Runs job in a forked process (its own column) and returns what it returned, or the exception's name."""
    ctx = multiprocessing.get_context("fork")
    receive, send = ctx.Pipe(duplex=False)

    def run() -> None:
        try:
            send.send(job())
        except Exception as err:
            send.send(type(err).__name__)

    proc = ctx.Process(target=run)
    proc.start()
    result = receive.recv()
    proc.join()
    return result


def admit_and_hold(limiter: SharedAccountLimiter, account: str) -> None:
    limiter.admit(account).__enter__()  # in flight until the process ends


def test_the_rate_is_the_accounts_not_the_processes(tmp_path: Path) -> None:
    path = tmp_path / "limits"
    mine = SharedAccountLimiter(path, rate_per_s=1.0, burst=3, max_in_flight=100, clock=FROZEN)
    with mine.admit("acc"), mine.admit("acc"):
        pass

    def other() -> str:
        theirs = SharedAccountLimiter(path, rate_per_s=1.0, burst=3, max_in_flight=100, clock=FROZEN)
        with theirs.admit("acc"):
            pass
        with theirs.admit("acc"):
            return "admitted a fourth"

    assert in_another_process(other) == "TooManyRequests"
    with pytest.raises(TooManyRequests) as exc, mine.admit("acc"):
        pass
    assert exc.value.retry_after == 1


def test_the_in_flight_cap_counts_every_process(tmp_path: Path) -> None:
    path = tmp_path / "limits"
    mine = SharedAccountLimiter(path, rate_per_s=1e9, burst=1e9, max_in_flight=2)
    held = mine.admit("acc")
    held.__enter__()

    def other() -> str:
        theirs = SharedAccountLimiter(path, rate_per_s=1e9, burst=1e9, max_in_flight=2)
        with theirs.admit("acc"):
            try:
                with theirs.admit("acc"):
                    return "three in flight"
            except TooManyRequests:
                return "refused the third"

    assert in_another_process(other) == "refused the third"
    held.__exit__(None, None, None)
    with mine.admit("acc"), mine.admit("acc"):  # both slots free again: the other process released its one
        pass


def test_in_flight_calls_of_a_dead_process_stop_counting_when_a_process_starts(tmp_path: Path) -> None:
    path = tmp_path / "limits"

    def die_holding_two() -> int:
        limiter = SharedAccountLimiter(path, rate_per_s=1e9, burst=1e9, max_in_flight=2)
        admit_and_hold(limiter, "acc")
        admit_and_hold(limiter, "acc")
        return os.getpid()  # and exits without releasing (as SIGKILL would leave it)

    in_another_process(die_holding_two)
    replacement = SharedAccountLimiter(path, rate_per_s=1e9, burst=1e9, max_in_flight=2)

    with replacement.admit("acc"), replacement.admit("acc"):
        pass


def test_accounts_are_limited_separately(tmp_path: Path) -> None:
    limiter = SharedAccountLimiter(tmp_path / "limits", rate_per_s=1.0, burst=1, max_in_flight=10, clock=FROZEN)
    with limiter.admit("a"), limiter.admit("b"):
        pass
    with pytest.raises(TooManyRequests), limiter.admit("a"):
        pass
