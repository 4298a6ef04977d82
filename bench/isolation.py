"""The cost of the sandbox (issue 8): cold start and per-call time with every isolation layer on, beside the same
executor with layers taken away, measured side by side in one process (the executor directly, no HTTP).

Layers, added one at a time: none (workers run as the gateway's uid, share everything) → own uid + rlimits → + network
namespace → + pid/IPC/UTS/cgroup namespaces → + read-only filesystem view with private /tmp (= the default policy).
Cold start = deploy of a never-seen function (spawn from the zygote, load its code) + its first invoke, with no spare
worker ready, so the namespaces and mounts are all on the measured path.

Run alone: ``python -m bench.isolation``.
"""

from __future__ import annotations

import itertools
import statistics
import time
from dataclasses import replace
from typing import Any

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
                             isolate_filesystem=False)),
    ("+ own uid, rlimits", replace(FULL, isolate_network=False, isolate_pids=False, isolate_filesystem=False)),
    ("+ network namespace", replace(FULL, isolate_pids=False, isolate_filesystem=False)),
    ("+ pid/IPC/UTS namespaces", replace(FULL, isolate_filesystem=False)),
    ("+ read-only view, private /tmp (default)", FULL),
]
_ids = itertools.count(1)


def _target(runtime: str) -> Target:
    return Target(account_id="bench", function_uuid=f"iso-{next(_ids)}", manifest_version=1, runtime=runtime,
                  code=NOOP[runtime], environment={}, function_name="noop")


def _layer(policy: SandboxPolicy, cold: dict[str, int], calls: int) -> dict[str, Any]:
    ex = LocalExecutor(policy=policy, spares=0, max_workers=8, toolbelt_node_path=toolbelt.NODE_PATH,
                       toolbelt_python_path=toolbelt.PYTHON_PATH)
    try:
        out: dict[str, Any] = {}
        for runtime, count in cold.items():
            times = []
            for _ in range(count):
                t = _target(runtime)
                started = time.perf_counter()
                ex.deploy(t)
                ex.invoke(t, EVENT)
                times.append((time.perf_counter() - started) * 1000)
                ex.undeploy(t.account_id, t.function_uuid)
            out[f"cold {runtime}"] = statistics.median(times)
            warm = _target(runtime)
            ex.deploy(warm)
            for _ in range(50):
                ex.invoke(warm, EVENT)
            samples = []
            for _ in range(calls):
                started = time.perf_counter()
                ex.invoke(warm, EVENT)
                samples.append((time.perf_counter() - started) * 1e6)
            out[f"call {runtime}"] = statistics.median(samples)
        return out
    finally:
        ex.close()


def measure(cold_python: int = 25, cold_node: int = 8, calls: int = 2000) -> list[tuple[str, str, str, str]]:
    """Rows for results.md: (figure, measured, peer, verdict)."""
    cold = {"python3.11": cold_python, "nodejs20": cold_node}
    results = [(name, _layer(policy, cold, calls)) for name, policy in LAYERS]
    base = results[0][1]
    rows = []
    for name, figures in results:
        parts = []
        for runtime in ("python3.11", "nodejs20"):
            label = "py" if runtime.startswith("python") else "node"
            parts.append(f"cold {label} {figures[f'cold {runtime}']:.1f} ms, call {label} "
                         f"{figures[f'call {runtime}']:.0f} µs")
        delta = ", ".join(f"{'py' if r.startswith('python') else 'node'} cold "
                          f"{figures[f'cold {r}'] - base[f'cold {r}']:+.1f} ms / call "
                          f"{figures[f'call {r}'] - base[f'call {r}']:+.0f} µs" for r in ("python3.11", "nodejs20"))
        rows.append((f"sandbox cost: {name}", "; ".join(parts), f"vs no isolation: {delta}", "measured"))
    return rows


if __name__ == "__main__":
    for row in measure():
        print(" | ".join(row))
