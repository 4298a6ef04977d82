"""The scheduler's figures (issue 14), on the local SQLite store, with gateway processes as `fngate serve` runs them:

- lateness of 100 and of 1,000 schedules (over 10 and 100 accounts) all due in the same minute: the time from each
  slot to its function's start, p50 / p99 / max, with two gateway processes sharing the data dir (each runs a
  scheduler and a job runner); every slot must run exactly once (runs in the history, invocations as recorded);
- the same for 100 schedules with real no-op Python functions on the local executor (warm worker processes, each
  gateway process starting its own: the first run of a function in a process includes that cold start);
- CPU of an idle gateway process (everything ``start_background`` runs) holding 1,000 active schedules due hours
  later, over 30 s, as a share of one core.

Except in the real-executor row the functions are no-ops on an in-process executor (no worker processes): what is
measured is the scheduler, the job queue and the invocation path (limits, records), not the sandbox. Each slot is a
fixed daily minute chosen after setup, so no slot falls due while schedules are being created.

Run alone: ``python -m bench.schedules`` (prints the rows); ``bench.run`` adds them to results.md.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from chalicelib.config import Settings
from chalicelib.domain.permissions import Principal, Role
from chalicelib.runtime.base import Outcome, Target
from chalicelib.services.container import build_services
from chalicelib.services.functions import FunctionChanges
from chalicelib.services.schedules import ScheduleChanges
from chalicelib.storage.base import Query

ROOT = Path(__file__).resolve().parents[1]
NOOP = "function lambda(input, callback) {\n  callback(null, null);\n}\n"
NOOP_PY = "def lambda_handler(input, callback):\n    callback(None, None)\n"
PROCESSES = 2
IDLE_S = 30.0


class NoopExecutor:
    """Runs every function as a no-op."""

    def build(self, target: Target) -> str:
        return ""

    def deploy(self, target: Target) -> None:
        return None

    def undeploy(self, account_id: str, function_uuid: str) -> None:
        return None

    def invoke(self, target: Target, event: dict[str, Any], *, timeout_s: float | None = None) -> Outcome:
        return Outcome(result=None, logs=[])

    def close(self) -> None:
        return None


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


def _settings(data: Path, **kw: Any) -> Settings:
    return Settings(data_dir=data, jobs=kw.pop("jobs", "background"), **kw)


def setup(data: Path, n: int, accounts: int, cron: str | None,
          python: bool = False) -> tuple[list[tuple[str, str]], float | None]:
    """Deploys one function per account and ``n`` schedules spread over them; the slot they share (epoch s),
    chosen once the functions are deployed (cron None: a minute far enough ahead to create them all first)."""
    svc = build_services(_settings(data, jobs="inline"), executor=NoopExecutor())
    try:
        fns = []
        for a in range(accounts):
            who = Principal(f"acct{a:04d}", "dev", "user", frozenset({Role.DEVELOPER}), login_name="bench")
            fn = svc.functions.create(who, FunctionChanges(name="noop", description="", code=NOOP_PY if python
                                                           else NOOP, runtime="python3.11" if python else "Node.js 20"))
            svc.deployments.deploy(who, fn.uuid)
            fns.append((who, fn.uuid))
        due = None
        if cron is None:
            margin = 5 + n * 0.01  # creating a schedule takes a few ms
            due = (int(time.time() + margin) // 60 + 1) * 60
            cron = time.strftime("%M %H * * *", time.gmtime(due))
        made = []
        for i in range(n):
            who, uuid = fns[i % accounts]
            made.append((who.account_id, svc.schedules.create(who, ScheduleChanges(function_uuid=uuid, cron=cron)).id))
        if due is not None and time.time() >= due - 1:
            raise RuntimeError("setup overran the chosen slot; run again")
        return made, due
    finally:
        svc.close()


def _spawn(data: Path, until: float, out: Path, real: bool = False) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "bench.schedules", "worker", str(data), str(until), str(out),
                             "real" if real else "noop"], cwd=ROOT)


def _worker(data: str, until: str, out: str, kind: str) -> None:
    """One gateway process: scheduler + job runner + recorder, as `fngate serve` starts them; runs until ``until``
    and writes its CPU seconds (from the moment it was ready) and scheduler passes."""
    svc = build_services(_settings(Path(data)), executor=None if kind == "real" else NoopExecutor())
    svc.start_background()
    ready = resource.getrusage(resource.RUSAGE_SELF)
    time.sleep(max(0.0, float(until) - time.time()))
    done = resource.getrusage(resource.RUSAGE_SELF)
    svc.close()
    cpu = (done.ru_utime - ready.ru_utime) + (done.ru_stime - ready.ru_stime)
    Path(out).write_text(json.dumps({"cpu_s": cpu, "ticks": svc.scheduler.ticks if svc.scheduler else 0}))


def lateness(n: int, accounts: int, real: bool = False) -> dict[str, float]:
    data = Path(tempfile.mkdtemp(prefix="fngate-sched-bench-"))
    made, due = setup(data, n, accounts, None, python=real)
    assert due is not None
    window = 10 + n / 50  # generous: the run is over long before
    outs = [data / f"worker{i}.json" for i in range(PROCESSES)]
    procs = [_spawn(data, due + window, out, real) for out in outs]
    for p in procs:
        p.wait(timeout=window + 120)
    svc = build_services(_settings(data, jobs="inline"), executor=NoopExecutor())
    late, done, runs, not_ok, functions = [], [], 0, 0, set()
    try:
        for account_id, sid in made:
            who = Principal(account_id, "dev", "user", frozenset({Role.DEVELOPER}))
            functions.add((account_id, svc.schedules.get(who, sid).function_uuid))
            for run in svc.schedules.runs(who, sid):
                runs += 1
                if run.status != "SUCCEEDED" or run.started is None:
                    not_ok += 1
                    continue
                late.append(run.started - run.due)
                done.append(run.started + (run.duration_ms or 0) / 1000 - run.due)
        # invocations as the invocation path recorded them, in both processes
        invoked = sum(len(svc.store.query(Query("invocation", f"{a}#{u}", keys_only=True))) for a, u in functions)
    finally:
        svc.close()
    return {"n": n, "runs": runs, "invoked": invoked, "not_ok": not_ok, "p50": _pct(late, 0.5) if late else -1,
            "p99": _pct(late, 0.99) if late else -1, "max": max(late) if late else -1,
            "done_p99": _pct(done, 0.99) if done else -1}


def idle_cpu(n: int = 1000, accounts: int = 100) -> dict[str, float]:
    data = Path(tempfile.mkdtemp(prefix="fngate-sched-idle-"))
    hour = (time.gmtime().tm_hour + 12) % 24
    setup(data, n, accounts, f"0 {hour} * * *")
    out = data / "idle.json"
    _spawn(data, time.time() + 2 + IDLE_S, out).wait(timeout=IDLE_S + 60)
    got = json.loads(out.read_text())
    return {"cpu_pct": got["cpu_s"] / IDLE_S * 100, "ticks": got["ticks"]}


def rows() -> list[tuple[str, str, str, str]]:
    out = []
    for n, accounts, target in ((100, 10, 1.0), (1000, 100, 5.0)):
        r = lateness(n, accounts)
        exact = r["runs"] == n and r["invoked"] == n and r["not_ok"] == 0
        out.append((f"schedules: {n:,} due in the same minute ({accounts} accounts, {PROCESSES} gateway processes "
                    f"on one SQLite data dir, no-op functions): lateness p50 / p99 / max; runs",
                    f"{r['p50']:.3f} / {r['p99']:.3f} / {r['max']:.3f} s; {r['runs']} runs, {r['invoked']} "
                    f"invocations, {r['not_ok']} not succeeded",
                    f"p99 ≤ {target:g} s, each once", "met" if exact and r["p99"] <= target else "**missed**"))
    r = lateness(100, 10, real=True)
    exact = r["runs"] == 100 and r["invoked"] == 100 and r["not_ok"] == 0
    out.append(("schedules: 100 due in the same minute, real no-op Python functions on the local executor (10 "
                f"functions, {PROCESSES} gateway processes): lateness p50 / p99 / max; p99 of slot → function done",
                f"{r['p50']:.3f} / {r['p99']:.3f} / {r['max']:.3f} s; {r['done_p99']:.3f} s; {r['runs']} runs, "
                f"{r['invoked']} invocations, {r['not_ok']} not succeeded", "p99 ≤ 1 s, each once",
                "met" if exact and r["p99"] <= 1 else "**missed**"))
    idle = idle_cpu()
    out.append(("schedules: idle gateway process CPU with 1,000 active schedules (all its background loops: "
                f"scheduler, job runner, record writer, purger, email reports; {IDLE_S:.0f} s)",
                f"{idle['cpu_pct']:.2f}% of a core ({idle['ticks']} scheduler passes)",
                "< 1% of a core", "met" if idle["cpu_pct"] < 1 else "**missed**"))
    return out


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "worker":
        _worker(*sys.argv[2:6])
        return
    for name, value, peer, verdict in rows():
        print(f"| {name} | {value} | {peer} | {verdict} |")


if __name__ == "__main__":
    main()
