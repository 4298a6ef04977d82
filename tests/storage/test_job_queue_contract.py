"""The job queue's contract, on SQLite and on DynamoDB (moto): transactional enqueue, leases, retries with
backoff, dead letters, per-group order and per-kind concurrency."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from chalicelib.clock import FrozenClock
from chalicelib.domain.errors import NotFound, VersionConflict
from chalicelib.jobs import Backoff, Handler, Job, JobQueue, JobRunner, Slots
from chalicelib.jobs.owners import this_process
from chalicelib.storage.base import MUST_NOT_EXIST, Put, Store

GONE_OWNER = f"{this_process().split(':')[0]}:999999999:1"  # this host, a pid that cannot exist


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(start=1_800_000_000.0)


@pytest.fixture
def queue(store: Store, clock: FrozenClock) -> JobQueue:
    return JobQueue(store, clock)


def slots(**kinds: int) -> dict[str, Slots]:
    return {kind: Slots(free=n, limit=n, lease_s=30.0) for kind, n in kinds.items()}


class Recorder:
    """A handler that records what it ran and fails while told to."""

    def __init__(self, failures: int = 0) -> None:
        self.ran: list[dict[str, Any]] = []
        self.failures = failures
        self.dead: list[tuple[str, str]] = []

    def run(self, job: Job) -> None:
        self.ran.append(job.payload)
        if self.failures:
            self.failures -= 1
            raise RuntimeError("boom")

    def on_dead(self, job: Job, error: str) -> None:
        self.dead.append((job.id, error))


def runner_for(queue: JobQueue, clock: FrozenClock, rec: Recorder, **options: Any) -> JobRunner:
    return JobRunner(queue, clock, [Handler("work", rec.run, rec.on_dead, backoff=Backoff(1.0, 8.0), **options)])


def test_enqueue_commits_with_the_state_change_or_not_at_all(store: Store, queue: JobQueue) -> None:
    # GIVEN a record that exists already
    store.put("thing", "p", "a", {"n": 1})
    job = queue.create("work", {"n": 2})
    # WHEN the state change fails its condition
    with pytest.raises(VersionConflict):
        store.transact([Put("thing", "p", "a", {"n": 2}, MUST_NOT_EXIST), queue.put_op(job)])
    # THEN the job was not enqueued either; and with a good change it is
    assert queue.pending() == []
    store.transact([Put("thing", "p", "b", {"n": 2}, MUST_NOT_EXIST), queue.put_op(job)])
    assert [j.id for j in queue.pending()] == [job.id]


def test_a_claimed_job_is_leased_to_one_runner(queue: JobQueue) -> None:
    job = queue.enqueue("work", {})
    first, _ = queue.claim("a", slots(work=4))
    second, _ = queue.claim("b", slots(work=4))
    assert [lease.job.id for lease in first] == [job.id] and second == []
    assert first[0].job.attempts == 1 and first[0].job.lease_owner == "a"


def test_an_expired_lease_is_taken_over_and_counts_as_an_attempt(queue: JobQueue, clock: FrozenClock) -> None:
    queue.enqueue("work", {})
    (lease,), _ = queue.claim("a", slots(work=1))
    clock.advance(31)
    (again,), _ = queue.claim("b", slots(work=1))
    assert again.job.lease_owner == "b" and again.job.attempts == 2
    assert queue.complete(lease) is False  # the first runner lost it
    assert queue.complete(again) is True and queue.pending() == []


def test_a_lease_held_by_a_dead_process_on_this_host_is_taken_over_at_once(queue: JobQueue) -> None:
    queue.enqueue("work", {})
    queue.claim(GONE_OWNER, slots(work=1))
    (lease,), _ = queue.claim("b", slots(work=1))
    assert lease.job.lease_owner == "b"


def test_an_extended_lease_is_not_taken_over(queue: JobQueue, clock: FrozenClock) -> None:
    queue.enqueue("work", {})
    (lease,), _ = queue.claim("a", slots(work=1))
    clock.advance(20)
    renewed = queue.extend(lease, 30.0)
    clock.advance(20)
    assert renewed is not None and queue.claim("b", slots(work=1))[0] == []
    assert queue.complete(renewed)


def test_jobs_of_one_group_run_one_at_a_time_in_order(queue: JobQueue) -> None:
    first = queue.enqueue("work", {"n": 1}, group="g")
    second = queue.enqueue("work", {"n": 2}, group="g")
    other = queue.enqueue("work", {"n": 3}, group="h")
    leases, _ = queue.claim("a", slots(work=10))
    assert [lease.job.id for lease in leases] == [first.id, other.id]
    assert queue.next_in_group("g").id == first.id
    queue.complete(leases[0])
    assert queue.next_in_group("g").id == second.id
    leases, _ = queue.claim("a", slots(work=10))
    assert [lease.job.id for lease in leases] == [second.id]


def test_a_kind_runs_at_most_its_limit_over_all_runners(queue: JobQueue) -> None:
    for n in range(5):
        queue.enqueue("work", {"n": n})
    mine, _ = queue.claim("a", slots(work=2))
    theirs, _ = queue.claim("b", slots(work=2))
    assert len(mine) == 2 and theirs == []


def test_a_job_waits_for_its_run_at_and_the_claim_says_when(queue: JobQueue, clock: FrozenClock) -> None:
    job = queue.enqueue("work", {}, delay_s=5)
    leases, next_due = queue.claim("a", slots(work=1))
    assert leases == [] and next_due == pytest.approx(job.run_at)
    clock.advance(5)
    assert len(queue.claim("a", slots(work=1))[0]) == 1


def test_a_failed_job_is_retried_with_backoff_then_succeeds(queue: JobQueue, clock: FrozenClock) -> None:
    rec = Recorder(failures=2)
    runner = runner_for(queue, clock, rec)
    queue.enqueue("work", {"n": 1})
    assert runner.drain() == 1
    (job,) = queue.pending()
    assert job.state == "queued" and job.last_error == "RuntimeError: boom" and job.run_at > clock.now()
    assert runner.drain() == 0  # not due yet
    clock.advance(8)
    runner.drain()
    clock.advance(8)
    runner.drain()
    assert len(rec.ran) == 3 and queue.pending() == [] and rec.dead == []


def test_a_job_failing_every_attempt_is_dead_lettered_with_its_error(queue: JobQueue, clock: FrozenClock) -> None:
    rec = Recorder(failures=99)
    runner = runner_for(queue, clock, rec)
    job = queue.enqueue("work", {}, max_attempts=3, account_id="acc")
    for _ in range(3):
        runner.drain()
        clock.advance(10)
    assert len(rec.ran) == 3 and queue.pending() == []
    (dead,) = queue.dead("acc")
    assert dead.id == job.id and dead.state == "dead" and dead.last_error == "RuntimeError: boom"
    assert len(dead.errors) == 3 and rec.dead == [(job.id, "RuntimeError: boom")]
    assert queue.dead("other-account") == []


def test_a_dead_job_can_be_revived_with_a_fresh_budget(queue: JobQueue, clock: FrozenClock) -> None:
    rec = Recorder(failures=1)
    runner = runner_for(queue, clock, rec)
    job = queue.enqueue("work", {}, max_attempts=1, account_id="acc")
    runner.drain()
    with pytest.raises(NotFound):
        queue.revive(job.id, "other-account")
    revived = queue.revive(job.id, "acc")
    assert revived.attempts == 0 and queue.dead("acc") == []
    runner.drain()
    assert len(rec.ran) == 2 and queue.pending() == []


def test_a_job_whose_runners_keep_vanishing_is_given_up(queue: JobQueue, clock: FrozenClock) -> None:
    rec = Recorder()
    runner = runner_for(queue, clock, rec)
    queue.enqueue("work", {}, max_attempts=2)
    for _ in range(2):  # two runners claim it and die (kill -9) without an answer
        queue.claim(GONE_OWNER, slots(work=1))
    runner.drain()
    assert rec.ran == [] and len(rec.dead) == 1 and "never finished" in rec.dead[0][1]
    assert queue.pending() == []


def test_a_handler_that_enqueues_more_work_has_it_run_by_the_same_drain(queue: JobQueue,
                                                                         clock: FrozenClock) -> None:
    ran: list[int] = []

    def step(job: Job) -> None:
        ran.append(job.payload["n"])
        if job.payload["n"] < 3:
            queue.enqueue("step", {"n": job.payload["n"] + 1})

    runner = JobRunner(queue, clock, [Handler("step", step)])
    queue.dispatcher = type("Inline", (), {"notify": lambda self, jobs: runner.drain()})()
    queue.enqueue("step", {"n": 1})
    assert ran == [1, 2, 3]


def test_two_runners_claiming_at_once_never_share_a_job(queue: JobQueue, store: Store) -> None:
    if type(store).__name__ == "DynamoStore":  # DynamoDB's conditional writes are atomic; moto's are not
        pytest.skip("moto checks a condition and writes in two steps, so threads race inside moto itself")
    for n in range(20):
        queue.enqueue("work", {"n": n})
    got: list[str] = []
    lock = threading.Lock()

    def claimer(owner: str) -> None:
        while True:
            leases, _ = queue.claim(owner, slots(work=3))
            if not leases and not queue.pending():
                return
            for lease in leases:
                with lock:
                    got.append(lease.job.id)
                queue.complete(lease)

    threads = [threading.Thread(target=claimer, args=(f"r{i}",)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(got) == 20 and len(set(got)) == 20


def test_group_order_holds_across_pages_of_the_live_jobs(queue: JobQueue) -> None:
    from chalicelib.jobs.queue import PAGE

    first = [queue.enqueue("work", {"n": n}, group="g") for n in range(PAGE + 10)]
    last = queue.enqueue("work", {"n": "h"}, group="h")
    leases, _ = queue.claim("a", slots(work=10))
    assert [lease.job.id for lease in leases] == [first[0].id, last.id]
    queue.complete(leases[0])
    leases2, _ = queue.claim("a", slots(work=10))
    assert [lease.job.id for lease in leases2] == [first[1].id]
