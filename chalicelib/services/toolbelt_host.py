"""The gateway side of the Toolbelt: answers the RPCs that functions' toolbelt clients send through their worker.

Plugged in as the local executor's ``rpc_handler(target, method, params)``. The account is taken ONLY from the
target (the function being invoked), never from ``params``, so a function reaches its own account's secrets and
context data and nothing else. Methods (params → result):

* ``secret.read`` {key} → {key, value}; ``secret.update`` {key, value} → {key, value}: delegated to
  ``secret_methods_for(account_id, function_uuid)`` (SecretService.rpc_methods); no host for them →
  ``...secret.op-failed``.
* ``csds.get`` {service} → {service, host, scheme}; ``csds.all`` {} → [{service, host, scheme}]: faasGW, faasUI,
  faasGWV2, sentinel and agentVep are this gateway (``self_host``); the rest come from the domain map, whose
  values may be ``host``, ``host:port`` or ``scheme://host[:port]`` (scheme defaults to https).
* ``context.<method>`` (the ContextServiceClient's 11 methods, params named after their arguments) → ContextStore.

Every failure is an RpcError (``.code``/``.message``), which the executor hands back to the function.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from chalicelib.domain.errors import FngateError
from chalicelib.runtime.base import Target
from chalicelib.services.context_store import ContextError, ContextStore

log = logging.getLogger("fngate.toolbelt")

SecretMethods = dict[str, Callable[[dict[str, Any]], Any]]
SELF_SERVICES = ("faasGW", "faasUI", "faasGWV2", "sentinel", "agentVep")  # as the CSDS endpoint answers them
UNKNOWN_RPC = "com.liveperson.faas.handler.unknown-rpc"
SECRET_OP_FAILED = "com.liveperson.faas.secret.op-failed"
CSDS_NOT_FOUND = "com.liveperson.faas.csds.domain.not-found"
CONTEXT_INTERNAL = "com.liveperson.context-service-sdk.internal-server-error"
ROUTE = "/api/account/{account_id}/functions/{uuid}/toolbelt"  # where functions on AWS Lambda send these RPCs


def route_path(account_id: str, function_uuid: str) -> str:
    """The Toolbelt route's path for one function (api/toolbelt.py serves it; the AWS executor hands it out)."""
    return ROUTE.format(account_id=account_id, uuid=function_uuid)


class RpcError(Exception):
    """A failed RPC as the worker reports it to the function: a toolbelt error code and a message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


def parse_domain(value: str, default_scheme: str = "https") -> tuple[str, str]:
    """``https://host:port/x`` → ("https", "host:port"); a bare ``host[:port]`` gets ``default_scheme``."""
    scheme, sep, rest = value.strip().partition("://")
    if not sep:
        scheme, rest = default_scheme, value.strip()
    return scheme.lower(), rest.split("/", 1)[0]


class ToolbeltHost:
    """Dispatches toolbelt RPCs for one gateway; stateless apart from its collaborators."""

    def __init__(self, context_store: ContextStore,
                 secret_methods_for: Callable[[str, str], SecretMethods] | None,
                 domain_map: Mapping[str, str], self_host: str, self_scheme: str = "http") -> None:
        self._context, self._secrets_for = context_store, secret_methods_for
        self._services: dict[str, tuple[str, str, str]] = {}  # lower-case name → (name, scheme, host)
        for name, value in domain_map.items():
            if value and value.strip():
                self._services[name.lower()] = (name, *parse_domain(value))
        if self_host:
            for name in SELF_SERVICES:
                self._services[name.lower()] = (name, self_scheme, self_host)
        self._context_methods = _context_methods(context_store)

    def __call__(self, target: Target, method: str, params: Any) -> Any:
        return self.call(target.account_id, target.function_uuid, method, params)

    def call(self, account_id: str, function_uuid: str, method: str, params: Any) -> Any:
        """One RPC for this function of this account (the executor's pipe and the gateway's Toolbelt route)."""
        params = params if params is not None else {}
        if not isinstance(params, dict):
            raise RpcError(_invalid_code(method), "RPC params must be an object")
        if method.startswith("secret."):
            return self._secret(account_id, function_uuid, method, params)
        if method.startswith("context."):
            return self._context_call(account_id, method, params)
        if method == "csds.get":
            return self.resolve(params.get("service"))
        if method == "csds.all":
            return [self._entry(*self._services[k]) for k in sorted(self._services)]
        raise RpcError(UNKNOWN_RPC, f"Unknown toolbelt method {method!r}")

    def resolve(self, service: Any) -> dict[str, str]:
        """One CSDS entry, matched case-insensitively (LivePerson's names mix cases: faasGW, Msdkgw)."""
        found = self._services.get(service.lower()) if isinstance(service, str) else None
        if found is None:
            raise RpcError(CSDS_NOT_FOUND, f'Service "{service}" could not be found.')
        return self._entry(*found)

    # -- internals ---------------------------------------------------------------------------------------------------
    @staticmethod
    def _entry(name: str, scheme: str, host: str) -> dict[str, str]:
        return {"service": name, "host": host, "scheme": scheme}

    def _secret(self, account_id: str, function_uuid: str, method: str, params: dict[str, Any]) -> Any:
        if self._secrets_for is None:
            raise RpcError(SECRET_OP_FAILED, "This gateway has no secret store for functions")
        handler = self._secrets_for(account_id, function_uuid).get(method)
        if handler is None:
            raise RpcError(UNKNOWN_RPC, f"Unknown toolbelt method {method!r}")
        try:
            return handler(params)
        except FngateError as err:  # not-found, invalid-format, forbidden: the codes the spec lists
            raise RpcError(err.v1_code, err.message) from None
        except Exception:
            log.exception("secret RPC %s failed for account %s", method, account_id)
            raise RpcError(SECRET_OP_FAILED, "The secret operation failed") from None

    def _context_call(self, account_id: str, method: str, params: dict[str, Any]) -> Any:
        handler = self._context_methods.get(method)
        if handler is None:
            raise RpcError(UNKNOWN_RPC, f"Unknown toolbelt method {method!r}")
        try:
            return handler(account_id, params)
        except ContextError as err:
            raise RpcError(err.code, err.message) from None
        except Exception:
            log.exception("context RPC %s failed for account %s", method, account_id)
            raise RpcError(CONTEXT_INTERNAL, "Internal Server Error occurred during processing request") from None


ContextHandler = Callable[[str, dict[str, Any]], Any]


def _context_methods(cs: ContextStore) -> dict[str, ContextHandler]:
    """RPC name → call; params are named after the ContextServiceClient's arguments."""
    def opts(p: dict[str, Any]) -> Any:
        options = p.get("options")
        return options.get("ttl") if isinstance(options, dict) else None

    table: dict[str, ContextHandler] = {
        "createNamespace": lambda a, p: cs.create_namespace(a, p.get("namespace"), opts(p)),
        "deleteNamespace": lambda a, p: cs.delete_namespace(a, p.get("namespace")),
        "getListOfNamespaces": lambda a, p: cs.list_namespaces(a),
        "setPropertiesInNamespace": lambda a, p: cs.set_properties(a, p.get("namespace"), p.get("properties"),
                                                                   p.get("sessionId")),
        "updatePropertiesInNamespace": lambda a, p: cs.set_properties(a, p.get("namespace"), p.get("properties"),
                                                                      p.get("sessionId")),
        "getAllPropertiesInSession": lambda a, p: cs.get_all(a, p.get("namespace"), p.get("sessionId")),
        "getSelectedPropertiesInSession": lambda a, p: cs.get_selected(a, p.get("namespace"), p.get("propertyNames"),
                                                                       p.get("sessionId")),
        "getPropertyInSession": lambda a, p: cs.get_property(a, p.get("namespace"), p.get("propertyName"),
                                                             p.get("sessionId")),
        "deletePropertyInSession": lambda a, p: cs.delete_property(a, p.get("namespace"), p.get("propertyName"),
                                                                   p.get("sessionId")),
        "deleteSession": lambda a, p: cs.delete_session(a, p.get("namespace"), p.get("sessionId")),
        "getListOfSessions": lambda a, p: cs.list_sessions(a, p.get("namespace")),
    }
    return {f"context.{name}": handler for name, handler in table.items()}


def _invalid_code(method: str) -> str:
    if method.startswith("secret."):
        return "com.liveperson.faas.secret.invalid-format"
    if method.startswith("context."):
        return "com.liveperson.context-service-sdk.parameter.invalid"
    return UNKNOWN_RPC
