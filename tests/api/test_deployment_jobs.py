"""Deployments as durable jobs: what a crash, a lost job or a failing platform leaves behind (never a stuck
function), and the account's view of its jobs. The gateway "crashes" here by dropping a Services whose runner never
ran; a second Services on the same store (a restarted gateway) takes over."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalice.test import Client

from app import app
from chalicelib.clock import FrozenClock
from chalicelib.domain.permissions import Principal, Role
from chalicelib.jobs.model import KIND, LIVE
from chalicelib.services.container import Services, use_services
from chalicelib.storage.base import Query
from tests.api.conftest import NODE_CODE, body
from tests.conftest import ACCOUNT
from tests.fakes import FakeExecutor

DEV = Principal(ACCOUNT, "dev-1", "user", frozenset({Role.DEVELOPER}), login_name="dev")
ADMIN = Principal(ACCOUNT, "adm-1", "user", frozenset({Role.ADMIN}), login_name="adm")


class FlakyExecutor(FakeExecutor):
    """Fails deploys and undeploys with an unexpected error (a platform hiccup) while ``failures`` lasts."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures
        self.deploys = 0

    def deploy(self, target: Any) -> None:
        self.deploys += 1
        if self.failures:
            self.failures -= 1
            raise ConnectionError("worker host unreachable")
        super().deploy(target)

    def undeploy(self, account_id: str, function_uuid: str) -> None:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("worker host unreachable")
        super().undeploy(account_id, function_uuid)


def crashed(make: Callable[..., Services], **kw: Any) -> Services:
    """A gateway whose job runner never gets to run (it is killed right after answering)."""
    return make(jobs="background", **kw)


def create(svc: Services, name: str = "fn1") -> str:
    from chalicelib.services.functions import FunctionChanges

    fn = svc.functions.create(DEV, FunctionChanges(name=name, description="d", code=NODE_CODE, runtime="Node.js 20"))
    return fn.uuid


def state(svc: Services, uuid: str) -> str:
    return svc.functions.get(DEV, uuid).state.value


def test_an_acknowledged_deploy_survives_a_crash_and_completes_after_restart(make_services):
    # GIVEN a deploy answered by a gateway that died before running it
    first = crashed(make_services)
    uuid = create(first)
    first.deployments.deploy(DEV, uuid)
    assert first.functions.get(DEV, uuid).last_deployment.state == "deploying"
    # WHEN the gateway restarts on the same data
    second = make_services(jobs="inline")
    second.runner.drain()
    # THEN the deploy completed once
    assert state(second, uuid) == "Productive"
    assert [d.state for d in second.deployments.history(DEV, uuid)] == ["successful"]


def test_a_deploy_whose_job_was_lost_is_failed_visibly_and_never_blocks_the_next(make_services):
    first = crashed(make_services)
    uuid = create(first)
    first.deployments.deploy(DEV, uuid)
    for record in first.store.query(Query(KIND, LIVE)):  # the job vanishes (as if never written)
        first.store.delete(KIND, LIVE, record.sk)
    second = make_services(jobs="inline")
    second.deployments.deploy(DEV, uuid)  # no 409: the orphan is failed, then this deploy runs
    history = second.deployments.history(DEV, uuid)
    assert [d.state for d in history] == ["successful", "failed"]
    assert "job was lost" in history[1].error_message
    assert state(second, uuid) == "Productive"


def test_a_pending_deploy_answers_409_while_its_job_lives(make_services):
    svc = crashed(make_services)
    uuid = create(svc)
    svc.deployments.deploy(DEV, uuid)
    with use_services(svc), Client(app) as client:
        token = svc.identity.bootstrap(ACCOUNT)["developerToken"]
        res = client.http.post(f"/api/account/{ACCOUNT}/deployments/{uuid}",
                               headers={"Authorization": f"Bearer {token}"})
        assert res.status_code == 409
        assert body(res)["code"] == "com.liveperson.faas.fm.deployment-active"


def test_a_platform_hiccup_is_retried_with_backoff(make_services, clock: FrozenClock):
    executor = FlakyExecutor(failures=2)
    svc = make_services(executor=executor)
    uuid = create(svc)
    svc.deployments.deploy(DEV, uuid)
    assert svc.functions.get(DEV, uuid).last_deployment.state == "deploying"
    for _ in range(2):
        clock.advance(600)
        svc.runner.drain()
    assert state(svc, uuid) == "Productive" and executor.deploys == 3
    assert len(svc.deployments.history(DEV, uuid)) == 1


def test_a_deploy_failing_every_attempt_ends_in_deploy_error_with_the_cause(make_services, clock: FrozenClock):
    svc = make_services(executor=FlakyExecutor(failures=99))
    uuid = create(svc)
    svc.deployments.deploy(DEV, uuid)
    for _ in range(6):
        clock.advance(600)
        svc.runner.drain()
    fn = svc.functions.get(DEV, uuid)
    assert fn.state.value == "Deploy Error" and fn.last_deployment.state == "failed"
    assert "worker host unreachable" in fn.last_deployment.error_message
    (dead,) = svc.job_admin.list(DEV, "dead")
    assert dead.kind == "deploy" and "worker host unreachable" in dead.last_error


def test_an_undeploy_failing_every_attempt_leaves_the_function_live_in_deploy_error(make_services,
                                                                                     clock: FrozenClock):
    executor = FlakyExecutor(failures=0)
    svc = make_services(executor=executor)
    uuid = create(svc)
    svc.deployments.deploy(DEV, uuid)
    executor.failures = 99
    svc.deployments.undeploy(DEV, uuid)
    for _ in range(6):
        clock.advance(600)
        svc.runner.drain()
    fn = svc.functions.get(DEV, uuid)
    assert fn.state.value == "Deploy Error" and fn.live and not fn.last_deployment.active
    executor.failures = 0
    svc.deployments.undeploy(DEV, uuid)  # and it can be undeployed again
    assert state(svc, uuid) == "Draft"


def test_a_rollback_is_a_job_and_restores_the_code(make_services):
    svc = make_services()
    uuid = create(svc)
    svc.deployments.deploy(DEV, uuid)
    dep = svc.deployments.rollback(DEV, uuid, 1)
    assert dep.restored_from == 1 and dep.state == "successful" and dep.job_id
    assert [d.state for d in svc.deployments.history(DEV, uuid)] == ["successful", "successful"]


def test_jobs_routes_list_dead_letters_and_retry_them(make_services, clock: FrozenClock):
    executor = FlakyExecutor(failures=5)
    svc = make_services(executor=executor)
    creds = svc.identity.bootstrap(ACCOUNT)
    uuid = create(svc)
    svc.deployments.deploy(DEV, uuid)
    for _ in range(6):
        clock.advance(600)
        svc.runner.drain()
    auth = {"Authorization": f"Bearer {creds['developerToken']}"}
    with use_services(svc), Client(app) as client:
        dead = body(client.http.get(f"/api/account/{ACCOUNT}/jobs?state=dead", headers=auth))
        assert [j["kind"] for j in dead] == ["deploy"] and dead[0]["attempts"] == 5
        bad = client.http.get(f"/api/account/{ACCOUNT}/jobs?state=nope", headers=auth)
        assert bad.status_code == 400
        missing = client.http.post(f"/api/account/{ACCOUNT}/jobs/nope/retry", headers=auth)
        assert missing.status_code == 404
        invoker = {"Authorization": f"Bearer {creds['invocationToken']}"}
        assert client.http.get(f"/api/account/{ACCOUNT}/jobs", headers=invoker).status_code == 403
        retried = client.http.post(f"/api/account/{ACCOUNT}/jobs/{dead[0]['id']}/retry", headers=auth)
        assert retried.status_code == 200 and body(retried)["state"] == "queued"
    # the retried job finds its deployment already failed and has nothing left to do
    assert svc.job_admin.list(DEV, "dead") == [] and svc.job_admin.list(DEV, "pending") == []
