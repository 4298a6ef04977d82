"""A function's dependencies inside its Lambda: installed into the container's /tmp, once per container.

Why here and not baked into an image: one image serves every function, and the gateway (a Lambda without npm)
cannot build Node packages. So the function's own container builds them with the very builder the local gateway
uses (chalicelib/runtime/deps.py, shipped in the image: lock first, wheels only, no install scripts, the
operator's allow/deny globs and size cap), its installers going out through the egress proxy like any traffic
of the function — the account's allowlist must name its registry. At deploy the gateway has the Lambda build once
and keeps the lock key it reports (``Executor.build``); every cold start must arrive at the same key, or the
shim refuses to run the function (a registry that changed under a declaration shows as an error, never as a
silent upgrade; a redeploy takes the new lock).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = "/tmp/fngate-deps"
REGISTRIES = {"python": "pypi.org and files.pythonhosted.org", "node": "registry.npmjs.org"}
PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy")


class InstallError(Exception):
    """The installer failed (its message), or a package broke the operator's rules: a build error."""


class DriftError(Exception):
    """The dependencies resolved to another lock than the one deployed."""


@contextlib.contextmanager
def _proxied(proxy_env: dict[str, str]) -> Iterator[None]:
    """pip and npm read the proxy from the environment (the builder passes these variables on)."""
    saved = {name: os.environ.get(name) for name in PROXY_VARS}
    os.environ.update(proxy_env)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def install(language: str, deps: dict[str, Any], proxy_env: dict[str, str], root: str = ROOT) -> tuple[str, Path]:
    """(the lock key, the installed directory); raises BuildFailed (the installer's message) or DriftError."""
    from chalicelib.domain.errors import FngateError  # in the image beside the shim
    from chalicelib.runtime.deps import BuildLimits, DependencyBuilder

    limits = deps.get("limits") or {}
    builder = DependencyBuilder(root, BuildLimits(
        max_bytes=int(limits.get("max_bytes", BuildLimits.max_bytes)),
        timeout_s=float(limits.get("timeout_s", BuildLimits.timeout_s)),
        allow=tuple(limits.get("allow") or ()), deny=tuple(limits.get("deny") or ())), build_uid=None)
    declared = deps.get("declared") or {}
    try:
        with _proxied(proxy_env):
            key = builder.build(language, [{"key": name, "value": spec} for name, spec in declared.items()])
    except FngateError as err:
        hint = (f" (installers go out through the egress proxy: the account's allowlist must name "
                f"{REGISTRIES.get(language, 'the registry')})") if proxy_env else ""
        raise InstallError(err.message + hint) from None
    expected = str(deps.get("key") or "")
    if expected and key != expected:
        raise DriftError(f"The dependencies now resolve to {key}, not to {expected} as at deploy: redeploy the "
                         "function to take the new lock")
    return key, builder.path(key)


def worker_paths(language: str, installed: Path) -> tuple[str, str]:
    """(extra python sys.path entry, extra NODE_PATH entry) for a worker using ``installed``."""
    if language == "node":
        return "", str(installed / "node_modules")
    return str(installed), ""
