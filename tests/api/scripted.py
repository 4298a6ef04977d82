"""An `Api` whose functions log and fail as each invocation's payload says (logs, reports, observability)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from chalice.test import Client

from app import app
from chalicelib.domain.errors import ExecutionTimeExceeded, FunctionFailed, LogLimitReached
from chalicelib.runtime.base import Outcome, Target
from chalicelib.services.container import Services, use_services
from tests.api.conftest import Api, body, v1_lambda
from tests.conftest import ACCOUNT, OTHER_ACCOUNT
from tests.fakes import FakeExecutor

BASE = f"/api/account/{ACCOUNT}"


class ScriptedExecutor(FakeExecutor):
    """Logs what the payload says: {"logs": [[level, message, extras?], ...], "fail": kind}, stamped by the clock."""

    def __init__(self, clock: Any) -> None:
        super().__init__()
        self.clock = clock
        self.events: list[dict[str, Any]] = []

    def invoke(self, target: Target, event: dict[str, Any], *, timeout_s: float | None = None) -> Outcome:
        self.events.append(event)
        payload = event.get("payload") or {}
        now = int(self.clock.now() * 1000)
        logs = [{"level": e[0], "message": e[1], "extras": e[2] if len(e) > 2 else [], "timestamp": now}
                for e in payload.get("logs", [])]
        fail = payload.get("fail")
        if fail == "log-limit":
            raise LogLimitReached(None, logs=[{"level": "Error", "message": "log limit reached", "extras": [],
                                               "timestamp": now}])
        if fail == "timeout":
            raise ExecutionTimeExceeded(None, logs=logs)
        if fail:
            raise FunctionFailed(str(fail), logs=logs)
        return Outcome(result={"ok": True}, logs=logs)


@contextlib.contextmanager
def scripted_api(make_services: Callable[..., Services], clock: Any) -> Iterator[Api]:
    """`Api` over services whose executor logs and fails as each invocation's payload says."""
    executor = ScriptedExecutor(clock)
    svc = make_services(executor=executor)
    creds, other = svc.identity.bootstrap(ACCOUNT), svc.identity.bootstrap(OTHER_ACCOUNT)
    with use_services(svc), Client(app) as client:
        yield Api(client, svc, creds, other, executor)


def deployed(api: Api, name: str = "logger") -> str:
    fn = body(api.dev("POST", f"{BASE}/lambdas?v=1", v1_lambda(name)))
    assert api.dev("POST", f"{BASE}/deployments/{fn['uuid']}").status_code == 200
    return fn["uuid"]


def invoke(api: Api, uuid: str, logs: list[list[Any]], *, rid: str = "", fail: str = "", test: bool = False) -> int:
    payload: dict[str, Any] = {"logs": logs} | ({"fail": fail} if fail else {})
    headers = {"X-Request-ID": rid} if rid else {}
    path = f"{BASE}/functions/{uuid}/test" if test else f"{BASE}/lambdas/{uuid}/invoke?v=1"
    return api.dev("POST", path, {"timestamp": 0, "headers": [], "payload": payload}, headers=headers).status_code
