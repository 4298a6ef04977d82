"""Running deployed functions for callers: by uuid, by event, and test runs; every run is recorded."""

from __future__ import annotations

import logging
import time
import uuid as uuidlib
from dataclasses import dataclass, field
from typing import Any

from chalicelib.clock import Clock
from chalicelib.domain.errors import (
    BadInput,
    ExecutionTimeExceeded,
    FngateError,
    FunctionFailed,
    NotDeployed,
    NotFound,
)
from chalicelib.domain.events import EVENTS_BY_ID
from chalicelib.domain.models import Function
from chalicelib.domain.permissions import Action, Principal, require
from chalicelib.domain.states import State, is_invocable
from chalicelib.runtime.base import Executor, Outcome, Target
from chalicelib.services.deployments import DeploymentService
from chalicelib.services.limiter import AccountLimiter
from chalicelib.services.records import InvocationRecorder
from chalicelib.services.repository import FunctionRepository
from chalicelib.storage.base import EXPIRES_AT

log = logging.getLogger(__name__)
RECORD_KEPT_S = 30 * 86_400  # invocation records, and the function logs they carry, are kept 30 days


@dataclass(frozen=True)
class Call:
    """One invocation request as the wire layer parsed it."""

    body: dict[str, Any]
    source: str = "unknown"
    skill_id: str = ""
    request_id: str = field(default_factory=lambda: str(uuidlib.uuid4()))


def function_input(body: Any) -> dict[str, Any]:
    """The function's ``input``: the body minus ``timestamp`` (runtime-and-toolbelt.md §1.1), validated."""
    if not isinstance(body, dict):
        raise BadInput(detail="request body must be a JSON object {timestamp, headers, payload}")
    if "payload" not in body:
        raise BadInput(detail="request body must contain 'payload'")
    headers = body.get("headers", [])
    if headers is None:
        headers = []
    if not isinstance(headers, list) or not all(isinstance(h, dict) and "key" in h for h in headers):
        raise BadInput(detail="'headers' must be a list of {key, value} objects")
    return {k: v for k, v in body.items() if k != "timestamp"} | {"headers": headers}


class InvocationService:
    def __init__(self, repo: FunctionRepository, deployments: DeploymentService, executor: Executor,
                 recorder: InvocationRecorder, clock: Clock, limiter: AccountLimiter) -> None:
        self._repo, self._deployments, self._executor = repo, deployments, executor
        self._recorder, self._clock, self._limiter = recorder, clock, limiter
        self._targets: dict[tuple[str, str], tuple[int, Target]] = {}
        self.keeper: Any = None  # ReplayService: keeps the inputs of functions that opted in

    def invoke(self, who: Principal, uuid: str, call: Call) -> Outcome:
        require(who, "lambda", Action.INVOKE)
        return self._run(self._repo.get_cached(who.account_id, uuid), call)

    def invoke_event(self, who: Principal, event_id: str, call: Call) -> list[Any]:
        """Every Productive function bound to the event (optionally by skill), results in creation order."""
        require(who, "lambda", Action.INVOKE)
        bound = self.bound(who, event_id, call.skill_id)
        if not bound and event_id not in EVENTS_BY_ID and not self._repo.list(who.account_id, event_id=event_id):
            raise NotFound(what="Event", key=event_id)
        return [self._run(fn, call).result for fn in bound]

    def bound(self, who: Principal, event_id: str, skill_id: str = "") -> list[Function]:
        require(who, "lambda", Action.READ)
        found = self._repo.list(who.account_id, event_id=event_id)
        return [f for f in found if is_invocable(f.state, live=f.live) and f.state is not State.DRAFT
                and (not skill_id or not f.skills or skill_id in f.skills)]

    def _run(self, fn: Function, call: Call) -> Outcome:
        if not is_invocable(fn.state, live=fn.live):
            raise NotDeployed(uuid=fn.uuid, account_id=fn.account_id)
        target = self._target(fn)
        event = function_input(call.body)
        started = time.perf_counter()
        try:
            with self._limiter.admit(fn.account_id):
                outcome = self._executor.invoke(target, event)
        except FngateError as err:
            self._record(fn, target, call, started, err)
            raise
        self._record(fn, target, call, started, None, outcome)
        return outcome

    def _target(self, fn: Function) -> Target:
        key = (fn.account_id, fn.uuid)
        cached = self._targets.get(key)
        if cached and cached[0] == fn.live_deployment_id:
            return cached[1]
        target = self._deployments.live_target(fn)
        if target is None:
            raise NotDeployed(uuid=fn.uuid, account_id=fn.account_id)
        self._targets[key] = (fn.live_deployment_id or 0, target)
        return target

    def _record(self, fn: Function, target: Target, call: Call, started: float, err: FngateError | None,
                outcome: Outcome | None = None) -> None:
        now = self._clock.now()
        status = "SUCCEEDED" if err is None else "TIMEOUT" if isinstance(err, ExecutionTimeExceeded) else (
            "CODING_FAILURE" if isinstance(err, FunctionFailed) else "PLATFORM_FAILURE")
        logs = outcome.logs if outcome else getattr(err, "logs", [])
        # runtime-and-toolbelt.md §1.5: a test invocation's logs go back to its caller, not into the store, and
        # Debug records are shown on test invocations only
        tested = call.source in ("test", "replay")
        logs = [] if tested else [entry for entry in logs if entry.get("level") != "Debug"]
        record = {"function_uuid": fn.uuid, "manifest_version": target.manifest_version, "source": call.source,
                  "skill_id": call.skill_id, "request_id": call.request_id, "status": status,
                  "error_code": err.v1_code if err else "", "duration_ms": round((time.perf_counter() - started)
                                                                                * 1000, 3),
                  "at": int(now * 1000), "logs": logs, EXPIRES_AT: int(now) + RECORD_KEPT_S}
        sort_key = f"{int(now * 1000):013d}#{call.request_id}"
        self._recorder.record(fn.account_id, fn.uuid, sort_key, record)
        if self.keeper is not None and not tested and self.keeper.keeps(fn.account_id, fn.uuid):
            try:
                self.keeper.keep(fn.account_id, fn.uuid, sort_key, call.request_id, function_input(call.body),
                                 outcome.result if outcome else None, err)
            except Exception:  # keeping is a convenience: never fail the invocation for it
                log.exception("could not keep the input of invocation %s", call.request_id)
