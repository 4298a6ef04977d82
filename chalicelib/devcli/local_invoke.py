"""Run a function folder on this machine in the gateway's own worker code (LocalExecutor), with no server.

Secrets come from ``functions/settings.json`` (updates stay in memory for the run), outbound HTTP goes through
the same egress proxy with ``whitelist`` from that file as the allowlist, and context-store data lives in a
scratch store that is gone when the command ends.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from chalicelib.devcli.errors import CliError, Exit
from chalicelib.devcli.project import LocalFunction, Project

LOCAL_ACCOUNT = "local"


class LocalRunner:
    """One executor for a command's lifetime: each run loads the folder as it is now (a new version)."""

    def __init__(self, project: Project, *, insecure_sandbox: bool = False, timeout_s: float = 30.0) -> None:
        from chalicelib import toolbelt
        from chalicelib.clock import Clock
        from chalicelib.runtime.egress import EgressProxy
        from chalicelib.runtime.local.executor import LocalExecutor, SandboxUnavailable
        from chalicelib.services.context_store import ContextStore
        from chalicelib.services.toolbelt_host import ToolbeltHost
        from chalicelib.storage.sqlite import SqliteStore

        self._project, self._version = project, 0
        self._scratch = tempfile.mkdtemp(prefix="fngate-local-")
        self._store = SqliteStore(Path(self._scratch) / "context.db")
        host = ToolbeltHost(ContextStore(self._store, Clock()), self._secret_methods, {}, "")
        self._egress = EgressProxy(lambda _account: project.whitelist(), allowlist_ttl_s=0.0,
                                   socket_path=str(Path(self._scratch) / "egress.sock")).start()
        try:
            self._executor = LocalExecutor(timeout_s=timeout_s, max_workers=4, spares=0, rpc_handler=host,
                                           insecure_sandbox=insecure_sandbox, egress=self._egress,
                                           toolbelt_node_path=toolbelt.NODE_PATH,
                                           toolbelt_python_path=toolbelt.PYTHON_PATH)
        except SandboxUnavailable as err:
            self._cleanup()
            raise CliError(str(err), Exit.USAGE, hint="pass --insecure-sandbox to run without the missing layers "
                                                      "(it is your own code on your own machine)") from None
        except BaseException:
            self._cleanup()
            raise

    def _secret_methods(self, _account: str, _function: str = "") -> dict[str, Callable[[dict[str, Any]], Any]]:
        from chalicelib.domain.errors import SecretNotFound

        secrets = self._project.secrets()

        def read(params: dict[str, Any]) -> dict[str, Any]:
            key = str(params.get("key"))
            if key not in secrets:
                raise SecretNotFound(key=key)  # the toolbelt host turns it into the Toolbelt's error
            return {"key": key, "value": secrets[key]}

        def update(params: dict[str, Any]) -> dict[str, Any]:
            read(params)
            secrets[str(params.get("key"))] = params.get("value")
            return {"key": str(params.get("key")), "value": params.get("value")}

        return {"secret.read": read, "secret.update": update}

    def run(self, fn: LocalFunction, event: dict[str, Any]) -> dict[str, Any]:
        """``{"result", "logs"}`` like a test invocation; a failure raises the domain error (with its logs)."""
        from chalicelib.runtime.base import Target

        self._version += 1
        target = Target(account_id=LOCAL_ACCOUNT, function_uuid=f"local-{fn.name}", manifest_version=self._version,
                        runtime=fn.runtime, code=fn.code, environment=fn.environment, function_name=fn.name,
                        dependencies=tuple(sorted(fn.dependencies.items())))
        if target.dependencies:  # the gateway's build step: resolved, locked, installed (reused while unchanged)
            target = replace(target, build_key=self._executor.build(target))
        if self._version > 1:
            self._executor.undeploy(LOCAL_ACCOUNT, target.function_uuid)
        outcome = self._executor.invoke(target, event)
        return {"result": outcome.result, "logs": outcome.logs}

    def close(self) -> None:
        try:
            self._executor.close()
        finally:
            self._cleanup()

    def _cleanup(self) -> None:
        self._egress.close()
        self._store.close()
        shutil.rmtree(self._scratch, ignore_errors=True)
