"""The one place that knows the worker's RPC bridge: ``import fngate_rpc``; ``call(method, params)`` blocks and
raises ``fngate_rpc.RpcError`` (``.code``, ``.message``) on failure (chalicelib/runtime/local/protocol.py)."""

from __future__ import annotations

import os
import uuid
from typing import Any

NO_BRIDGE = "com.fngate.rpc.unavailable"


class BridgeError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


def call(method: str, params: dict[str, Any] | None = None) -> Any:
    """Ask the gateway; errors keep the host's code."""
    try:
        import fngate_rpc  # type: ignore[import-not-found]
    except ImportError:
        raise BridgeError(NO_BRIDGE, "The toolbelt runs outside an fngate worker (no RPC bridge)") from None
    return fngate_rpc.call(method, params or {})


def account_id() -> str:
    """The invoked function's account, from the runtime variables the platform sets."""
    return os.environ.get("X_LIVEPERSON_BRAND_ID") or os.environ.get("X_LIVEPERSON_PROJECT_ID") or ""


def trace_id() -> str:
    return str(uuid.uuid4())


def error_code(err: BaseException) -> str:
    return str(getattr(err, "code", "") or "")


def error_message(err: BaseException) -> str:
    return str(getattr(err, "message", "") or err)
