"""The request path's parts that issue 13 cut, each measured before and after in one process (CPU time of the
calling thread, best of 5 rounds): the access line, the freshness check of the invoke path, the account limiter,
and the whole in-process invoke with the collector as Python sets it and with start-up objects frozen.

``python -m bench.cpu_parts`` prints one JSON object; bench/edge.py runs it in its own process.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path


def best_us(fn: Callable[[], object], n: int, rounds: int = 5) -> float:
    best = float("inf")
    for _ in range(rounds):
        started = time.thread_time()
        for _ in range(n):
            fn()
        best = min(best, (time.thread_time() - started) / n * 1e6)
    return best


def access_line() -> dict[str, float]:
    from chalicelib.observability.logger import LOGGER, write_line

    fields = {"route": "/api/account/{account_id}/lambdas/{uuid}/invoke", "method": "POST", "status": 200,
              "duration_ms": 1.234, "outcome": "ok", "function": "42330b21-5964-4acf-95e9-6bd3e8297386"}
    LOGGER.thread_safe_append_keys(request_id="0" * 36, account="bench")
    try:
        return {"before": best_us(lambda: LOGGER.info("request", extra=fields), 20_000),
                "after": best_us(lambda: write_line(logging.INFO, "request", fields), 20_000)}
    finally:
        LOGGER.thread_safe_clear_keys()


def freshness(work: Path) -> dict[str, float]:
    from chalicelib.storage.base import Query
    from chalicelib.storage.sqlite import SqliteStore

    store = SqliteStore(work / "fresh.db")
    uuid = "42330b21-5964-4acf-95e9-6bd3e8297386"
    store.put("function", "bench", uuid, {"code": "x" * 2000})
    query = Query("function", "bench", start=uuid, end=uuid + "\x00", keys_only=True)
    try:
        return {"before": best_us(lambda: store.query(query)[0].version, 20_000),
                "after": best_us(lambda: store.version("function", "bench", uuid), 20_000)}
    finally:
        store.close()


def limiter(work: Path) -> dict[str, float]:
    from chalicelib.services.limiter import AccountLimiter
    from chalicelib.services.shared_limiter import SharedAccountLimiter

    shared = SharedAccountLimiter(work / "limits", 1e9, 1e9, 1_000_000)
    local = AccountLimiter(1e9, 1e9, 1_000_000)

    def admit(limits: AccountLimiter) -> None:
        with limits.admit("bench"):
            pass

    try:
        return {"before": best_us(lambda: admit(shared), 20_000), "after": best_us(lambda: admit(local), 20_000)}
    finally:
        shared.close()


def invoke_with_gc(work: Path) -> dict[str, float]:
    """The invoke route in-process (as bench/profile.py), CPU of the calling thread, and a full collection's pause:
    the collector as Python sets it, then with the start-up objects frozen, as a server process does."""
    from bench.noop_route import invoke_route

    with invoke_route(work / "gc") as call:
        try:
            for _ in range(300):
                call()
            before = best_us(call, 2000)
            pause_before = _full_collection_ms()
            gc.collect()
            gc.freeze()
            return {"before": before, "after": best_us(call, 2000), "pause_before": pause_before,
                    "pause_after": _full_collection_ms()}
        finally:
            gc.unfreeze()


def _full_collection_ms() -> float:
    """A full collection's pause, best of 5: what a request waits when the collector reaches generation 2."""
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        gc.collect()
        best = min(best, (time.perf_counter() - started) * 1000)
    return best


def main() -> None:
    from chalicelib.observability.logger import LOGGER

    devnull = open(os.devnull, "w")  # noqa: SIM115  the gateway's lines are not what is measured
    LOGGER.registered_handler.stream = devnull  # type: ignore[attr-defined]
    work = Path(tempfile.mkdtemp(prefix="fngate-cpu-"))
    out = {"access_line": access_line(), "freshness": freshness(work), "limiter": limiter(work),
           "invoke_gc": invoke_with_gc(work)}
    print(json.dumps(out), file=sys.__stdout__, flush=True)


if __name__ == "__main__":
    main()
