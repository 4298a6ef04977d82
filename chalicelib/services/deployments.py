"""Deploy, redeploy, undeploy and roll back functions; the Executor does the work, this keeps the books.

A deployment starts at once and finishes in the background (clients poll the function's state, as the lpf CLI
does); ``sync=True`` finishes inline, for tests and for the CLI's local mode.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

from chalicelib.clock import Clock
from chalicelib.domain import limits
from chalicelib.domain.errors import BuildFailed, Conflict, DeploymentActive, FngateError, NotFound, VersionConflict
from chalicelib.domain.models import Deployment, Function
from chalicelib.domain.permissions import Action, Principal, require
from chalicelib.domain.states import Transition, next_state
from chalicelib.runtime.base import Executor, Target
from chalicelib.services.repository import FunctionRepository, summary

log = logging.getLogger(__name__)
_RETRIES = 5


def target_of(fn: Function, dep: Deployment) -> Target:
    manifest = dep.manifest or fn.manifest
    return Target(account_id=fn.account_id, function_uuid=fn.uuid, manifest_version=manifest.version,
                  runtime=manifest.runtime, code=manifest.code, environment=dict(manifest.environment),
                  function_name=fn.name)


def _state_after_deploy(fn: Function, dep: Deployment) -> Any:
    """Productive; Modified if the code was edited while the deployment ran."""
    state = next_state(fn.state, Transition.DEPLOY_SUCCEEDED, live=fn.live)
    return state if fn.manifest.version == dep.manifest_version else next_state(state, Transition.EDIT, live=True)


class DeploymentService:
    def __init__(self, repo: FunctionRepository, executor: Executor, clock: Clock, *, sync: bool = False) -> None:
        self._repo, self._executor, self._clock, self._sync = repo, executor, clock, sync
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="deploy")

    def close(self) -> None:
        self._pool.shutdown(wait=True)

    # -- commands -----------------------------------------------------------------------------------------------
    def deploy(self, who: Principal, uuid: str) -> Deployment:
        require(who, "lambda", Action.DEPLOY)
        fn, version = self._repo.get(who.account_id, uuid)
        if fn.last_deployment and fn.last_deployment.active:
            raise DeploymentActive()
        next_state(fn.state, Transition.DEPLOY, live=fn.live)
        dep = self._begin(fn, version, who, manifest=fn.manifest, restored_from=None)
        self._run(self._finish_deploy, dep)
        return dep

    def undeploy(self, who: Principal, uuid: str) -> Deployment:
        require(who, "lambda", Action.DEPLOY)
        fn, version = self._repo.get(who.account_id, uuid)
        if fn.last_deployment and fn.last_deployment.active:
            raise DeploymentActive()
        state = next_state(fn.state, Transition.UNDEPLOY, live=fn.live)
        live = self._repo.deployment(fn.account_id, uuid, fn.live_deployment_id or 0)
        dep = replace(live or fn.last_deployment, state="undeploying", updated_at=self._clock.iso())  # type: ignore
        self._repo.put_deployment(dep)
        self._repo.save(replace(fn, state=state, last_deployment=summary(dep), version=fn.version + 1), version)
        self._run(self._finish_undeploy, dep)
        return dep

    def rollback(self, who: Principal, uuid: str, deployment_id: int) -> Deployment:
        """Make an earlier deployment's code live again, and the function's current code."""
        require(who, "lambda", Action.DEPLOY)
        fn, version = self._repo.get(who.account_id, uuid)
        if fn.last_deployment and fn.last_deployment.active:
            raise DeploymentActive()
        source = self._repo.deployment(who.account_id, uuid, deployment_id)
        if source is None or source.manifest is None:
            raise NotFound(what="Deployment", key=deployment_id)
        manifest = replace(source.manifest, version=fn.manifest.version + 1, created_at=self._clock.iso(),
                           created_by=who.display_name)
        fn = replace(fn, manifest=manifest, version=fn.version + 1)
        version = self._repo.save(fn, version, new_manifest=True)
        dep = self._begin(fn, version, who, manifest=manifest, restored_from=deployment_id)
        self._finish_deploy(dep)  # rollback is always inline: the old code is known to build
        return self._repo.deployment(who.account_id, uuid, dep.id) or dep

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

    # -- internals ----------------------------------------------------------------------------------------------
    def _begin(self, fn: Function, version: int, who: Principal, *, manifest: Any,
               restored_from: int | None) -> Deployment:
        now = self._clock.iso()
        dep = Deployment(id=self._repo.next_deployment_id(fn.account_id, fn.uuid), uuid=f"{fn.uuid}-d",
                         account_id=fn.account_id, function_uuid=fn.uuid, manifest_version=manifest.version,
                         state="redeploying" if fn.live else "deploying", created_at=now, created_by=who.display_name,
                         updated_at=now, manifest=manifest, restored_from=restored_from)
        dep = replace(dep, uuid=f"{fn.uuid}-{dep.id}")
        self._repo.put_deployment(dep, create=True)
        try:
            self._repo.save(replace(fn, last_deployment=summary(dep), version=fn.version + 1), version)
        except VersionConflict:
            raise Conflict(detail="the function changed while the deployment started; try again") from None
        return dep

    def _run(self, job: Any, dep: Deployment) -> None:
        if self._sync:
            job(dep)
        else:
            self._pool.submit(self._guarded, job, dep)

    @staticmethod
    def _guarded(job: Any, dep: Deployment) -> None:
        try:
            job(dep)
        except Exception:
            log.exception("deployment %s of %s failed unexpectedly", dep.id, dep.function_uuid)

    def _finish_deploy(self, dep: Deployment) -> None:
        fn, _ = self._repo.get(dep.account_id, dep.function_uuid)
        try:
            self._executor.deploy(target_of(fn, dep))
        except FngateError as err:
            transition = Transition.BUILD_FAILED if isinstance(err, BuildFailed) else Transition.DEPLOY_FAILED
            failed = replace(dep, state="failed", updated_at=self._clock.iso(), error_code=err.v1_code,
                             error_message=str(err))
            self._repo.put_deployment(failed)
            self._update_function(dep, lambda f: replace(f, state=next_state(f.state, transition, live=f.live),
                                                         last_deployment=summary(failed)))
            return
        now = self._clock.iso()
        done = replace(dep, state="successful", updated_at=now, deployed_at=now)
        self._repo.put_deployment(done)
        self._update_function(dep, lambda f: replace(
            f, state=_state_after_deploy(f, dep), live_deployment_id=dep.id, live_manifest_version=dep.manifest_version,
            last_deployment=summary(done)))
        self._repo.prune_deployments(dep.account_id, dep.function_uuid, limits.DEPLOYMENTS_KEPT, protect=dep.id)

    def _finish_undeploy(self, dep: Deployment) -> None:
        self._executor.undeploy(dep.account_id, dep.function_uuid)
        now = self._clock.iso()
        gone = replace(dep, state="undeployed", updated_at=now, undeployed_at=now)
        self._repo.put_deployment(gone)
        self._update_function(dep, lambda f: replace(
            f, state=next_state(f.state, Transition.UNDEPLOY_DONE, live=f.live), live_deployment_id=None,
            live_manifest_version=None, last_deployment=summary(gone)))

    def _update_function(self, dep: Deployment, change: Any) -> None:
        """Read-modify-write with retries: edits may land while a deployment runs."""
        for _ in range(_RETRIES):
            fn, version = self._repo.get(dep.account_id, dep.function_uuid)
            try:
                self._repo.save(replace(change(fn), version=fn.version + 1), version)
                return
            except VersionConflict:
                continue
        raise VersionConflict(what=f"Function {dep.function_uuid}")
