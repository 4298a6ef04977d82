"""The run of a claimed schedule slot: the ``schedule-run`` job's handler (see services/schedules.py for the claim).

The run is marked RUNNING before the function is invoked, through the invocation service like every invocation
(account limits, records with event source ``scheduler``); the outcome goes to the run's history record and the
schedule's ``lastExecution`` / ``didLastExecutionFail``. A job that finds its run already RUNNING was taken over
from a gateway that died mid-run: the run is recorded LOST instead of invoking the function a second time.
"""

from __future__ import annotations

import logging
import time
import uuid as uuidlib
from collections.abc import Callable
from dataclasses import replace

from chalicelib.clock import Clock
from chalicelib.domain import schedules as rules
from chalicelib.domain.errors import FngateError, FunctionFailed, VersionConflict
from chalicelib.domain.permissions import INVOKE_SCOPE, Principal
from chalicelib.domain.schedules import Run, RunStatus, Schedule
from chalicelib.jobs import Job
from chalicelib.services.invocations import Call, InvocationService
from chalicelib.storage.base import Query, Store

log = logging.getLogger(__name__)
KIND, RUN_KIND = "schedule", "schedule-run"
_RETRIES = 5


def run_pk(account_id: str, schedule_id: str) -> str:
    return f"{account_id}#{schedule_id}"


def run_sk(at: float) -> str:
    """A run's key in its schedule's history: the slot in ms (13 digits), so the history sorts by slot."""
    return f"{round(at * 1000):013d}"


class ScheduleRuns:
    def __init__(self, store: Store, invocations: InvocationService, clock: Clock) -> None:
        self._store, self._invocations, self._clock = store, invocations, clock

    def run(self, job: Job) -> None:
        p = job.payload
        pk = run_pk(p["account_id"], p["id"])
        record = self._store.get(RUN_KIND, pk, p["run"])
        if record is None:
            return  # the schedule was deleted with its history
        run = Run.from_dict(record.data)
        if run.status == RunStatus.RUNNING:  # an earlier attempt started it and its gateway vanished
            self._finish(p["account_id"], run, p["run"], job.id, replace(
                run, status=RunStatus.LOST, error_message="the gateway stopped while the run was going"))
            return
        if run.status != RunStatus.QUEUED:
            return
        schedule_record = self._store.get(KIND, p["account_id"], p["id"])
        if schedule_record is None:
            return
        schedule = Schedule.from_dict(schedule_record.data)
        started = replace(run, status=RunStatus.RUNNING, started=self._clock.now(), request_id=str(uuidlib.uuid4()))
        try:
            self._store.put(RUN_KIND, pk, p["run"], started.to_dict(), expected_version=record.version)
        except VersionConflict:
            return  # another runner has it
        self._finish(p["account_id"], run, p["run"], job.id, self._invoke(schedule, started))

    def _invoke(self, schedule: Schedule, run: Run) -> Run:
        who = Principal(schedule.account_id, f"schedule:{schedule.id}", "app", scopes=frozenset({INVOKE_SCOPE}))
        began = time.perf_counter()
        status, err = RunStatus.SUCCEEDED, None
        try:
            self._invocations.invoke(who, schedule.function_uuid, Call(body=schedule.function_input(),
                                                                       source="scheduler", request_id=run.request_id))
        except FngateError as exc:
            status, err = (RunStatus.CODING_FAILURE if isinstance(exc, FunctionFailed)
                           else RunStatus.PLATFORM_FAILURE), exc
        except Exception as exc:  # a platform failure the executor did not translate
            log.exception("schedule %s: the run failed", schedule.id)
            status, err = RunStatus.PLATFORM_FAILURE, FngateError(f"{type(exc).__name__}: {exc}")
        return replace(run, status=status, duration_ms=round((time.perf_counter() - began) * 1000, 3),
                       error_code=err.v1_code if err else "", error_v2_code=err.v2_code if err else "",
                       error_message=err.message if err else "")

    def _finish(self, account_id: str, run: Run, sk: str, job_id: str, done: Run) -> None:
        pk = run_pk(account_id, run.schedule_id)
        self._store.put(RUN_KIND, pk, sk, done.to_dict())
        failed = done.status in rules.FAILED
        self._update(account_id, run.schedule_id, lambda s: replace(
            s, last_execution=self._clock.iso(done.started or self._clock.now()), did_last_execution_fail=failed,
            running_job="" if s.running_job == job_id else s.running_job))
        for old in self._store.query(Query(RUN_KIND, pk, reverse=True, keys_only=True))[rules.RUNS_KEPT:]:
            self._store.delete(RUN_KIND, pk, old.sk)

    def gave_up(self, job: Job, error: str) -> None:
        p = job.payload
        record = self._store.get(RUN_KIND, run_pk(p["account_id"], p["id"]), p["run"])
        if record is not None:
            run = Run.from_dict(record.data)
            if run.status in (RunStatus.QUEUED, RunStatus.RUNNING):
                self._finish(p["account_id"], run, p["run"], job.id, replace(
                    run, status=RunStatus.PLATFORM_FAILURE, error_message=error[:500]))

    def _update(self, account_id: str, schedule_id: str, change: Callable[[Schedule], Schedule]) -> None:
        """Read-modify-write of the schedule record alone (its slot and index stay): retried on conflicts."""
        for _ in range(_RETRIES):
            record = self._store.get(KIND, account_id, schedule_id)
            if record is None:
                return
            try:
                self._store.put(KIND, account_id, schedule_id, change(Schedule.from_dict(record.data)).to_dict(),
                                expected_version=record.version)
                return
            except VersionConflict:
                continue
        raise VersionConflict(what=f"Schedule {schedule_id}")
