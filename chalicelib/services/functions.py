"""Creating, editing, listing and deleting functions: validation, uniqueness, limits and state on edit."""

from __future__ import annotations

import builtins
import uuid as uuidlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from chalicelib.clock import Clock
from chalicelib.domain import limits
from chalicelib.domain import validation as v
from chalicelib.domain.changes import UNSET, Changes
from chalicelib.domain.errors import Conflict, LimitReached, Unchanged, ValidationFailed
from chalicelib.domain.events import EVENTS_BY_ID, template
from chalicelib.domain.models import Function, Manifest
from chalicelib.domain.permissions import Action, Principal, require
from chalicelib.domain.runtimes import Runtime, find_runtime
from chalicelib.domain.states import State, Transition, next_state
from chalicelib.services.repository import FunctionRepository


@dataclass(frozen=True)
class FunctionChanges(Changes):
    """What a request asks to set; fields left as UNSET are not touched."""

    name: Any = UNSET
    description: Any = UNSET
    event_id: Any = UNSET
    skills: Any = UNSET
    sample_payload: Any = UNSET
    runtime: Any = UNSET
    code: Any = UNSET
    environment: Any = UNSET
    dependencies: Any = UNSET
    timeout_s: Any = UNSET
    memory_mb: Any = UNSET


def _runtime(key: Any) -> Runtime:
    if key is not UNSET and key is not None and not isinstance(key, str):
        raise ValidationFailed(detail="'runtime' must be a runtime id such as nodejs20 or python3.11")
    runtime = find_runtime(None if key is UNSET else key)
    if runtime is None:
        raise ValidationFailed(detail=f"unknown runtime {key!r}; use nodejs20 or python3.11")
    return runtime


def _event(event_id: Any) -> str | None:
    if event_id in (UNSET, None, "", "No Event"):
        return None
    v.require_type(event_id, str, "eventId")
    if len(event_id) > limits.EVENT_ID_MAX or event_id not in EVENTS_BY_ID:
        raise ValidationFailed(detail=f"unknown eventId {event_id[:60]!r}; see GET /events")
    return event_id


class FunctionService:
    def __init__(self, repo: FunctionRepository, clock: Clock,
                 idle: Callable[[Function, int], tuple[Function, int]] | None = None,
                 ceilings: limits.OperatorLimits | None = None) -> None:
        """``idle``: the deployment service's check that no deployment is in progress (and settles a lost one);
        ``ceilings``: the operator's maxima of the per-function limits."""
        self._repo, self._clock = repo, clock
        self._ceilings = ceilings or limits.OperatorLimits()
        self._idle = idle or (lambda fn, version: (fn, version))
        self.on_delete: list[Callable[[str, str], None]] = []  # (account, uuid), after the function is gone

    # -- reading ------------------------------------------------------------------------------------------------
    def get(self, who: Principal, uuid: str) -> Function:
        require(who, "lambda", Action.READ)
        return self._repo.get(who.account_id, uuid)[0]

    def list(self, who: Principal, *, event_id: str | None = None, states: list[str] | None = None,
             name: str | None = None, with_code: bool = True) -> list[Function]:
        """The account's functions; ``with_code=False`` leaves code, environment, dependencies and sample payload
        empty (see FunctionRepository.list_meta): much cheaper, for listings that show none of them."""
        require(who, "lambda", Action.READ)
        filters: dict[str, object] = {}
        if event_id:
            filters["event_id"] = event_id
        if name:
            filters["name"] = name
        found = (self._repo.list if with_code else self._repo.list_meta)(who.account_id, **filters)
        if states:
            found = [f for f in found if f.state.value in set(states)]
        return found

    def count(self, who: Principal) -> int:
        require(who, "lambda", Action.READ)
        return self._repo.count(who.account_id)

    def versions(self, who: Principal, uuid: str) -> tuple[Function, builtins.list[Manifest]]:
        fn = self.get(who, uuid)
        return fn, self._repo.manifests(who.account_id, uuid, limit=limits.VERSIONS_KEPT)

    # -- writing ------------------------------------------------------------------------------------------------
    def create(self, who: Principal, changes: FunctionChanges) -> Function:
        require(who, "lambda", Action.WRITE)
        name = v.validate_name(changes.name if changes.given("name") else None)
        event_id = _event(changes.event_id)
        runtime = _runtime(changes.runtime)
        self._check_account_limits(who.account_id, event_id)
        now, actor = self._clock.iso(), who.display_name
        code = changes.code if changes.given("code") and changes.code else template(
            EVENTS_BY_ID.get(event_id or ""), runtime)
        manifest = Manifest(id=str(uuidlib.uuid4()), version=1, runtime=runtime.id, code=v.validate_code(code, runtime),
                            environment=v.validate_environment(changes.environment if changes.given("environment")
                                                               else {}),
                            dependencies=v.validate_dependencies(changes.dependencies if changes.given("dependencies")
                                                                 else []),
                            created_at=now, created_by=actor)
        manifest = self._apply_limits(replace(manifest, timeout_s=self._ceilings.timeout_default_s,
                                              memory_mb=self._ceilings.memory_default_mb), changes)
        fn = Function(account_id=who.account_id, uuid=str(uuidlib.uuid4()), name=name,
                      description=v.validate_description(changes.description if changes.given("description")
                                                         else ""),
                      event_id=event_id, state=State.DRAFT, manifest=manifest,
                      skills=v.validate_skills(changes.skills) if changes.given("skills") else [],
                      sample_payload=self._sample(changes, event_id), created_at=now, created_by=actor,
                      updated_at=now, updated_by=actor)
        self._repo.create(fn)
        return fn

    def update(self, who: Principal, uuid: str, changes: FunctionChanges, *,
               expected_manifest_version: int | None = None, expected_version: int | None = None) -> Function:
        """Apply meta and/or manifest changes; Unchanged if nothing differs, state follows the edit rule."""
        require(who, "lambda", Action.WRITE)
        fn, record_version = self._repo.get(who.account_id, uuid)
        if expected_version is not None and expected_version not in (-1, fn.version):
            raise Conflict(detail=f"function {uuid} is at version {fn.version}, not {expected_version}")
        if expected_manifest_version not in (None, -1, fn.manifest.version):
            raise Conflict(detail=f"manifest of {uuid} is at version {fn.manifest.version}, "
                                  f"not {expected_manifest_version}")
        updated = self._apply_meta(fn, changes)
        manifest = self._apply_manifest(fn.manifest, changes)
        new_manifest = not manifest.same_content(fn.manifest)
        if updated == fn and not new_manifest:
            raise Unchanged()
        now = self._clock.iso()
        if new_manifest:
            manifest = replace(manifest, id=str(uuidlib.uuid4()), version=fn.manifest.version + 1, created_at=now,
                               created_by=who.display_name)
        updated = replace(updated, manifest=manifest, version=fn.version + 1, updated_at=now,
                          updated_by=who.display_name,
                          state=next_state(fn.state, Transition.EDIT, live=fn.live))
        self._repo.save(updated, record_version, new_manifest=new_manifest, old_name=fn.name)
        if new_manifest:
            self._repo.prune_manifests(who.account_id, uuid, limits.VERSIONS_KEPT)
        return updated

    def delete(self, who: Principal, uuid: str) -> None:
        require(who, "lambda", Action.WRITE)
        fn, record_version = self._idle(*self._repo.get(who.account_id, uuid))
        if fn.live:
            raise Conflict(detail="Undeploy the function before deleting it")
        next_state(fn.state, Transition.DELETE, live=fn.live)
        self._repo.delete(fn, record_version)
        for hook in self.on_delete:
            hook(fn.account_id, fn.uuid)

    # -- helpers ------------------------------------------------------------------------------------------------
    def _check_account_limits(self, account_id: str, event_id: str | None) -> None:
        if self._repo.count(account_id) >= limits.FUNCTIONS_PER_ACCOUNT:
            raise LimitReached(detail=f"an account can hold at most {limits.FUNCTIONS_PER_ACCOUNT} functions")
        if event_id:
            bound = len(self._repo.list_meta(account_id, event_id=event_id))
            if bound >= EVENTS_BY_ID[event_id].lambda_limit:
                raise LimitReached(detail=f"event {event_id} allows at most "
                                          f"{EVENTS_BY_ID[event_id].lambda_limit} functions")

    @staticmethod
    def _sample(changes: FunctionChanges, event_id: str | None) -> Any:
        if changes.given("sample_payload") and changes.sample_payload is not None:
            return changes.sample_payload
        event = EVENTS_BY_ID.get(event_id or "")
        return {"headers": [], "payload": event.sample_payload if event else {}}

    @staticmethod
    def _apply_meta(fn: Function, changes: FunctionChanges) -> Function:
        if changes.given("event_id") and _event(changes.event_id) != fn.event_id:
            raise ValidationFailed(detail="eventId can not be changed after creation")
        updated = fn
        if changes.given("name") and changes.name != fn.name:
            updated = replace(updated, name=v.validate_name(changes.name))
        if changes.given("description"):
            updated = replace(updated, description=v.validate_description(changes.description))
        if changes.given("skills"):
            updated = replace(updated, skills=v.validate_skills(changes.skills))
        if changes.given("sample_payload") and changes.sample_payload is not None:
            updated = replace(updated, sample_payload=changes.sample_payload)
        return updated

    def _apply_limits(self, manifest: Manifest, changes: FunctionChanges) -> Manifest:
        """Per-function limits; a value equal to the one in force (0 = the default shown) is no change."""
        c = self._ceilings
        if changes.given("timeout_s") and changes.timeout_s != (manifest.timeout_s or limits.EXECUTION_TIMEOUT_S):
            manifest = replace(manifest, timeout_s=v.validate_timeout(changes.timeout_s, c.timeout_max_s))
        if changes.given("memory_mb") and changes.memory_mb != (manifest.memory_mb or limits.MEMORY_MB):
            manifest = replace(manifest, memory_mb=v.validate_memory(changes.memory_mb, c.memory_max_mb))
        return manifest

    def _apply_manifest(self, manifest: Manifest, changes: FunctionChanges) -> Manifest:
        runtime = _runtime(changes.runtime) if changes.given("runtime") else _runtime(manifest.runtime)
        out = replace(manifest, runtime=runtime.id)
        if changes.given("code"):
            out = replace(out, code=v.validate_code(changes.code, runtime))
        elif out.runtime != manifest.runtime:
            v.validate_code(out.code, runtime)
        if changes.given("environment"):
            out = replace(out, environment=v.validate_environment(changes.environment))
        if changes.given("dependencies"):
            out = replace(out, dependencies=v.validate_dependencies(changes.dependencies))
        return self._apply_limits(out, changes)
