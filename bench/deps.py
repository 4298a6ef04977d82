"""Function dependencies (issue 17), side by side in one run, in-process with the real local executor:

- deploy → first invoke without dependencies, and with three npm / three PyPI dependencies, cache cold (a new
  cache: resolve, download, install) and warm (another function with the same declaration: the remembered lock);
- cold start of a worker (an evicted function's first invoke, no spare) with and without a dependency dir;
- disk used by 100 functions sharing one lock.

Needs the npm registry and PyPI. Run alone: ``python -m bench.deps``; ``bench.run`` adds the rows to results.md.
"""

from __future__ import annotations

import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from chalicelib.config import Settings
from chalicelib.domain.permissions import Principal, Role
from chalicelib.services.container import Services, build_services
from chalicelib.services.functions import FunctionChanges

ACC = "benchdeps"
DEV = Principal(ACC, "dev", "user", frozenset({Role.DEVELOPER}), login_name="bench")
NPM = {"is-number": "7.0.0", "left-pad": "1.3.0", "ms": "2.1.3"}
PYPI = {"six": "1.16.0", "idna": "3.7", "python-dateutil": "2.9.0.post0"}
CODE = {"nodejs20": "function lambda(input, callback) {\n  callback(null, 1);\n}\n",
        "python3.11": "def lambda_handler(input, callback):\n    callback(None, 1)\n"}


def _deploy_and_invoke(svc: Services, name: str, runtime: str, deps: dict[str, str]) -> float:
    """ms from the deploy request to the first answer (deploy runs inline: build, start a worker, load)."""
    fn = svc.functions.create(DEV, FunctionChanges(name=name, description="bench", code=CODE[runtime],
                                                   runtime=runtime,
                                                   dependencies=[{"key": k, "value": v} for k, v in deps.items()]))
    t0 = time.perf_counter()
    svc.deployments.deploy(DEV, fn.uuid)
    got = svc.functions.get(DEV, fn.uuid)
    assert got.state.value == "Productive", got.last_deployment
    from chalicelib.services.invocations import Call

    svc.invocations.invoke(DEV, fn.uuid, Call(body={"payload": {}}))
    return (time.perf_counter() - t0) * 1000


def _cold_starts(svc: Services, lang: str, runtime: str, deps: dict[str, str], runs: int = 9) -> tuple[float, float]:
    """Median ms of a first invoke after the function's workers were retired, without and with dependencies,
    alternating the two so that both see the same machine."""
    from chalicelib.services.invocations import Call

    uuids = []
    for name, declared in ((f"{lang}-s0", {}), (f"{lang}-s1", deps)):
        fn = svc.functions.create(DEV, FunctionChanges(name=name, description="bench", code=CODE[runtime],
                                                       runtime=runtime, dependencies=[{"key": k, "value": v}
                                                                                      for k, v in declared.items()]))
        svc.deployments.deploy(DEV, fn.uuid)
        uuids.append(fn.uuid)
    samples: list[list[float]] = [[], []]
    for _ in range(runs):
        for i, uuid in enumerate(uuids):
            svc.executor.undeploy(ACC, uuid)  # type: ignore[attr-defined]
            svc.executor.settle()  # type: ignore[attr-defined]
            t0 = time.perf_counter()
            svc.invocations.invoke(DEV, uuid, Call(body={"payload": {}}))
            samples[i].append((time.perf_counter() - t0) * 1000)
    return statistics.median(samples[0]), statistics.median(samples[1])


def _du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def measure() -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="fngate-deps-bench-"))
    svc = build_services(Settings(data_dir=work, jobs="inline", max_workers=8))
    svc.identity.ensure_account(ACC)
    try:
        svc.executor.settle()  # type: ignore[attr-defined]
        out: dict[str, Any] = {}
        for runtime, deps in (("nodejs20", NPM), ("python3.11", PYPI)):
            lang = runtime[:4]
            out[f"{lang}_none"] = _deploy_and_invoke(svc, f"{lang}-none", runtime, {})
            out[f"{lang}_cold"] = _deploy_and_invoke(svc, f"{lang}-cold", runtime, deps)
            out[f"{lang}_warm"] = _deploy_and_invoke(svc, f"{lang}-warm", runtime, deps)
            out[f"{lang}_start_none"], out[f"{lang}_start_deps"] = _cold_starts(svc, lang, runtime, deps)
        before = _du(work / "deps")
        for i in range(100):  # over three accounts (50 functions per account)
            who = Principal(f"{ACC}{i // 40}", "dev", "user", frozenset({Role.DEVELOPER}), login_name="bench")
            svc.identity.ensure_account(who.account_id)
            fn = svc.functions.create(who, FunctionChanges(name=f"share{i}", description="b", code=CODE["python3.11"],
                                                           runtime="python3.11",
                                                           dependencies=[{"key": k, "value": v}
                                                                         for k, v in PYPI.items()]))
            svc.deployments.deploy(who, fn.uuid)
            svc.executor.undeploy(who.account_id, fn.uuid)  # type: ignore[attr-defined]
        out["shared_mb"], out["one_lock_mb"] = _du(work / "deps") / 1e6, before / 1e6
        return out
    finally:
        svc.close()
        shutil.rmtree(work, ignore_errors=True)


def rows() -> list[tuple[str, str, str, str]]:
    m = measure()
    out = []
    for lang, what in (("node", "three npm"), ("pyth", "three PyPI")):
        extra = m[f"{lang}_warm"] - m[f"{lang}_none"]
        out.append((f"deploy → first invoke with {what} dependencies: none / cache cold / cache warm",
                    f"{m[f'{lang}_none']:.0f} / {m[f'{lang}_cold']:.0f} / {m[f'{lang}_warm']:.0f} ms "
                    f"(warm +{extra:.0f} ms)", "warm ≤ +100 ms over none", "met" if extra <= 100 else "**missed**"))
        start = m[f"{lang}_start_deps"] - m[f"{lang}_start_none"]
        out.append((f"cold start of a {'node' if lang == 'node' else 'python'} worker (spare ready), without / with "
                    "a dependency dir (medians of 9, alternating)", f"{m[f'{lang}_start_none']:.1f} / "
                    f"{m[f'{lang}_start_deps']:.1f} ms ({start:+.1f} ms)", "≤ +10 ms",
                    "met" if start <= 10 else "**missed**"))
    out.append(("disk used by 100 functions with one lock (three PyPI packages)",
                f"{m['shared_mb']:.2f} MB in all (the lock alone: {m['one_lock_mb']:.2f} MB, with the node one)",
                "one copy", "met" if m["shared_mb"] <= m["one_lock_mb"] * 1.01 else "**missed**"))
    return out


def main() -> None:
    for name, value, peer, verdict in rows():
        print(f"| {name} | {value} | {peer} | {verdict} |")


if __name__ == "__main__":
    main()
