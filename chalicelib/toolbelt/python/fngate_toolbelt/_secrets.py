"""Toolbelt.secret_client(): read and update the account's secrets through the gateway (RPC "secret.read" {key},
"secret.update" {key, value}; both answer {key, value}).

No cache by default: a read is a pipe round trip to the gateway, and a rotated secret must be seen on the next read.
``cache_ttl_s`` opts into a per-process cache (LivePerson caches for 5 minutes); update_secret refreshes it.
"""

from __future__ import annotations

import json
import time
from typing import Any

from . import _rpc
from ._constants import MAX_SECRET_SIZE, SYSTEM_SECRET_PREFIX
from ._errors import SECRET_CODES, ErrorCodes, ToolBeltError

COMPONENT = "SecretClient"
_cache: dict[str, tuple[Any, float]] = {}  # key → (value, monotonic time); shared by the process's clients


def _error(code: str, message: str) -> ToolBeltError:
    return ToolBeltError(COMPONENT, code, message)


def _host_error(err: Exception, doing: str) -> ToolBeltError:
    code = _rpc.error_code(err)
    if code in SECRET_CODES:
        return _error(code, _rpc.error_message(err))
    return _error(ErrorCodes.Secret.Failure, f"{doing} failed: {_rpc.error_message(err)}")


class SecretClient:
    def __init__(self, cache_ttl_s: float = 0.0) -> None:
        self._ttl = max(0.0, float(cache_ttl_s or 0))

    def read_secret(self, key: str, use_cache: bool = True) -> dict[str, Any]:
        """{key, value}; ToolBeltError with the spec's secret codes on failure."""
        hit = _cache.get(key)
        if use_cache and self._ttl and hit and time.monotonic() - hit[1] < self._ttl:
            return {"key": key, "value": hit[0]}
        try:
            result = _rpc.call("secret.read", {"key": key})
        except Exception as err:
            raise _host_error(err, f"Reading secret {key}") from None
        _cache[key] = (result["value"], time.monotonic())
        return {"key": result["key"], "value": result["value"]}

    def update_secret(self, key: str | dict[str, Any], value: Any = None) -> dict[str, Any]:
        """Update an existing, non-system secret: ``update_secret(key, value)`` or ``update_secret({key, value})``."""
        if isinstance(key, dict):
            value = key.get("value")
            key = str(key.get("key", ""))
        _check_updatable(key, value)
        try:
            result = _rpc.call("secret.update", {"key": key, "value": value})
        except Exception as err:
            raise _host_error(err, f"Updating secret {key}") from None
        _cache[key] = (result["value"], time.monotonic())
        return {"key": result["key"], "value": result["value"]}


def _check_updatable(key: Any, value: Any) -> None:
    """LivePerson's client-side checks; the gateway checks again (it is the boundary)."""
    if not isinstance(key, str) or not key:
        raise _error(ErrorCodes.Secret.Invalid, "A secret key is required")
    if key.startswith(SYSTEM_SECRET_PREFIX):
        raise _error(ErrorCodes.Secret.SystemSecret, "You are not allowed to update secrets added by the system")
    try:
        text = json.dumps(value, separators=(",", ":"))
    except (TypeError, ValueError) as err:
        raise _error(ErrorCodes.Secret.Invalid, f"Provided secret value cannot be stringified: {err}") from None
    if len(text) > MAX_SECRET_SIZE:
        raise _error(ErrorCodes.Secret.Invalid, "Provided secret value exceeds allowed length of 16kb")
