"""The job queue on the Store: jobs commit in the same transaction as the state change that needs them.

``job/live/<id>`` holds pending jobs (queued, or running under a lease), ``job/dead/<id>`` dead letters. Every
change is a conditional write on the record's version, so two runners (threads, processes, Lambda containers)
never both own a job: the loser of a race sees VersionConflict and moves on. The live partition only holds work
not yet done, so a claim reads it whole and applies ordering and concurrency rules in one pass.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from chalicelib.clock import Clock
from chalicelib.domain.errors import NotFound, VersionConflict
from chalicelib.jobs.base import Dispatcher, NoDispatch
from chalicelib.jobs.model import DEAD, KIND, LIVE, QUEUED, RUNNING, Job, new_id
from chalicelib.jobs.owners import is_gone
from chalicelib.storage.base import MUST_NOT_EXIST, Delete, Put, Query, Record, Store

log = logging.getLogger(__name__)
PAGE = 256  # live jobs read per query while claiming


@dataclass(frozen=True)
class Lease:
    """A job this runner owns, with the record version its next write must match."""

    job: Job
    version: int


@dataclass(frozen=True)
class Slots:
    """What a runner can take of one kind right now."""

    free: int  # its own idle capacity
    limit: int  # the kind's concurrency over all runners
    lease_s: float


class JobQueue:
    def __init__(self, store: Store, clock: Clock, dispatcher: Dispatcher | None = None) -> None:
        self._store, self._clock = store, clock
        self.dispatcher: Dispatcher = dispatcher or NoDispatch()

    # -- enqueueing -------------------------------------------------------------------------------------------
    def create(self, kind: str, payload: dict[str, Any], *, account_id: str = "", group: str = "",
               max_attempts: int = 5, delay_s: float = 0.0) -> Job:
        now = self._clock.now()
        return Job(id=new_id(now), kind=kind, payload=payload, account_id=account_id, group=group,
                   max_attempts=max_attempts, run_at=now + delay_s, created_at=now, updated_at=now)

    @staticmethod
    def put_op(job: Job) -> Put:
        """The write that enqueues ``job``: put it in the caller's transaction, then call notify()."""
        return Put(KIND, LIVE, job.id, job.to_dict(), MUST_NOT_EXIST)

    def enqueue(self, kind: str, payload: dict[str, Any], **options: Any) -> Job:
        """Enqueue on its own (no state change goes with it) and notify."""
        job = self.create(kind, payload, **options)
        self._store.transact([self.put_op(job)])
        self.notify([job])
        return job

    def notify(self, jobs: Sequence[Job]) -> None:
        """After the enqueueing transaction committed: a failed notification loses nothing (runners poll)."""
        try:
            self.dispatcher.notify(jobs)
        except Exception:
            log.exception("could not notify the job runner of %d jobs; they run when it next polls", len(jobs))

    # -- claiming ---------------------------------------------------------------------------------------------
    def claim(self, owner: str, slots: Mapping[str, Slots], *, only: str | None = None,
              limit: int = 64) -> tuple[list[Lease], float | None]:
        """Leases on the jobs that may run now (all kinds in ``slots``; just ``only`` if given), and when the next
        queued one falls due (None: nothing waits, or the scan stopped early because there is work now). Rules, in
        one pass over the live jobs in id order: only the first live job of a group may run; a kind runs at most
        its limit at once; a lease whose holder is gone (kill -9, same host) or has expired is taken over.

        The pass reads pages of PAGE jobs and stops once it holds enough candidates: a job's group predecessors
        have smaller ids, so they were seen before it whatever the stopping point. (Running jobs past that point
        are not counted against a kind's limit: exact per runner, best effort across runners.)"""
        now = self._clock.now()
        wanted = min(limit, sum(max(0, s.free) for s in slots.values())) * 2 if only is None else 1
        heads: set[str] = set()
        running: Counter[str] = Counter()
        candidates: list[tuple[Job, int]] = []
        next_due: float | None = None
        for record in self._live(stop_after=only):
            job = Job.from_dict(record.data)
            held = job.leased(now) and not is_gone(job.lease_owner)
            if held:
                running[job.kind] += 1
            if job.group:
                if job.group in heads:
                    continue
                heads.add(job.group)
            if held or job.kind not in slots or (only is not None and job.id != only):
                continue
            if job.run_at > now:
                next_due = job.run_at if next_due is None else min(next_due, job.run_at)
                continue
            candidates.append((job, record.version))
            if len(candidates) >= wanted:
                next_due = None
                break
        leases: list[Lease] = []
        taken: Counter[str] = Counter()
        for job, version in candidates:
            slot = slots[job.kind]
            if len(leases) >= limit or taken[job.kind] >= slot.free or running[job.kind] >= slot.limit:
                continue
            lease = self._take(job, version, owner, now, slot.lease_s)
            if lease is not None:
                leases.append(lease)
                taken[job.kind] += 1
                running[job.kind] += 1
        return leases, next_due

    def _live(self, stop_after: str | None = None) -> Iterator[Record]:
        """The live jobs in id order, a page at a time (up to ``stop_after``'s id, when given)."""
        start: str | None = None
        while True:
            page = self._store.query(Query(KIND, LIVE, start=start, end=stop_after and stop_after + "\x00",
                                           limit=PAGE))
            yield from page
            if len(page) < PAGE:
                return
            start = page[-1].sk + "\x00"

    def _take(self, job: Job, version: int, owner: str, now: float, lease_s: float) -> Lease | None:
        if job.state == RUNNING:
            log.warning("job %s (%s): taking over from %s, whose lease %s", job.id, job.kind, job.lease_owner,
                        "expired" if job.lease_until <= now else "holder is gone")
        claimed = job.claimed(owner, now, lease_s)
        try:
            record = self._store.put(KIND, LIVE, job.id, claimed.to_dict(), expected_version=version)
        except VersionConflict:
            return None  # another runner was quicker
        return Lease(claimed, record.version)

    # -- outcomes ---------------------------------------------------------------------------------------------
    def extend(self, lease: Lease, lease_s: float) -> Lease | None:
        """A longer lease for a job still running; None if it was lost (taken over after expiry)."""
        now = self._clock.now()
        job = replace(lease.job, lease_until=now + lease_s, updated_at=now)
        try:
            record = self._store.put(KIND, LIVE, job.id, job.to_dict(), expected_version=lease.version)
        except VersionConflict:
            return None
        return Lease(job, record.version)

    def complete(self, lease: Lease) -> bool:
        """Done: the job leaves the queue. False if the lease had been lost (someone else owns the job now)."""
        try:
            self._store.delete(KIND, LIVE, lease.job.id, expected_version=lease.version)
        except VersionConflict:
            return False
        return True

    def retry(self, lease: Lease, error: str, at: float) -> Job | None:
        job = lease.job.failed(error, self._clock.now(), at)
        try:
            self._store.put(KIND, LIVE, job.id, job.to_dict(), expected_version=lease.version)
        except VersionConflict:
            return None
        return job

    def bury(self, lease: Lease, error: str) -> Job | None:
        """Dead-letter the job with its error (kept and listed until revived)."""
        job = lease.job.failed(error, self._clock.now(), None)
        try:
            self._store.transact([Delete(KIND, LIVE, job.id, lease.version),
                                  Put(KIND, DEAD, job.id, job.to_dict(), MUST_NOT_EXIST)])
        except VersionConflict:
            return None
        return job

    # -- reading and operator actions -------------------------------------------------------------------------
    def get(self, job_id: str) -> Job | None:
        for partition in (LIVE, DEAD):
            record = self._store.get(KIND, partition, job_id)
            if record is not None:
                return Job.from_dict(record.data)
        return None

    def pending(self) -> list[Job]:
        return [Job.from_dict(r.data) for r in self._store.query(Query(KIND, LIVE))]

    def next_in_group(self, group: str) -> Job | None:
        """The job now at the head of ``group`` (the one that may run next), if any."""
        if not group:
            return None
        for record in self._store.query(Query(KIND, LIVE, filters={"group": group}, limit=1)):
            return Job.from_dict(record.data)
        return None

    def dead(self, account_id: str | None = None, limit: int = 100) -> list[Job]:
        filters = {"account_id": account_id} if account_id is not None else {}
        records = self._store.query(Query(KIND, DEAD, filters=filters, reverse=True, limit=limit))
        return [Job.from_dict(r.data) for r in records]

    def revive(self, job_id: str, account_id: str | None = None) -> Job:
        """A dead job queued again with a fresh budget of attempts (an operator's "retry")."""
        record = self._store.get(KIND, DEAD, job_id)
        if record is None or (account_id is not None and record.data.get("account_id") != account_id):
            raise NotFound(what="Dead job", key=job_id)
        now = self._clock.now()
        job = replace(Job.from_dict(record.data), state=QUEUED, attempts=0, run_at=now, updated_at=now)
        self._store.transact([Delete(KIND, DEAD, job_id, record.version),
                              Put(KIND, LIVE, job_id, job.to_dict(), MUST_NOT_EXIST)])
        self.notify([job])
        return job

    def purge_dead(self, older_than_s: float) -> int:
        """Drop dead letters older than ``older_than_s`` (their error has been visible that long)."""
        cutoff = self._clock.now() - older_than_s
        gone = 0
        for record in self._store.query(Query(KIND, DEAD)):
            if record.data.get("updated_at", 0) < cutoff and self._store.delete(KIND, DEAD, record.sk):
                gone += 1
        return gone
