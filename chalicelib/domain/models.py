"""Plain data of the domain: functions, manifests, deployments, accounts and credentials.

Frozen dataclasses; changes go through ``dataclasses.replace`` so every write is an explicit new value.
"""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Self

from chalicelib.domain.states import State


@functools.cache
def _field_names(cls: type) -> frozenset[str]:
    return frozenset(f.name for f in fields(cls))


class Document:
    """``to_dict``/``from_dict`` for the frozen dataclasses the store keeps as JSON documents: one place for the
    shape; keys a newer version stored and this one does not know are dropped on read."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        return _from_dict(cls, data)


def _from_dict(cls: type, data: dict[str, Any]) -> Any:
    names = _field_names(cls)
    if names.issuperset(data):  # the usual case: nothing to drop
        return cls(**data)
    return cls(**{k: v for k, v in data.items() if k in names})


@dataclass(frozen=True)
class Manifest(Document):
    """One version of a function's code, environment and runtime (V2 `LPFnManifest`)."""

    id: str
    version: int
    runtime: str
    code: str
    environment: dict[str, str] = field(default_factory=dict)
    dependencies: list[dict[str, str]] = field(default_factory=list)
    timeout_s: int = 0  # per-function limits (0 = the gateway's default), taking effect with the deployment
    memory_mb: int = 0
    spec: str = "v1.0.0"
    created_at: str = ""
    created_by: str = ""

    def same_content(self, other: Manifest) -> bool:
        return (self.code, self.environment, self.runtime, self.dependencies, self.timeout_s, self.memory_mb) == (
            other.code, other.environment, other.runtime, other.dependencies, other.timeout_s, other.memory_mb)


@dataclass(frozen=True)
class Deployment(Document):
    """One deployment of one manifest version; kept for history and rollback."""

    id: int
    uuid: str
    account_id: str
    function_uuid: str
    manifest_version: int
    state: str  # "deploying" | "redeploying" | "successful" | "failed" | "undeployed"
    created_at: str
    created_by: str
    updated_at: str = ""
    deployed_at: str = ""
    undeployed_at: str = ""
    error_code: str = ""
    error_message: str = ""
    error_logs: list[dict[str, Any]] = field(default_factory=list)
    manifest: Manifest | None = None  # snapshot of what was deployed, so any deployment can be restored
    restored_from: int | None = None
    job_id: str = ""  # the job carrying it out while active; no such live job = lost, and failed on sight
    build_key: str = ""  # the installed dependency lock it runs with ("" = no dependencies)

    @property
    def active(self) -> bool:
        return self.state in ("deploying", "redeploying", "undeploying")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Deployment:
        data = dict(data)
        if data.get("manifest"):
            data["manifest"] = Manifest.from_dict(data["manifest"])
        return _from_dict(cls, data)


@dataclass(frozen=True)
class Function(Document):
    """A function's meta data plus its current (editable) manifest and what is live."""

    account_id: str
    uuid: str
    name: str
    description: str
    event_id: str | None
    state: State
    manifest: Manifest
    skills: list[str] = field(default_factory=list)
    sample_payload: Any = None
    size: str = "S"
    is_comp_v1: bool = False
    version: int = 1  # bumped on every change; V1 `version`
    created_at: str = ""
    created_by: str = ""
    updated_at: str = ""
    updated_by: str = ""
    live_deployment_id: int | None = None  # the deployment serving invocations
    live_manifest_version: int | None = None
    last_deployment: Deployment | None = None

    @property
    def live(self) -> bool:
        return self.live_deployment_id is not None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["state"] = self.state.value
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Function:
        data = dict(data)
        data["state"] = State(data["state"])
        data["manifest"] = Manifest.from_dict(data["manifest"])
        if data.get("last_deployment"):
            data["last_deployment"] = Deployment.from_dict(data["last_deployment"])
        return _from_dict(cls, data)


@dataclass(frozen=True)
class User(Document):
    account_id: str
    user_id: str
    login_name: str
    password_hash: str
    roles: list[str]
    created_at: str = ""
    disabled: bool = False  # an admin disabled it: no login, its tokens refused (kept, unlike a revoked user)


@dataclass(frozen=True)
class AppKey(Document):
    """OAuth2 client credentials; the secret is stored as a hash, plus sealed when fngate must hand it out again."""

    account_id: str
    client_id: str
    secret_hash: str
    scopes: list[str]
    name: str = ""
    sealed_secret: str = ""  # base64 of the secret sealed by the keyring; empty if not retrievable
    created_at: str = ""


@dataclass(frozen=True)
class Account(Document):
    account_id: str
    created_at: str
    provisioned: bool = False
