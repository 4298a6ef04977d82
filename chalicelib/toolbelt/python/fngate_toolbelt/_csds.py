"""Toolbelt.csds_client(): service discovery answered by the gateway (RPC "csds.get" {service} →
{service, host, scheme}; "csds.all" → [{service, host, scheme}]). Cached 10 minutes, as LivePerson's client."""

from __future__ import annotations

import time
from typing import Any

from . import _rpc
from ._errors import ErrorCodes, ToolBeltError

COMPONENT = "CSDS-Client"


class CsdsClient:
    def __init__(self, ttl_s: float = 600.0) -> None:
        self._ttl = ttl_s
        self._entries: dict[str, tuple[dict[str, str], float]] = {}

    def get(self, service: str) -> str:
        """host[:port] of the service."""
        return self.resolve(service)["host"]

    def resolve(self, service: str) -> dict[str, str]:
        """{service, host, scheme}."""
        hit = self._entries.get(service)
        if hit and time.monotonic() - hit[1] < self._ttl:
            return hit[0]
        try:
            entry = _rpc.call("csds.get", {"service": service})
        except Exception as err:
            if _rpc.error_code(err) == ErrorCodes.Csds.NotFound:
                raise ToolBeltError(COMPONENT, ErrorCodes.Csds.NotFound,
                                    f'Service "{service}" could not be found.') from None
            raise ToolBeltError(COMPONENT, ErrorCodes.Csds.Failure, _rpc.error_message(err)) from None
        resolved = {"service": service, "host": entry["host"], "scheme": entry.get("scheme") or "https"}
        self._entries[service] = (resolved, time.monotonic())
        return resolved

    def base_url(self, service: str) -> str:
        entry = self.resolve(service)
        return f"{entry['scheme']}://{entry['host']}"

    def get_all(self) -> list[dict[str, Any]]:
        """[{service: host}], as LivePerson's client returns them."""
        try:
            entries = _rpc.call("csds.all", {})
        except Exception as err:
            raise ToolBeltError(COMPONENT, ErrorCodes.Csds.Failure, _rpc.error_message(err)) from None
        return [{e["service"]: e["host"]} for e in entries]
