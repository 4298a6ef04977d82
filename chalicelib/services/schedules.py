"""Cron schedules: their management and the claim of each due slot (the run itself: services/schedule_runs.py).

Record layout (kind / pk / sk):
  schedule      / account        / id                         the Schedule
  schedule-due  / "due"          / due ms (13 digits)#account#id  one entry per active schedule: its next slot
  schedule-run  / account#id     / due ms (13 digits)[m]       the run history (last RUNS_KEPT)

A slot runs exactly once because it is claimed by one conditional transaction: the schedule (at the version read)
moves on to its next slot, the index entry moves with it, and the run's history record and its job are written —
all or nothing. Any number of claimers (the scheduler thread of every gateway process on one data dir, the
EventBridge target and the minute sweep on AWS) may race for a slot; the losers see VersionConflict. The run itself
is a ``schedule-run`` job, so it survives a crash between claim and run. On AWS each change also commits a
``schedule-sync`` job that makes EventBridge match the store (scheduler/eventbridge.py).

Catch-up policy: a slot claimed more than CATCH_UP_GRACE_S after its time was missed (no scheduler ran). Of the
slots missed in a row, the latest runs once at once (trigger ``catch-up``) and the earlier ones are recorded as one
MISSED entry with their count; then the schedule continues from now. A slot due while the previous run of the
schedule is still queued or running is SKIPPED (recorded, not run).
"""

from __future__ import annotations

import contextlib
import logging
import uuid as uuidlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from chalicelib.clock import Clock
from chalicelib.domain import schedules as rules
from chalicelib.domain.changes import UNSET, Changes
from chalicelib.domain.errors import LimitReached, NotFound, VersionConflict
from chalicelib.domain.permissions import Action, Principal, require
from chalicelib.domain.schedules import Run, RunStatus, Schedule, invalid
from chalicelib.domain.states import is_invocable
from chalicelib.jobs import Handler, Job, JobQueue
from chalicelib.services.invocations import InvocationService
from chalicelib.services.repository import FunctionRepository
from chalicelib.services.schedule_runs import KIND, RUN_KIND, ScheduleRuns, run_pk, run_sk
from chalicelib.storage.base import ANY_VERSION, MUST_NOT_EXIST, Delete, Put, Query, Record, Store, on_latest

log = logging.getLogger(__name__)
T = TypeVar("T")
DUE_KIND, DUE_PK = "schedule-due", "due"
RUN_JOB, SYNC_JOB = "schedule-run", "schedule-sync"
CATCH_UP_GRACE_S = 60.0
PREVIEW_RUNS, PREVIEW_MAX = 5, 20  # the cron helper's next runs
EARLY_S = 5.0  # an EventBridge delivery up to this early claims the slot (clock skew)
_RETRIES = 5  # re-reads of a schedule whose slot the scheduler claimed under a user's change
_NOTIFY_EVERY = 10


class ScheduleNotFound(NotFound):
    template = "There is no schedule {key} on this account"
    v1_code = v2_code = "com.liveperson.faas.schedule.not-found"  # ours


@dataclass(frozen=True)
class ScheduleChanges(Changes):
    """Fields a request sets; UNSET ones are left as they are (or defaulted on create)."""

    function_uuid: Any = UNSET
    cron: Any = UNSET
    is_active: Any = UNSET
    description: Any = UNSET
    time_zone: Any = UNSET
    headers: Any = UNSET
    payload: Any = UNSET


def _after_key(at: float) -> str:
    """The smallest key above every due key of a slot at or before ``at``."""
    return f"{int(at * 1000) + 1:013d}"


def _due_key(due: float, account_id: str, schedule_id: str) -> str:
    return f"{run_sk(due)}#{account_id}#{schedule_id}"


def _headers(value: Any) -> dict[str, str]:
    """invocationBody.headers: V2's {name: value}, or the [{key, value}] list functions see."""
    if value is None:
        return {}
    if isinstance(value, list) and all(isinstance(h, dict) and isinstance(h.get("key"), str) for h in value):
        value = {h["key"]: h.get("value") for h in value}
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str | int | float | bool)
                                              for k, v in value.items()):
        raise invalid("invocationBody.headers", "an object of header names to string values")
    return {k: str(v) for k, v in value.items()}


class ScheduleService:
    def __init__(self, store: Store, repo: FunctionRepository, invocations: InvocationService, jobs: JobQueue,
                 clock: Clock, sync: Any = None) -> None:
        self._store, self._repo, self._invocations, self._jobs, self._clock = store, repo, invocations, jobs, clock
        self._runs = ScheduleRuns(store, invocations, clock)
        self._sync = sync  # EventBridgeSync on AWS: each change is mirrored by a schedule-sync job
        self.on_change: list[Callable[[], None]] = []  # the local scheduler's wake-up

    def handlers(self) -> list[Handler]:
        out = [Handler(RUN_JOB, self._runs.run, self._runs.gave_up, max_attempts=2, concurrency=64)]
        if self._sync is not None:
            out.append(Handler(SYNC_JOB, self._run_sync, max_attempts=10, concurrency=4))
        return out

    # -- reading --------------------------------------------------------------------------------------------------
    def list_schedules(self, who: Principal) -> list[Schedule]:
        require(who, "schedule", Action.READ)
        found = [Schedule.from_dict(r.data) for r in self._store.query(Query(KIND, who.account_id))]
        return sorted(found, key=lambda s: (s.created_at, s.id))

    def get(self, who: Principal, schedule_id: str) -> Schedule:
        require(who, "schedule", Action.READ)
        return self._get(who.account_id, schedule_id)[0]

    def runs(self, who: Principal, schedule_id: str) -> list[Run]:
        """The last RUNS_KEPT runs, newest first."""
        require(who, "schedule", Action.READ)
        self._get(who.account_id, schedule_id)
        records = self._store.query(Query(RUN_KIND, run_pk(who.account_id, schedule_id), reverse=True,
                                          limit=rules.RUNS_KEPT))
        return [Run.from_dict(r.data) for r in records]

    def preview(self, who: Principal, cron: Any, time_zone: Any, count: Any = PREVIEW_RUNS) -> dict[str, Any]:
        """The next ``count`` slots of an expression in a time zone, by the rules and the slot finder the scheduler
        itself uses (the web UI's cron helper asks here instead of knowing cron)."""
        require(who, "schedule", Action.READ)
        if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= PREVIEW_MAX:
            raise invalid("count", f"a whole number from 1 to {PREVIEW_MAX}")
        text, tz = rules.parse_cron(cron).text, rules.parse_time_zone(time_zone)
        runs = rules.slots_between(text, tz, self._clock.now(), float("inf"), count)
        return {"cronExpression": text, "timeZone": tz, "nextRuns": [rules.iso(at) for at in runs],
                "awsCron": rules.aws_cron(text)}

    def _get(self, account_id: str, schedule_id: str) -> tuple[Schedule, int]:
        record = self._store.get(KIND, account_id, schedule_id)
        if record is None:
            raise ScheduleNotFound(key=schedule_id)
        return Schedule.from_dict(record.data), record.version

    # -- changing -------------------------------------------------------------------------------------------------
    def create(self, who: Principal, changes: ScheduleChanges, *, v1: bool = False) -> Schedule:
        require(who, "schedule", Action.WRITE)
        if not changes.given("function_uuid") or not isinstance(changes.function_uuid, str) \
                or not changes.function_uuid:
            raise invalid("functionUuid", "the function to run is required")
        if not changes.given("cron"):
            raise invalid("cronExpression", "a cron expression is required")
        now = self._clock.now()
        draft = Schedule(account_id=who.account_id, id=str(uuidlib.uuid4()), function_uuid="", cron="",
                         created_at=self._clock.iso(now), created_by=who.display_name)
        schedule = self._apply(draft, changes, who, now)
        self._check_limits(who.account_id, schedule.function_uuid, v1=v1)
        self._commit(None, schedule, MUST_NOT_EXIST)
        return schedule

    def update(self, who: Principal, schedule_id: str, changes: ScheduleChanges) -> Schedule:
        require(who, "schedule", Action.WRITE)

        def change(old: Schedule, version: int) -> Schedule:
            schedule = self._apply(old, changes, who, self._clock.now())
            self._commit(old, schedule, version)
            return schedule
        return self._on_latest(who.account_id, schedule_id, change)

    def delete(self, who: Principal, schedule_id: str) -> None:
        require(who, "schedule", Action.WRITE)
        self._on_latest(who.account_id, schedule_id, self._remove)

    def _on_latest(self, account_id: str, schedule_id: str, change: Callable[[Schedule, int], T]) -> T:
        """``change`` applied to the schedule as stored now. A user's change carries no version, so losing a race
        with the scheduler's own bookkeeping (a slot claimed between our read and write) is not the user's conflict:
        read again and re-apply, a few times, before giving up with 409."""
        return on_latest(lambda: change(*self._get(account_id, schedule_id)), tries=_RETRIES,
                         what=f"Schedule {schedule_id}")

    def forget_function(self, account_id: str, function_uuid: str) -> None:
        """Deletes the schedules of a function being undeployed or deleted (idempotent)."""
        found = self._store.query(Query(KIND, account_id, filters={"function_uuid": function_uuid}))
        for record in found:
            with contextlib.suppress(ScheduleNotFound):  # deleted meanwhile
                self._on_latest(account_id, record.sk, self._remove)

    def run_now(self, who: Principal, schedule_id: str) -> Run:
        """A run outside the schedule (ours): it does not move the schedule and is not subject to the overlap
        rule."""
        require(who, "schedule", Action.WRITE)
        schedule, _ = self._get(who.account_id, schedule_id)
        now = self._clock.now()
        job = self._run_job(schedule, run_sk(now) + "m")
        run = Run(schedule_id=schedule.id, due=now, trigger="manual", job_id=job.id)
        self._store.transact([self._run_op(schedule, run, run_sk(now) + "m", MUST_NOT_EXIST), self._jobs.put_op(job)])
        self._jobs.notify([job])
        return run

    def _apply(self, old: Schedule, changes: ScheduleChanges, who: Principal, now: float) -> Schedule:
        fields: dict[str, Any] = {}
        if changes.given("function_uuid") and changes.function_uuid != old.function_uuid:
            fields["function_uuid"] = self._invocable(who.account_id, changes.function_uuid)
        if changes.given("cron"):
            fields["cron"] = rules.parse_cron(changes.cron).text
        if changes.given("is_active"):
            if not isinstance(changes.is_active, bool):
                raise invalid("isActive", "true or false")
            fields["is_active"] = changes.is_active
        if changes.given("description"):
            description = changes.description or ""
            if not isinstance(description, str) or len(description) > rules.DESCRIPTION_MAX:
                raise invalid("description", f"a string of at most {rules.DESCRIPTION_MAX} characters")
            fields["description"] = description
        if changes.given("time_zone"):
            fields["time_zone"] = rules.parse_time_zone(changes.time_zone)
        if changes.given("headers"):
            fields["headers"] = _headers(changes.headers)
        if changes.given("payload"):
            fields["payload"] = rules.check_payload(changes.payload)
        new = replace(old, **fields, updated_at=self._clock.iso(now), updated_by=who.display_name)
        timing = (new.cron, new.time_zone, new.is_active) != (old.cron, old.time_zone, old.is_active)
        if timing or old.next_due is None:
            new = replace(new, next_due=rules.next_due(new.cron, new.time_zone, now) if new.is_active else None)
        return new

    def _invocable(self, account_id: str, function_uuid: Any) -> str:
        if not isinstance(function_uuid, str) or not function_uuid:
            raise invalid("functionUuid", "the uuid of a deployed function")
        fn, _ = self._repo.get(account_id, function_uuid)  # FunctionNotFound (404)
        if not is_invocable(fn.state, live=fn.live):
            raise invalid("functionUuid", f"function {fn.name} is in state {fn.state.value}: only deployed "
                                          f"functions (Productive or Modified) can be scheduled")
        return fn.uuid

    def _check_limits(self, account_id: str, function_uuid: str, *, v1: bool) -> None:
        existing = self._store.query(Query(KIND, account_id, keys_only=False))
        if len(existing) >= rules.SCHEDULES_PER_ACCOUNT:
            raise LimitReached(detail=f"an account can hold at most {rules.SCHEDULES_PER_ACCOUNT} schedules")
        scheduled = {r.data["function_uuid"] for r in existing}
        if v1 and function_uuid not in scheduled and len(scheduled) >= rules.SCHEDULED_FUNCTIONS_V1:
            raise LimitReached(detail=f"at most {rules.SCHEDULED_FUNCTIONS_V1} functions can be scheduled")

    def _commit(self, old: Schedule | None, new: Schedule, version: int) -> None:
        ops: list[Put | Delete] = [Put(KIND, new.account_id, new.id, new.to_dict(), version)]
        old_key = _due_key(old.next_due, old.account_id, old.id) if old and old.next_due is not None else None
        new_key = _due_key(new.next_due, new.account_id, new.id) if new.next_due is not None else None
        if old_key != new_key:
            if old_key:
                ops.append(Delete(DUE_KIND, DUE_PK, old_key))
            if new_key:
                ops.append(self._due_op(new))
        self._write(ops, new)

    def _remove(self, old: Schedule, version: int) -> None:
        ops: list[Put | Delete] = [Delete(KIND, old.account_id, old.id, version)]
        if old.next_due is not None:
            ops.append(Delete(DUE_KIND, DUE_PK, _due_key(old.next_due, old.account_id, old.id)))
        self._write(ops, old)
        pk = run_pk(old.account_id, old.id)
        for record in self._store.query(Query(RUN_KIND, pk, keys_only=True)):
            self._store.delete(RUN_KIND, pk, record.sk)

    def _write(self, ops: list[Put | Delete], schedule: Schedule) -> None:
        """``ops``, with the job that mirrors the change to EventBridge (on AWS), all or nothing."""
        job = None
        if self._sync is not None:
            job = self._jobs.create(SYNC_JOB, {"account_id": schedule.account_id, "id": schedule.id},
                                    account_id=schedule.account_id, group=f"schedule:{schedule.id}",
                                    max_attempts=10)
            ops = [*ops, self._jobs.put_op(job)]
        try:
            self._store.transact(ops)
        except VersionConflict:
            raise VersionConflict(what=f"Schedule {schedule.id}") from None
        if job is not None:
            self._jobs.notify([job])
        for wake in self.on_change:
            wake()

    @staticmethod
    def _due_op(schedule: Schedule) -> Put:
        assert schedule.next_due is not None
        return Put(DUE_KIND, DUE_PK, _due_key(schedule.next_due, schedule.account_id, schedule.id),
                   {"account_id": schedule.account_id, "id": schedule.id, "due": schedule.next_due})

    @staticmethod
    def _run_op(schedule: Schedule, run: Run, sk: str, expected: int | None = ANY_VERSION) -> Put:
        return Put(RUN_KIND, run_pk(schedule.account_id, schedule.id), sk, run.to_dict(), expected)

    def _run_job(self, schedule: Schedule, run_sk: str, delay_s: float = 0.0) -> Job:
        return self._jobs.create(RUN_JOB, {"account_id": schedule.account_id, "id": schedule.id, "run": run_sk},
                                 account_id=schedule.account_id, max_attempts=2, delay_s=delay_s)

    # -- claiming due slots ----------------------------------------------------------------------------------------
    def fire_due(self, now: float | None = None, batch: int = 200) -> float | None:
        """Claims every slot due by ``now`` (the local scheduler's tick, the sweep on AWS); the next slot's time
        after them, or None when no schedule is active."""
        now = self._clock.now() if now is None else now
        end, start = _after_key(now), None
        while True:
            entries = self._store.query(Query(DUE_KIND, DUE_PK, start=start, end=end, limit=batch))
            claimed: list[Job] = []
            for entry in entries:
                job = self._try_claim(entry)
                if job is not None:
                    claimed.append(job)
                if len(claimed) >= _NOTIFY_EVERY:  # runs start while the rest are being claimed
                    self._jobs.notify(claimed)
                    claimed = []
            if claimed:
                self._jobs.notify(claimed)
            if len(entries) < batch:
                break
            start = entries[-1].sk + " "  # past this batch (no key extends another), whatever became of it
        upcoming = self._store.query(Query(DUE_KIND, DUE_PK, start=end, limit=1))
        return float(upcoming[0].data["due"]) if upcoming else None

    def _try_claim(self, entry: Record) -> Job | None:
        try:
            return self._claim(entry.data["account_id"], entry.data["id"], float(entry.data["due"]), entry.sk,
                               entry.version)
        except Exception:  # one broken schedule must not hold up the others
            log.exception("could not claim schedule slot %s", entry.sk)
            return None

    def fire(self, account_id: str, schedule_id: str) -> bool:
        """The EventBridge target on AWS: claims the schedule's slot if it is due (a repeated or stale delivery
        finds it claimed already). True if a run was started."""
        record = self._store.get(KIND, account_id, schedule_id)
        if record is None:
            return False
        schedule = Schedule.from_dict(record.data)
        if schedule.next_due is None or schedule.next_due > self._clock.now() + EARLY_S:
            return False
        key = _due_key(schedule.next_due, account_id, schedule_id)
        job = self._claim(account_id, schedule_id, schedule.next_due, key, ANY_VERSION)
        if job is not None:
            self._jobs.notify([job])
        return job is not None

    def _claim(self, account_id: str, schedule_id: str, due: float, key: str, key_version: int | None) -> Job | None:
        record = self._store.get(KIND, account_id, schedule_id)
        schedule = Schedule.from_dict(record.data) if record else None
        if schedule is None or schedule.next_due is None or \
                _due_key(schedule.next_due, account_id, schedule_id) != key:
            self._drop_stale(key, key_version)
            return None
        assert record is not None
        real_now = self._clock.now()
        now = max(real_now, due)  # an EventBridge delivery may come a little early
        run_due, trigger, missed = due, "schedule", []
        if now - due > CATCH_UP_GRACE_S:
            slots = [due, *rules.slots_between(schedule.cron, schedule.time_zone, due, now,
                                               rules.MISSED_COUNT_MAX)]
            run_due, trigger, missed = slots[-1], "catch-up", slots[:-1]
        moved = replace(schedule, next_due=rules.next_due(schedule.cron, schedule.time_zone, now), last_due=run_due)
        ops: list[Put | Delete] = [Delete(DUE_KIND, DUE_PK, key, key_version), self._due_op(moved)]
        if missed:
            ops.append(self._run_op(schedule, Run(schedule.id, missed[0], RunStatus.MISSED, missed=len(missed),
                                                  error_message=f"{len(missed)} slot(s) up to {rules.iso(missed[-1])} "
                                                                f"passed while no scheduler ran"), run_sk(missed[0])))
        job = None
        if self._busy(schedule):
            ops.append(self._run_op(schedule, Run(schedule.id, run_due, RunStatus.SKIPPED, trigger=trigger,
                                                  error_message="the previous run was still going"), run_sk(run_due)))
        else:
            job = self._run_job(schedule, run_sk(run_due), delay_s=max(0.0, run_due - real_now))
            moved = replace(moved, running_job=job.id)
            ops += [self._run_op(schedule, Run(schedule.id, run_due, trigger=trigger, job_id=job.id), run_sk(run_due)),
                    self._jobs.put_op(job)]
        ops.insert(0, Put(KIND, account_id, schedule_id, moved.to_dict(), record.version))
        try:
            self._store.transact(ops)
        except VersionConflict:
            return None  # another scheduler claimed it (or the schedule changed): either way not ours
        return job

    def _busy(self, schedule: Schedule) -> bool:
        if not schedule.running_job:
            return False
        job = self._jobs.get(schedule.running_job)
        return job is not None and job.state != "dead"

    def _drop_stale(self, key: str, version: int | None) -> None:
        """An index entry whose schedule has moved on: usually another claimer took it (and its entry) a moment
        ago, so a read comes first; a write only for an entry really left behind."""
        if version is None or self._store.get(DUE_KIND, DUE_PK, key) is None:
            return
        with contextlib.suppress(VersionConflict):  # claimed or moved meanwhile
            self._store.delete(DUE_KIND, DUE_PK, key, expected_version=version)

    # -- AWS --------------------------------------------------------------------------------------------------------
    def _run_sync(self, job: Job) -> None:
        """Makes EventBridge match the store for one schedule (whatever changed, in whatever order): retried by
        the queue until it does, so a failed AWS call never leaves the two apart for good."""
        record = self._store.get(KIND, job.payload["account_id"], job.payload["id"])
        if record is None:
            self._sync.remove(job.payload["id"])
        else:
            self._sync.put(Schedule.from_dict(record.data))
