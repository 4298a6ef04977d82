"""The Executor protocol: how services deploy, run and retire function versions, whatever runs them.

The programming model (input shape, callback semantics, error kinds, limits) is defined in domain/ and every
executor honours it: failures come back as domain errors from chalicelib.domain.errors (FunctionFailed family
for the function's own faults, TooManyRequests for overload, Unavailable for platform faults).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from chalicelib.domain.errors import FUNCTION_FAILURES, RuntimeException


@dataclass(frozen=True)
class Target:
    """One deployable unit: a function at one manifest version. Workers never serve two targets."""

    account_id: str
    function_uuid: str
    manifest_version: int
    runtime: str  # Runtime.id, e.g. "nodejs20" / "python3.11"
    code: str
    environment: dict[str, str] = field(default_factory=dict)
    function_name: str = ""
    dependencies: tuple[tuple[str, str], ...] = ()  # declared (name, version spec)
    build_key: str = ""  # the installed lock (Executor.build), "" without dependencies
    timeout_s: float = 0  # per-function limits; 0 = the executor's default
    memory_mb: int = 0

    @property
    def key(self) -> str:
        key = f"{self.account_id}/{self.function_uuid}/{self.manifest_version}"
        return f"{key}+{self.build_key}" if self.build_key else key


@dataclass(frozen=True)
class Outcome:
    """A successful run: the function's result (any JSON value) and its captured log records."""

    result: Any
    logs: list[dict[str, Any]] = field(default_factory=list)
    duration_ms: float = 0.0


_MESSAGE_KINDS = ("custom-failure", "runtime-exception")  # kinds whose message is the function's own text


def outcome_from_result(message: dict[str, Any], duration_ms: float) -> Outcome:
    """A worker's result message → an Outcome, or the domain error its failure kind stands for (every executor)."""
    logs = message.get("logs") or []
    if message.get("ok"):
        return Outcome(result=message.get("result"), logs=logs, duration_ms=duration_ms)
    kind = str(message.get("kind"))
    error = FUNCTION_FAILURES.get(kind, RuntimeException)
    raise error(message.get("message") if kind in _MESSAGE_KINDS else None, logs=logs)


class Executor(Protocol):
    def build(self, target: Target) -> str:
        """Resolve, lock and install the target's dependencies; the key of the installed lock ("" for none).
        Raises BuildFailed with the installer's message."""
        ...

    def deploy(self, target: Target) -> None:
        """Make ``target`` ready to run (build/compile/check); raises BuildFailed or DeployFailed."""
        ...

    def undeploy(self, account_id: str, function_uuid: str) -> None:
        """Retire every version of the function; idempotent."""
        ...

    def invoke(self, target: Target, event: dict[str, Any], *, timeout_s: float | None = None) -> Outcome:
        """Run once. Raises FunctionFailed subclasses (carrying logs), TooManyRequests or Unavailable."""
        ...

    def close(self) -> None:
        ...
