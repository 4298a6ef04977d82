"""Runs queued jobs with their handlers, three ways over one core (``execute``):

- ``start()``: a background thread that claims due jobs and runs them on a bounded pool per kind (the local
  gateway; woken at once by an enqueue in this process, polling the store every ``poll_s`` for the rest);
- ``drain()``: inline in the caller's thread until nothing is due (tests, single-shot commands);
- ``run_one(job_id)``: one job named by a queue message (the SQS consumer on AWS).

Whatever the way, a running job's lease is extended while its handler works, a failure is retried with backoff up
to the handler's maximum, and a job that fails for good is handed to the handler's ``on_dead`` and dead-lettered.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor

from chalicelib.clock import Clock
from chalicelib.jobs.base import Handler
from chalicelib.jobs.model import Job
from chalicelib.jobs.owners import this_process
from chalicelib.jobs.queue import JobQueue, Lease, Slots

log = logging.getLogger(__name__)
DEAD_KEPT_S = 30 * 86_400  # dead letters are purged after 30 days
_PURGE_EVERY_S = 3600.0


class JobRunner:
    def __init__(self, queue: JobQueue, clock: Clock, handlers: Iterable[Handler] = (), *, owner: str | None = None,
                 poll_s: float = 1.0) -> None:
        self.queue, self._clock, self._poll = queue, clock, poll_s
        self.owner = owner or this_process(f"r{id(self) % 10_000}")
        self._handlers: dict[str, Handler] = {}
        self._busy: dict[str, int] = {}  # running jobs per kind, in this runner
        self._leases: dict[str, Lease] = {}  # job id -> newest lease (the heartbeat renews them)
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._pools: dict[str, ThreadPoolExecutor] = {}
        self._local = threading.local()
        self._beating = False
        self.register(*handlers)

    def register(self, *handlers: Handler) -> None:
        for handler in handlers:
            self._handlers[handler.kind] = handler
            self._busy.setdefault(handler.kind, 0)

    # -- the three ways -------------------------------------------------------------------------------------------
    def start(self) -> JobRunner:
        """Drain in the background from now on (and take over jobs whose runner was killed)."""
        pending = self._quietly(self.queue.pending) or []
        if pending:
            log.info("job runner starting with %d pending jobs (%d left running by a runner that is gone or "
                     "still busy)", len(pending), sum(j.state == "running" for j in pending))
        self._pools = {kind: ThreadPoolExecutor(h.concurrency, thread_name_prefix=f"job-{kind}")
                       for kind, h in self._handlers.items()}
        thread = threading.Thread(target=self._loop, name="jobs", daemon=True)
        thread.start()
        self._threads.append(thread)
        self._ensure_heartbeat()
        return self

    def notify(self, jobs: Sequence[Job]) -> None:
        """Dispatcher of the background runner: look at the queue now."""
        self._wake.set()

    def drain(self, limit: int = 10_000) -> int:
        """Run every job that is due now, here; returns how many ran. Re-entrant: a job that enqueues another
        (through an inline dispatcher) has it run by the drain already in progress."""
        if getattr(self._local, "draining", False):
            self._local.again = True
            return 0
        self._local.draining, ran = True, 0
        try:
            while ran < limit:
                self._local.again = False
                leases, _ = self.queue.claim(self.owner, self._slots(inline=True), limit=1)
                for lease in leases:
                    self.execute(lease)
                    ran += 1
                if not leases and not self._local.again:
                    return ran
            return ran
        finally:
            self._local.draining = False

    def run_one(self, job_id: str) -> bool:
        """Run the job ``job_id`` if it may run now; False if it is done, held, waiting for its group, or not due
        (then it is announced again for its due time)."""
        leases, _ = self.queue.claim(self.owner, self._slots(inline=True), only=job_id, limit=1)
        if leases:
            self.execute(leases[0])
            return True
        job = self.queue.get(job_id)
        if job is not None and job.state == "queued" and job.run_at > self._clock.now() + 1:
            self.queue.notify([job])  # a message that came early (SQS delays stop at 15 minutes)
        return False

    def sweep(self, stale_s: float = 60.0) -> int:
        """Announce again jobs that have been due for ``stale_s`` without running (a lost message or a runner
        that died), and purge old dead letters; the SQS deployment calls it every minute."""
        now = self._clock.now()
        stale = [j for j in self.queue.pending() if j.run_at < now - stale_s and not j.leased(now)]
        if stale:
            self.queue.notify(stale)
        self.queue.purge_dead(DEAD_KEPT_S)
        return len(stale)

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop claiming, give running jobs ``timeout_s`` to finish. One still running keeps its lease, which the
        next runner on this host takes over at once (this process is gone by then)."""
        self._stopping.set()
        self._wake.set()
        for thread in self._threads:
            thread.join(timeout_s)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and any(self._busy.values()):
            time.sleep(0.01)
        for pool in self._pools.values():
            pool.shutdown(wait=False, cancel_futures=True)

    # -- one job ----------------------------------------------------------------------------------------------
    def execute(self, lease: Lease) -> None:
        handler, job = self._handlers[lease.job.kind], lease.job
        if job.attempts > job.max_attempts:  # its earlier runners vanished while running it, too often
            self._give_up(lease, handler, f"abandoned after {job.attempts - 1} attempts that never finished "
                                          f"(the runner was lost); last error: {job.last_error or 'none'}")
            return
        self._ensure_heartbeat()
        with self._lock:
            self._leases[job.id] = lease
        error = None
        try:
            handler.run(job)
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
        with self._lock:
            lease = self._leases.pop(job.id, lease)
        if error is not None:
            self._failed(lease, handler, error)
        elif not self.queue.complete(lease):
            log.warning("job %s (%s) finished after its lease was taken over", job.id, job.kind)
        else:
            self._announce_next(job)

    def _failed(self, lease: Lease, handler: Handler, error: str) -> None:
        job = lease.job
        log.warning("job %s (%s) attempt %d/%d failed: %s", job.id, job.kind, job.attempts, job.max_attempts, error)
        if job.attempts >= job.max_attempts:
            self._give_up(lease, handler, error)
            return
        retried = self.queue.retry(lease, error, self._clock.now() + handler.backoff.delay(job.attempts))
        if retried is not None:
            self.queue.notify([retried])

    def _give_up(self, lease: Lease, handler: Handler, error: str) -> None:
        job = lease.job
        if handler.on_dead is not None:
            try:
                handler.on_dead(job, error)
            except Exception as exc:  # the state it guards is not settled yet: keep the job, try again later
                log.exception("job %s (%s): on_dead failed; retrying it later", job.id, job.kind)
                self.queue.retry(lease, f"on_dead failed: {exc}", self._clock.now() + handler.backoff.max_s)
                return
        if self.queue.bury(lease, error) is not None:
            log.error("job %s (%s) dead-lettered after %d attempts: %s", job.id, job.kind, job.attempts, error)
        self._announce_next(job)

    def _announce_next(self, job: Job) -> None:
        """The next job of ``job``'s group may run now: tell the dispatcher (a queue message on AWS)."""
        if job.group:
            following = self.queue.next_in_group(job.group)
            if following is not None:
                self.queue.notify([following])

    # -- background ---------------------------------------------------------------------------------------------
    def _slots(self, *, inline: bool = False) -> dict[str, Slots]:
        with self._lock:
            return {kind: Slots(free=1 if inline else h.concurrency - self._busy[kind], limit=h.concurrency,
                                lease_s=h.lease_s) for kind, h in self._handlers.items()}

    def _loop(self) -> None:
        purge_at = 0.0
        while not self._stopping.is_set():
            self._wake.clear()
            next_due = None
            slots = self._slots()
            if any(s.free > 0 for s in slots.values()):
                try:
                    leases, next_due = self.queue.claim(self.owner, slots)
                except Exception:
                    log.exception("could not claim jobs; trying again")
                    leases = []
                for lease in leases:
                    self._submit(lease)
                if leases:
                    continue  # more may be due
            if time.monotonic() > purge_at:
                purge_at = time.monotonic() + _PURGE_EVERY_S
                self._quietly(self.queue.purge_dead, DEAD_KEPT_S)
            wait = self._poll if next_due is None else min(self._poll, max(0.0, next_due - self._clock.now()))
            self._wake.wait(wait)

    def _submit(self, lease: Lease) -> None:
        kind = lease.job.kind
        with self._lock:
            self._busy[kind] += 1

        def run() -> None:
            try:
                self.execute(lease)
            except Exception:
                log.exception("job %s (%s) could not be settled; its lease expires and it runs again",
                              lease.job.id, kind)
            finally:
                with self._lock:
                    self._busy[kind] -= 1
                self._wake.set()

        self._pools[kind].submit(run)

    def _ensure_heartbeat(self) -> None:
        with self._lock:
            if self._beating:
                return
            self._beating = True
        thread = threading.Thread(target=self._heartbeat, name="job-leases", daemon=True)
        thread.start()
        self._threads.append(thread)

    def _heartbeat(self) -> None:
        """Extends the leases of running jobs a third of the way into them."""
        interval = max(0.05, min((h.lease_s for h in self._handlers.values()), default=60.0) / 3)
        while not self._stopping.wait(interval):
            with self._lock:
                leases = list(self._leases.values())
            for lease in leases:
                handler = self._handlers[lease.job.kind]
                if lease.job.lease_until - self._clock.now() > handler.lease_s * 2 / 3:
                    continue
                with self._lock:
                    if self._leases.get(lease.job.id) is not lease:
                        continue  # finished meanwhile
                    renewed = self._quietly(self.queue.extend, lease, handler.lease_s)
                    if renewed is not None:
                        self._leases[lease.job.id] = renewed

    @staticmethod
    def _quietly(fn, *args):  # type: ignore[no-untyped-def]
        try:
            return fn(*args)
        except Exception:
            log.exception("job queue housekeeping failed (%s)", getattr(fn, "__name__", fn))
            return None
