"""Scale: listing 1,000 functions, and monthly counts / per-function p50/p99 over 1M invocation records.

The 1M records are folded into the daily aggregates exactly as the recorder does for real invocations (the raw
per-invocation rows are not needed by these queries, so they are not written here).
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from chalicelib.domain.models import Function, Manifest
from chalicelib.domain.states import State
from chalicelib.services.repository import FunctionRepository
from chalicelib.services.stats import InvocationStats
from chalicelib.storage.sqlite import SqliteStore

CODE = "function lambda(input, callback) {\n" + "  // padding\n" * 60 + "  callback(null, 1);\n}\n"
T0 = 1_767_225_600_000
DAY_MS = 86_400_000


def _timed(fn, runs: int = 20) -> float:
    samples = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t) * 1000)
    return statistics.median(samples)


def list_1000() -> dict[str, float]:
    """ms to list 1,000 functions (~1 kB of code each, no deployment yet): ``meta`` without code, as the V2 list and
    deployments routes do, ``full`` with it, as V1's list; ``cold`` in a fresh repository (every document decoded),
    ``warm`` when the repository has decoded them before (only keys and versions are read, then nothing changed)."""
    store = SqliteStore(Path(tempfile.mkdtemp()) / "db")
    repo = FunctionRepository(store)
    for i in range(1000):
        m = Manifest(id=str(uuid.uuid4()), version=1, runtime="nodejs20", code=CODE)
        repo.create(Function(account_id="scale", uuid=str(uuid.uuid4()), name=f"fn{i}", description="d",
                             event_id=None, state=State.DRAFT, manifest=m, created_at=f"{i:06d}"))
    samples: dict[str, list[float]] = {"meta_cold": [], "full_cold": [], "meta_warm": [], "full_warm": []}
    warm = FunctionRepository(store)
    for round_ in range(20):  # interleaved, so a change in the machine's speed hits all alike
        for kind in ("meta", "full"):
            for state, r in (("cold", FunctionRepository(store)), ("warm", warm)):
                if state == "cold" and round_ >= 7:
                    continue
                t = time.perf_counter()
                (r.list_meta if kind == "meta" else r.list)("scale")
                samples[f"{kind}_{state}"].append((time.perf_counter() - t) * 1000)
    return {k: statistics.median(v[1:] if k.endswith("warm") else v) for k, v in samples.items()}


def invocations_1m(functions: int = 50, total: int = 1_000_000) -> tuple[float, float, float]:
    """(fold seconds, monthly counts ms, one function's p50/p99 ms)."""
    stats = InvocationStats(SqliteStore(Path(tempfile.mkdtemp()) / "db"))
    fns = [str(uuid.uuid4()) for _ in range(functions)]
    rng = random.Random(7)
    started = time.perf_counter()
    batch = []
    for i in range(total):
        batch.append({"function_uuid": fns[i % functions], "at": T0 + rng.randrange(30 * DAY_MS),
                      "status": "SUCCEEDED" if rng.random() > 0.02 else "CODING_FAILURE",
                      "duration_ms": rng.lognormvariate(0, 0.6)})
        if len(batch) == 20_000:
            stats.fold("scale", batch)
            batch = []
    stats.fold("scale", batch)
    fold_s = time.perf_counter() - started
    assert sum(stats.counts("scale", T0, T0 + 30 * DAY_MS).values()) == total
    counts_ms = _timed(lambda: stats.counts("scale", T0, T0 + 30 * DAY_MS))
    latency_ms = _timed(lambda: stats.latency("scale", fns[0], T0, T0 + 30 * DAY_MS))
    return fold_s, counts_ms, latency_ms
