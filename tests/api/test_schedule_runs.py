"""Firing schedules: each slot claimed exactly once by any number of schedulers on one store, catch-up after a
restart, overlap skips, a slow function holding up no other schedule, and the local scheduler thread's wake-up.
Time is a FrozenClock moved by the tests; the store is one SQLite file shared by every Services built here."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from chalicelib.clock import FrozenClock
from chalicelib.domain.permissions import Principal, Role
from chalicelib.domain.schedules import next_due
from chalicelib.scheduler.local import LocalScheduler
from chalicelib.services.container import Services
from chalicelib.services.functions import FunctionChanges
from chalicelib.services.schedules import ScheduleChanges
from tests.api.conftest import NODE_CODE
from tests.conftest import ACCOUNT
from tests.fakes import FakeExecutor

DEV = Principal(ACCOUNT, "dev-1", "user", frozenset({Role.DEVELOPER}), login_name="dev")


def deployed(svc: Services, name: str = "fn1") -> str:
    fn = svc.functions.create(DEV, FunctionChanges(name=name, description="d", code=NODE_CODE, runtime="Node.js 20"))
    svc.deployments.deploy(DEV, fn.uuid)
    svc.runner.drain()
    return fn.uuid


def schedule(svc: Services, uuid: str, cron: str = "* * * * *", **fields: Any) -> str:
    return svc.schedules.create(DEV, ScheduleChanges(function_uuid=uuid, cron=cron, **fields)).id


def statuses(svc: Services, sid: str) -> list[tuple[str, str]]:
    return [(r.status, r.trigger) for r in svc.schedules.runs(DEV, sid)]


def to_next_slot(svc: Services, clock: FrozenClock, sid: str) -> float:
    due = svc.schedules.get(DEV, sid).next_due
    clock.t = due
    return due


def test_a_slot_runs_at_its_time_and_not_before(make_services, clock):
    svc = make_services()
    uuid = deployed(svc)
    sid = schedule(svc, uuid, payload={"n": 1})
    due = svc.schedules.get(DEV, sid).next_due
    clock.t = due - 0.01
    assert svc.schedules.fire_due() == due
    assert statuses(svc, sid) == []
    clock.t = due
    assert svc.schedules.fire_due() == due + 60
    assert statuses(svc, sid) == [("SUCCEEDED", "schedule")]
    (_, event), = svc.executor.invocations
    assert event == {"headers": [], "payload": {"n": 1}}
    got = svc.schedules.get(DEV, sid)
    assert got.next_due == due + 60 and got.last_due == due and got.running_job == ""
    assert svc.schedules.fire_due() == due + 60  # nothing twice
    assert len(svc.executor.invocations) == 1


def test_two_schedulers_on_one_store_run_each_slot_exactly_once(make_services, clock):
    # GIVEN two gateways (own services, own executors) on one data dir and 30 schedules due at once
    first, second = make_services(executor=FakeExecutor()), make_services(executor=FakeExecutor())
    uuids = [deployed(first, f"f{i}") for i in range(3)]
    sids = [schedule(first, uuids[i % 3]) for i in range(30)]
    for slot in range(3):
        to_next_slot(first, clock, sids[0])
        # WHEN both claim due slots at the same moment, several times over
        barrier = threading.Barrier(4)

        def claim(svc: Services, barrier: threading.Barrier = barrier) -> None:
            barrier.wait()
            for _ in range(3):
                svc.schedules.fire_due()

        threads = [threading.Thread(target=claim, args=(s,)) for s in (first, second, first, second)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        # THEN every schedule ran once per slot, whichever gateway claimed it
        ran = len(first.executor.invocations) + len(second.executor.invocations)
        assert ran == 30 * (slot + 1)
    for sid in sids:
        assert statuses(first, sid) == [("SUCCEEDED", "schedule")] * 3


def test_catch_up_after_a_restart_runs_once_and_records_the_missed_slots(make_services, clock):
    # GIVEN a gateway that stopped before a minutely schedule's first slot
    before = make_services(jobs="background")
    uuid = deployed(before)
    sid = schedule(before, uuid)
    first_due = before.schedules.get(DEV, sid).next_due
    # WHEN it starts again ten and a half minutes later
    clock.t = first_due + 9 * 60 + 30
    after = make_services()
    after.schedules.fire_due()
    # THEN the latest missed slot ran once, the nine before it are one MISSED entry, and the schedule goes on
    runs = after.schedules.runs(DEV, sid)
    assert [(r.status, r.trigger, r.missed) for r in runs] == [("SUCCEEDED", "catch-up", 0), ("MISSED", "schedule", 9)]
    assert runs[0].due == first_due + 9 * 60 and runs[1].due == first_due
    assert len(after.executor.invocations) == 1
    assert after.schedules.get(DEV, sid).next_due == first_due + 10 * 60
    clock.t = first_due + 10 * 60
    after.schedules.fire_due()
    assert statuses(after, sid)[0] == ("SUCCEEDED", "schedule")


def test_a_slot_claimed_a_little_late_is_an_ordinary_run(make_services, clock):
    svc = make_services()
    sid = schedule(svc, deployed(svc))
    due = svc.schedules.get(DEV, sid).next_due
    clock.t = due + 45
    svc.schedules.fire_due()
    assert [(r.status, r.trigger, r.due) for r in svc.schedules.runs(DEV, sid)] == [("SUCCEEDED", "schedule", due)]


def test_a_run_still_going_when_the_next_is_due_is_skipped_and_recorded(make_services, clock):
    # GIVEN a run claimed but not finished (its job has not run yet)
    svc = make_services(jobs="background")
    sid = schedule(svc, deployed(svc))
    due = to_next_slot(svc, clock, sid)
    svc.schedules.fire_due()
    # WHEN the next slot comes
    clock.t = due + 60
    svc.schedules.fire_due()
    # THEN it is skipped, and the first still runs; the one after runs normally
    assert statuses(svc, sid) == [("SKIPPED", "schedule"), ("QUEUED", "schedule")]
    svc.runner.drain()
    assert statuses(svc, sid) == [("SKIPPED", "schedule"), ("SUCCEEDED", "schedule")]
    clock.t = due + 120
    svc.schedules.fire_due()
    svc.runner.drain()
    assert statuses(svc, sid)[0] == ("SUCCEEDED", "schedule")
    assert len(svc.executor.invocations) == 2


def test_a_run_whose_gateway_died_mid_run_is_recorded_lost_not_run_twice(make_services, clock):
    svc = make_services(jobs="background")
    sid = schedule(svc, deployed(svc))
    to_next_slot(svc, clock, sid)
    svc.schedules.fire_due()
    assert [j.kind for j in svc.jobs.pending()] == ["schedule-run"]
    run = svc.schedules.runs(DEV, sid)[0]
    # the gateway marked it RUNNING, invoked, and died before recording the outcome
    from dataclasses import replace

    from chalicelib.services.schedule_runs import RUN_KIND, run_pk, run_sk
    svc.store.put(RUN_KIND, run_pk(ACCOUNT, sid), run_sk(run.due), replace(run, status="RUNNING").to_dict())
    svc.runner.drain()
    assert statuses(svc, sid) == [("LOST", "schedule")]
    assert svc.executor.invocations == [] and svc.schedules.get(DEV, sid).did_last_execution_fail is True


class Gate(FakeExecutor):
    """Holds invocations of one function until released; records when the others ran."""

    def __init__(self, slow_uuid: Callable[[], str]) -> None:
        super().__init__()
        self.slow_uuid, self.release, self.others_ran = slow_uuid, threading.Event(), threading.Event()

    def invoke(self, target: Any, event: dict[str, Any], *, timeout_s: float | None = None) -> Any:
        if target.function_uuid == self.slow_uuid():
            self.release.wait(30)
        else:
            self.others_ran.set()
        return super().invoke(target, event)


def test_a_slow_function_never_holds_up_another_schedule(make_services, clock):
    uuids: dict[str, str] = {}
    gate = Gate(lambda: uuids["slow"])
    svc = make_services(executor=gate, jobs="background")
    uuids["slow"], uuids["fast"] = deployed(svc, "slow"), deployed(svc, "fast")
    slow, fast = schedule(svc, uuids["slow"]), schedule(svc, uuids["fast"])
    svc.runner.start()
    try:
        to_next_slot(svc, clock, slow)
        svc.schedules.fire_due()
        assert gate.others_ran.wait(30)  # the fast one ran while the slow one is still held
        assert statuses(svc, slow) in ([("QUEUED", "schedule")], [("RUNNING", "schedule")])
    finally:
        gate.release.set()
        svc.runner.stop()
    assert fast


def test_the_local_scheduler_fires_when_woken_by_a_change(make_services, clock):
    svc = make_services()
    uuid = deployed(svc)
    fired = threading.Event()
    ticks: list[float | None] = []

    def fire_due() -> float | None:
        upcoming = svc.schedules.fire_due()
        ticks.append(upcoming)
        if svc.executor.invocations:
            fired.set()
        return upcoming

    scheduler = LocalScheduler(fire_due, clock, poll_s=3600)  # it would sleep for an hour unless woken
    svc.schedules.on_change.append(scheduler.wake)
    scheduler.start()
    try:
        sid = schedule(svc, uuid)  # wakes it: it reads the new next slot
        clock.t = svc.schedules.get(DEV, sid).next_due
        svc.schedules.update(DEV, sid, ScheduleChanges(description="now"))  # a change wakes it again
        assert fired.wait(10)
    finally:
        scheduler.stop()
    assert statuses(svc, sid) == [("SUCCEEDED", "schedule")]


def test_a_schedule_in_a_zone_gets_slots_in_that_zone(make_services, clock):
    svc = make_services()
    sid = schedule(svc, deployed(svc), cron="30 2 * * *", time_zone="Europe/Berlin")
    got = svc.schedules.get(DEV, sid)
    assert got.next_due == next_due("30 2 * * *", "Europe/Berlin", clock.t)


def test_due_slots_are_claimed_in_batches_past_ones_that_cannot_be_claimed(make_services, clock):
    svc = make_services()
    uuid = deployed(svc)
    sids = [schedule(svc, uuid) for _ in range(5)]
    broken = svc.store.get("schedule", ACCOUNT, sids[0])
    svc.store.put("schedule", ACCOUNT, sids[0], {**broken.data, "cron": "not a cron"})  # its claim raises
    to_next_slot(svc, clock, sids[1])
    svc.schedules.fire_due(batch=2)
    assert [len(statuses(svc, sid)) for sid in sids] == [0, 1, 1, 1, 1]


def test_a_change_racing_the_scheduler_is_applied_to_the_claimed_schedule(make_services, clock, monkeypatch):
    # GIVEN a due schedule, and a second gateway on the same store that claims the slot between our read and write
    svc, other = make_services(), make_services(executor=FakeExecutor())
    sid = schedule(svc, deployed(svc))
    due = to_next_slot(svc, clock, sid)
    transact = svc.store.transact
    raced: list[float | None] = []

    def claim_first(ops: Any) -> Any:
        if not raced:
            raced.append(other.schedules.fire_due())
        return transact(ops)

    monkeypatch.setattr(svc.store, "transact", claim_first)
    # WHEN a user changes the schedule (no version given)
    svc.schedules.update(DEV, sid, ScheduleChanges(description="now"))
    # THEN the change lands on top of the claim: no 409, the slot stays claimed, the next one is kept
    got = svc.schedules.get(DEV, sid)
    assert raced == [due + 60]
    assert got.description == "now" and got.last_due == due and got.next_due == due + 60
    assert statuses(other, sid) == [("SUCCEEDED", "schedule")]
