"""Deploy, redeploy, undeploy and roll back functions; the Executor does the work, this keeps the books.

A request commits, in one transaction, the function's new state, the deployment record and the job that carries it
out (jobs/); it answers at once and clients poll the function's state, as the lpf CLI does. The job's handlers are
idempotent: after a crash at any point a job runs again (or, after its last attempt, fails the deployment with the
cause), so an acknowledged deployment always ends successful or failed, never stuck. An active deployment whose job
is gone (lost in a way the queue could not recover) is failed on sight, so its 409 never outlives its job.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from chalicelib.clock import Clock
from chalicelib.domain import limits
from chalicelib.domain.errors import (
    BuildFailed,
    Conflict,
    DeployFailed,
    DeploymentActive,
    FngateError,
    FunctionNotFound,
    NotFound,
    VersionConflict,
)
from chalicelib.domain.models import Deployment, Function, Manifest
from chalicelib.domain.permissions import Action, Principal, require
from chalicelib.domain.states import Transition, next_state
from chalicelib.jobs import Handler, Job, JobQueue
from chalicelib.runtime.base import Executor, Target
from chalicelib.services.repository import FunctionRepository, summary
from chalicelib.storage.base import on_latest

log = logging.getLogger(__name__)
_RETRIES = 5
DEPLOY_JOB, UNDEPLOY_JOB = "deploy", "undeploy"
DEPLOY_ATTEMPTS = 5


def target_of(fn: Function, dep: Deployment) -> Target:
    manifest = dep.manifest or fn.manifest
    return Target(account_id=fn.account_id, function_uuid=fn.uuid, manifest_version=manifest.version,
                  runtime=manifest.runtime, code=manifest.code, environment=dict(manifest.environment),
                  function_name=fn.name, build_key=dep.build_key, timeout_s=manifest.timeout_s,
                  memory_mb=manifest.memory_mb,
                  dependencies=tuple((d["key"], d.get("value", "")) for d in manifest.dependencies))


def _state_after_deploy(fn: Function, dep: Deployment) -> Any:
    """Productive; Modified if the code was edited while the deployment ran."""
    state = next_state(fn.state, Transition.DEPLOY_SUCCEEDED, live=fn.live)
    return state if fn.manifest.version == dep.manifest_version else next_state(state, Transition.EDIT, live=True)


def _group(account_id: str, uuid: str) -> str:
    return f"fn:{account_id}/{uuid}"  # a function's deployment jobs run one at a time, in order


class DeploymentService:
    def __init__(self, repo: FunctionRepository, executor: Executor, clock: Clock, jobs: JobQueue) -> None:
        self._repo, self._executor, self._clock, self._jobs = repo, executor, clock, jobs
        self.on_undeploy: list[Callable[[str, str], None]] = []  # (account, uuid): run by the job, idempotent

    def handlers(self) -> list[Handler]:
        """The job kinds this service owns, for the runner."""
        return [Handler(DEPLOY_JOB, self._run_deploy, self._deploy_gave_up, max_attempts=DEPLOY_ATTEMPTS),
                Handler(UNDEPLOY_JOB, self._run_undeploy, self._undeploy_gave_up, max_attempts=DEPLOY_ATTEMPTS)]

    # -- commands -----------------------------------------------------------------------------------------------
    def deploy(self, who: Principal, uuid: str) -> Deployment:
        require(who, "lambda", Action.DEPLOY)
        fn, version = self.idle(*self._repo.get(who.account_id, uuid))
        next_state(fn.state, Transition.DEPLOY, live=fn.live)
        return self._begin(fn, version, who, manifest=fn.manifest, restored_from=None)

    def undeploy(self, who: Principal, uuid: str) -> Deployment:
        require(who, "lambda", Action.DEPLOY)
        fn, version = self.idle(*self._repo.get(who.account_id, uuid))
        state = next_state(fn.state, Transition.UNDEPLOY, live=fn.live)
        live = self._repo.deployment(fn.account_id, uuid, fn.live_deployment_id or 0) or fn.last_deployment
        assert live is not None  # UNDEPLOY is only allowed while a deployment is live
        job = self._jobs.create(UNDEPLOY_JOB, {"account_id": fn.account_id, "uuid": uuid, "id": live.id},
                                account_id=fn.account_id, group=_group(fn.account_id, uuid),
                                max_attempts=DEPLOY_ATTEMPTS)
        dep = replace(live, state="undeploying", updated_at=self._clock.iso(), job_id=job.id)
        self._commit(replace(fn, state=state, last_deployment=summary(dep), version=fn.version + 1), version,
                     dep, job)
        return dep

    def rollback(self, who: Principal, uuid: str, deployment_id: int) -> Deployment:
        """Make an earlier deployment's code live again, and the function's current code."""
        require(who, "lambda", Action.DEPLOY)
        fn, version = self.idle(*self._repo.get(who.account_id, uuid))
        source = self._repo.deployment(who.account_id, uuid, deployment_id)
        if source is None or source.manifest is None:
            raise NotFound(what="Deployment", key=deployment_id)
        manifest = replace(source.manifest, version=fn.manifest.version + 1, created_at=self._clock.iso(),
                           created_by=who.display_name)
        dep = self._begin(replace(fn, manifest=manifest), version, who, manifest=manifest,
                          restored_from=deployment_id, new_manifest=True)
        return self._repo.deployment(who.account_id, uuid, dep.id) or dep

    def idle(self, fn: Function, version: int) -> tuple[Function, int]:
        """``fn`` (and its record version) if no deployment of it is in progress; DeploymentActive (409) while its
        job is pending. An active deployment without a pending job is failed here, with the cause."""
        last = fn.last_deployment
        if not (last and last.active):
            return fn, version
        job = self._jobs.get(last.job_id) if last.job_id else None
        if job is not None and job.state != "dead":
            raise DeploymentActive()
        dep = self._repo.deployment(fn.account_id, fn.uuid, last.id) or last
        if dep.active:
            log.error("deployment %s of %s had no pending job; failing it", dep.id, fn.uuid)
            self._settle_lost(dep, "The deployment's job was lost before it finished; deploy again")
        return self._repo.get(fn.account_id, fn.uuid)

    # -- queries ------------------------------------------------------------------------------------------------
    def history(self, who: Principal, uuid: str) -> list[Deployment]:
        require(who, "lambda", Action.READ)
        self._repo.get(who.account_id, uuid)
        return self._repo.deployments(who.account_id, uuid, limit=limits.DEPLOYMENTS_KEPT)

    def live_target(self, fn: Function) -> Target | None:
        if fn.live_deployment_id is None:
            return None
        dep = self._repo.deployment(fn.account_id, fn.uuid, fn.live_deployment_id)
        return target_of(fn, dep) if dep else None

    # -- starting -------------------------------------------------------------------------------------------------
    def _begin(self, fn: Function, version: int, who: Principal, *, manifest: Manifest,
               restored_from: int | None, new_manifest: bool = False) -> Deployment:
        now = self._clock.iso()
        dep_id = self._repo.next_deployment_id(fn.account_id, fn.uuid)
        job = self._jobs.create(DEPLOY_JOB, {"account_id": fn.account_id, "uuid": fn.uuid, "id": dep_id},
                                account_id=fn.account_id, group=_group(fn.account_id, fn.uuid),
                                max_attempts=DEPLOY_ATTEMPTS)
        dep = Deployment(id=dep_id, uuid=f"{fn.uuid}-{dep_id}", account_id=fn.account_id, function_uuid=fn.uuid,
                         manifest_version=manifest.version, state="redeploying" if fn.live else "deploying",
                         created_at=now, created_by=who.display_name, updated_at=now, manifest=manifest,
                         restored_from=restored_from, job_id=job.id)
        self._commit(replace(fn, last_deployment=summary(dep), version=fn.version + 1), version, dep, job,
                     create=True, new_manifest=new_manifest)
        return dep

    def _commit(self, fn: Function, version: int, dep: Deployment, job: Job, *, create: bool = False,
                new_manifest: bool = False) -> None:
        """The function, its deployment and the job, all or nothing; then the runner is told."""
        try:
            self._repo.save(fn, version, new_manifest=new_manifest,
                            also=[self._repo.deployment_op(dep, create=create), self._jobs.put_op(job)])
        except VersionConflict:
            raise Conflict(detail="the function changed while the deployment started; try again") from None
        self._jobs.notify([job])

    # -- jobs -------------------------------------------------------------------------------------------------------
    def _pending(self, job: Job) -> tuple[Function, Deployment] | None:
        """The function and deployment ``job`` works on, or None when there is nothing (left) to do."""
        p = job.payload
        dep = self._repo.deployment(p["account_id"], p["uuid"], int(p["id"]))
        if dep is None or not dep.active or dep.job_id != job.id:
            return None  # finished by an earlier attempt, or superseded
        try:
            fn, _ = self._repo.get(p["account_id"], p["uuid"])
        except FunctionNotFound:
            return None
        return fn, dep

    def _run_deploy(self, job: Job) -> None:
        pending = self._pending(job)
        if pending is None:
            return
        fn, dep = pending
        try:
            dep = replace(dep, build_key=self._executor.build(target_of(fn, dep)))  # the build step
            self._executor.deploy(target_of(fn, dep))
        except FngateError as err:  # the code or the platform refused it: a visible outcome, not a retry
            self._record_failure(dep, err)
            return
        now = self._clock.iso()
        done = replace(dep, state="successful", updated_at=now, deployed_at=now)
        self._update_function(done, lambda f: replace(
            f, state=_state_after_deploy(f, dep), live_deployment_id=dep.id, live_manifest_version=dep.manifest_version,
            last_deployment=summary(done)))
        self._repo.prune_deployments(dep.account_id, dep.function_uuid, limits.DEPLOYMENTS_KEPT, protect=dep.id)

    def _run_undeploy(self, job: Job) -> None:
        pending = self._pending(job)
        if pending is None:
            return
        _, dep = pending
        for hook in self.on_undeploy:  # e.g. its schedules go; before the state changes, so a failure retries it
            hook(dep.account_id, dep.function_uuid)
        self._executor.undeploy(dep.account_id, dep.function_uuid)
        now = self._clock.iso()
        gone = replace(dep, state="undeployed", updated_at=now, undeployed_at=now)
        self._update_function(gone, lambda f: replace(
            f, state=next_state(f.state, Transition.UNDEPLOY_DONE, live=f.live), live_deployment_id=None,
            live_manifest_version=None, last_deployment=summary(gone)))

    def _deploy_gave_up(self, job: Job, error: str) -> None:
        pending = self._pending(job)
        if pending is not None:
            self._record_failure(pending[1], DeployFailed(
                detail=f"The deployment failed {job.attempts} times; last error: {error}"))

    def _undeploy_gave_up(self, job: Job, error: str) -> None:
        pending = self._pending(job)
        if pending is not None:
            self._undeploy_failed(pending[1], f"The undeployment failed {job.attempts} times; last error: {error}")

    def _settle_lost(self, dep: Deployment, message: str) -> None:
        if dep.state == "undeploying":
            self._undeploy_failed(dep, message)
        else:
            self._record_failure(dep, DeployFailed(detail=message))

    def _record_failure(self, dep: Deployment, err: FngateError) -> None:
        transition = Transition.BUILD_FAILED if isinstance(err, BuildFailed) else Transition.DEPLOY_FAILED
        failed = replace(dep, state="failed", updated_at=self._clock.iso(), error_code=err.v1_code,
                         error_message=str(err))
        self._update_function(failed, lambda f: replace(f, state=next_state(f.state, transition, live=f.live),
                                                        last_deployment=summary(failed)))

    def _undeploy_failed(self, dep: Deployment, message: str) -> None:
        """Still live: the deployment goes back to successful with the error, the function to Deploy Error."""
        kept = replace(dep, state="successful", updated_at=self._clock.iso(), error_code=DeployFailed.v1_code,
                       error_message=message)
        self._update_function(kept, lambda f: replace(
            f, state=next_state(f.state, Transition.UNDEPLOY_FAILED, live=f.live), last_deployment=summary(kept)))

    def _update_function(self, dep: Deployment, change: Callable[[Function], Function]) -> None:
        """The deployment's new record and the function's change in one transaction; read-modify-write with
        retries, as edits may land while a deployment runs."""

        def attempt() -> bool:
            try:
                fn, version = self._repo.get(dep.account_id, dep.function_uuid)
            except FunctionNotFound:
                return False
            self._repo.save(replace(change(fn), version=fn.version + 1), version, also=[self._repo.deployment_op(dep)])
            return True

        if on_latest(attempt, tries=_RETRIES, what=f"Function {dep.function_uuid}"):
            _announce(dep)


def _announce(dep: Deployment) -> None:
    """One log line per deployment outcome (the console of `fngate serve`, CloudWatch on AWS)."""
    failed = bool(dep.error_code)
    log.log(logging.WARNING if failed else logging.INFO, "deployment %s%s", dep.state, " with an error" if failed
            else "", extra={"account": dep.account_id, "function": dep.function_uuid, "deployment": dep.id,
                            "deployment_state": dep.state, "error_code": dep.error_code,
                            "error": dep.error_message[:500]})
