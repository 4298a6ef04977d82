"""The job queue's figures (issue 12), side by side in one run, on the local SQLite store:

- enqueue cost: a one-record transaction with and without a job in it (what a deploy request pays for durability);
- enqueue → handler start (dispatch overhead) with a started background runner, one job at a time;
- jobs/s drained: 1,000 no-op jobs queued, then a runner started;
- recovery after kill -9: a child process queues 1,000 jobs and is killed while running them; a fresh process
  starts a runner on the same store, and the time until every job is done is measured.

Run alone: ``python -m bench.jobs`` (prints the rows); ``bench.run`` adds them to results.md.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from chalicelib.clock import Clock
from chalicelib.jobs import Handler, Job, JobQueue, JobRunner
from chalicelib.storage.base import Put, Query
from chalicelib.storage.sqlite import SqliteStore

ROOT = Path(__file__).resolve().parents[1]
N_LATENCY = 1000
N_DRAIN = 1000


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


def enqueue_cost(store: SqliteStore, queue: JobQueue) -> tuple[float, float, float, float]:
    """p50/p99 ms of a one-record transaction alone and with a job in it, interleaved."""
    plain, with_job = [], []
    for i in range(N_LATENCY):
        t0 = time.perf_counter()
        store.transact([Put("thing", "p", f"a{i:06d}", {"n": i})])
        t1 = time.perf_counter()
        store.transact([Put("thing", "p", f"b{i:06d}", {"n": i}), queue.put_op(queue.create("none", {"n": i}))])
        t2 = time.perf_counter()
        plain.append((t1 - t0) * 1000)
        with_job.append((t2 - t1) * 1000)
    for record in store.query(Query("job", "live", keys_only=True)):
        store.delete("job", "live", record.sk)
    return _pct(plain, 0.5), _pct(plain, 0.99), _pct(with_job, 0.5), _pct(with_job, 0.99)


def dispatch_overhead(queue: JobQueue) -> tuple[float, float]:
    """p50/p99 ms from enqueue() being called to the handler starting, background runner."""
    started: dict[str, float] = {}
    ready = threading.Event()

    def handler(job: Job) -> None:
        started[job.id] = time.perf_counter()
        ready.set()

    runner = JobRunner(queue, Clock(), [Handler("noop", handler)])
    queue.dispatcher = runner
    runner.start()
    samples = []
    try:
        for i in range(N_LATENCY):
            ready.clear()
            t0 = time.perf_counter()
            job = queue.enqueue("noop", {"n": i})
            ready.wait(5)
            samples.append((started[job.id] - t0) * 1000)
    finally:
        runner.stop()
    return _pct(samples, 0.5), _pct(samples, 0.99)


def drain_rate(store: SqliteStore, concurrency: int) -> float:
    """Jobs per second through a runner started on 1,000 queued no-op jobs."""
    queue = JobQueue(store, Clock())
    for i in range(N_DRAIN):
        queue.enqueue("noop", {"n": i})
    done = threading.Event()
    count = [0]
    lock = threading.Lock()

    def handler(job: Job) -> None:
        with lock:
            count[0] += 1
            if count[0] == N_DRAIN:
                done.set()

    runner = JobRunner(queue, Clock(), [Handler("noop", handler, concurrency=concurrency)])
    queue.dispatcher = runner
    t0 = time.perf_counter()
    runner.start()
    done.wait(120)
    took = time.perf_counter() - t0
    runner.stop()
    _wait_empty(store, 10)
    return N_DRAIN / took


def _wait_empty(store: SqliteStore, timeout_s: float, since: float | None = None) -> float:
    t0 = time.perf_counter() if since is None else since
    while store.count(Query("job", "live")) and time.perf_counter() - t0 < timeout_s:
        time.sleep(0.005)
    return time.perf_counter() - t0


def _child(db: str, mode: str) -> None:
    """``queue``: enqueue N_DRAIN jobs whose handler takes 50 ms and start running them (to be killed).
    ``recover``: start a runner and exit once the queue is empty, printing the seconds it took."""
    store = SqliteStore(db)
    queue = JobQueue(store, Clock())
    runner = JobRunner(queue, Clock(), [Handler("slow", lambda job: time.sleep(0.05), concurrency=8)])
    queue.dispatcher = runner
    if mode == "queue":
        for i in range(N_DRAIN):
            queue.enqueue("slow", {"n": i})
        runner.start()
        print("queued", flush=True)
        time.sleep(3600)
    t0 = time.perf_counter()
    runner.start()
    took = _wait_empty(store, 300, since=t0)
    print(f"{took:.3f}", flush=True)
    runner.stop()


def recovery() -> tuple[float, int, int]:
    """Seconds for a fresh process to finish 1,000 jobs left by a killed one, how many were running at the kill,
    and the same time for the same jobs with nobody killed (the drain floor)."""
    work = Path(tempfile.mkdtemp(prefix="fngate-jobs-bench-"))
    db = str(work / "fngate.db")
    child = subprocess.Popen([sys.executable, "-m", "bench.jobs", "child", db, "queue"], cwd=ROOT,
                             stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None and child.stdout.readline().strip() == "queued"
    time.sleep(0.3)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    store = SqliteStore(db)
    left = [r.data for r in store.query(Query("job", "live"))]
    store.close()
    running = sum(d["state"] == "running" for d in left)
    out = subprocess.run([sys.executable, "-m", "bench.jobs", "child", db, "recover"], cwd=ROOT,
                         capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1]), len(left), running


def rows() -> list[tuple[str, str, str, str]]:
    work = Path(tempfile.mkdtemp(prefix="fngate-jobs-bench-"))
    store = SqliteStore(work / "fngate.db")
    queue = JobQueue(store, Clock())
    p50a, p99a, p50b, p99b = enqueue_cost(store, queue)
    d50, d99 = dispatch_overhead(queue)
    rate4, rate16 = drain_rate(store, 4), drain_rate(store, 16)
    store.close()
    took, left, running = recovery()
    per_job = took / max(1, left) * 1000
    return [
        ("job queue: a one-record commit alone / with a job in it, p50 / p99",
         f"{p50a:.3f} / {p99a:.3f} ms; {p50b:.3f} / {p99b:.3f} ms", "the job's share of a deploy request", "measured"),
        ("job queue: enqueue → handler start, background runner, p50 / p99", f"{d50:.3f} / {d99:.3f} ms",
         "≤ 2 ms p99", "met" if d99 <= 2 else "**missed**"),
        ("job queue: no-op jobs drained, 1,000 queued, concurrency 4 / 16", f"{rate4:.0f} / {rate16:.0f} jobs/s",
         "–", "measured"),
        ("job queue: recovery after kill -9 with 1,000 queued 50 ms jobs", f"{took:.2f} s for the {left} left "
         f"({running} were running at the kill), {per_job:.1f} ms per job at concurrency 8",
         f"floor: {left} × 50 ms / 8 = {left * 0.05 / 8:.2f} s", "measured"),
    ]


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "child":
        _child(sys.argv[2], sys.argv[3])
        return
    for name, value, peer, verdict in rows():
        print(f"| {name} | {value} | {peer} | {verdict} |")


if __name__ == "__main__":
    main()
