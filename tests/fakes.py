"""Hand-made fakes handed in through constructors (never patched in)."""

from __future__ import annotations

from typing import Any

from chalicelib.domain.errors import BuildFailed, DeployFailed, FunctionFailed
from chalicelib.runtime.base import Outcome, Target


class FakeExecutor:
    """Records deployments; 'runs' a function by echoing its input unless told to fail."""

    def __init__(self) -> None:
        self.deployed: dict[str, Target] = {}
        self.undeployed: list[str] = []
        self.fail_build: str | None = None
        self.fail_deploy: str | None = None
        self.invocations: list[tuple[Target, dict[str, Any]]] = []

    def build(self, target: Target) -> str:
        return f"lock-{len(target.dependencies)}" if target.dependencies else ""

    def deploy(self, target: Target) -> None:
        if self.fail_build:
            raise BuildFailed(detail=self.fail_build)
        if self.fail_deploy:
            raise DeployFailed(detail=self.fail_deploy)
        self.deployed[target.key] = target

    def undeploy(self, account_id: str, function_uuid: str) -> None:
        self.undeployed.append(function_uuid)
        self.deployed = {k: t for k, t in self.deployed.items() if t.function_uuid != function_uuid}

    def invoke(self, target: Target, event: dict[str, Any], *, timeout_s: float | None = None) -> Outcome:
        self.invocations.append((target, event))
        payload = event.get("payload")
        if isinstance(payload, dict) and payload.get("fail"):
            raise FunctionFailed(str(payload["fail"]), logs=[{"level": "Error", "message": "failing",
                                                               "extras": [], "timestamp": 0}])
        return Outcome(result={"echo": payload, "code_version": target.manifest_version},
                       logs=[{"level": "Info", "message": "ran", "extras": [], "timestamp": 0}])

    def close(self) -> None:
        pass
