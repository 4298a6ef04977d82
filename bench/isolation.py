"""The cost of the sandbox (issue 8): cold start and per-call time with every isolation layer on, beside the same
executor with layers taken away, measured side by side in one process (the executor directly, no HTTP).

Layers, added one at a time: none (workers run as the gateway's uid, share everything) → own uid + rlimits → + network
namespace → + pid/IPC/UTS/cgroup namespaces → + read-only filesystem view with private /tmp → + seccomp filter (= the
default policy).
Cold start = deploy of a never-seen function (spawn from the zygote, load its code) + its first invoke, with no spare
worker ready, so the namespaces and mounts are all on the measured path.

Run alone: ``python -m bench.isolation``.
"""

from __future__ import annotations

import itertools
import statistics
import time
from dataclasses import replace

from chalicelib import toolbelt
from chalicelib.runtime.base import Target
from chalicelib.runtime.local.executor import LocalExecutor
from chalicelib.runtime.local.sandbox import SandboxPolicy

NOOP = {"python3.11": "def lambda_handler(input, callback):\n    callback(None, None)\n",
        "nodejs20": "function lambda(input, callback) {\n  callback(null, null);\n}\n"}
EVENT = {"headers": [], "payload": None}
FULL = SandboxPolicy()
LAYERS: list[tuple[str, SandboxPolicy]] = [
    ("no isolation", replace(FULL, drop_privileges=False, isolate_network=False, isolate_pids=False,
                             isolate_filesystem=False, filter_syscalls=False)),
    ("+ own uid, rlimits", replace(FULL, isolate_network=False, isolate_pids=False, isolate_filesystem=False,
                                   filter_syscalls=False)),
    ("+ network namespace", replace(FULL, isolate_pids=False, isolate_filesystem=False, filter_syscalls=False)),
    ("+ pid/IPC/UTS namespaces", replace(FULL, isolate_filesystem=False, filter_syscalls=False)),
    ("+ read-only view, private /tmp", replace(FULL, filter_syscalls=False)),
    ("+ seccomp filter (= the default)", FULL),
]
_ids = itertools.count(1)


def _target(runtime: str) -> Target:
    return Target(account_id="bench", function_uuid=f"iso-{next(_ids)}", manifest_version=1, runtime=runtime,
                  code=NOOP[runtime], environment={}, function_name="noop")


def _cold(ex: LocalExecutor, runtime: str) -> float:
    t = _target(runtime)
    started = time.perf_counter()
    ex.deploy(t)
    ex.invoke(t, EVENT)
    elapsed = (time.perf_counter() - started) * 1000
    ex.undeploy(t.account_id, t.function_uuid)
    return elapsed


def _calls(ex: LocalExecutor, t: Target, count: int) -> list[float]:
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        ex.invoke(t, EVENT)
        samples.append((time.perf_counter() - started) * 1e6)
    return samples


def measure(rounds: int = 16, calls: int = 2000) -> list[tuple[str, str, str, str]]:
    """Rows for results.md: (figure, measured, peer, verdict). One executor per layer, all alive at once, and every
    sample taken round robin across them, so drift on a shared machine hits every layer alike."""
    executors = [LocalExecutor(policy=policy, spares=0, max_workers=8, toolbelt_node_path=toolbelt.NODE_PATH,
                               toolbelt_python_path=toolbelt.PYTHON_PATH) for _, policy in LAYERS]
    runtimes = ("python3.11", "nodejs20")
    cold: dict[tuple[int, str], list[float]] = {(i, r): [] for i in range(len(LAYERS)) for r in runtimes}
    call: dict[tuple[int, str], list[float]] = {(i, r): [] for i in range(len(LAYERS)) for r in runtimes}
    try:
        for ex in executors:
            ex.settle()
        for n in range(rounds):
            for i, ex in enumerate(executors):
                for runtime in runtimes:
                    if runtime == "python3.11" or n % 2 == 0:  # Node cold starts are slow: every other round
                        cold[(i, runtime)].append(_cold(ex, runtime))
        warm = {(i, r): _target(r) for i in range(len(LAYERS)) for r in runtimes}
        for (i, _runtime), t in warm.items():
            executors[i].deploy(t)
            _calls(executors[i], t, 50)
        for _ in range(10):
            for (i, runtime), t in warm.items():
                call[(i, runtime)].extend(_calls(executors[i], t, calls // 10))
    finally:
        for ex in executors:
            ex.close()
    med = {key: statistics.median(values) for key, values in cold.items()}
    per_call = {key: statistics.median(values) for key, values in call.items()}
    rows = []
    for i, (name, _policy) in enumerate(LAYERS):
        figures = "; ".join(f"{_short(r)} cold {med[(i, r)]:.1f} ms, call {per_call[(i, r)]:.0f} µs" for r in runtimes)
        delta = ", ".join(f"{_short(r)} cold {med[(i, r)] - med[(0, r)]:+.1f} ms / call "
                          f"{per_call[(i, r)] - per_call[(0, r)]:+.0f} µs" for r in runtimes)
        rows.append((f"sandbox cost: {name}", figures, f"vs no isolation: {delta}", "measured"))
    return rows


def _short(runtime: str) -> str:
    return "py" if runtime.startswith("python") else "node"


if __name__ == "__main__":
    for row in measure():
        print(" | ".join(row))
