"""Toolbelt.context_service_client(api_key): the Conversation Context Service kept by the gateway (RPC
"context.<method>" with params named after the Node client's arguments; the account is always the function's own).
Failures raise ContextServiceError with the context SDK's codes."""

from __future__ import annotations

from typing import Any

from . import _rpc
from ._errors import ContextServiceError

UNKNOWN = "com.liveperson.context-service-sdk.unknown"


def _call(method: str, params: dict[str, Any]) -> Any:
    try:
        return _rpc.call(f"context.{method}", {k: v for k, v in params.items() if v is not None})
    except Exception as err:
        code = _rpc.error_code(err)
        raise ContextServiceError(code if code.startswith("com.liveperson.context-service-sdk.") else UNKNOWN,
                                  _rpc.error_message(err)) from None


class ContextServiceClient:
    def __init__(self, api_key: str) -> None:
        if not api_key:
            raise ValueError("No valid API-key was provided")
        self.api_key = api_key

    def create_namespace(self, namespace: str, ttl: int | None = None) -> dict[str, Any]:
        """{name, createdAt, ttlSecond?}; creating an existing namespace is not an error."""
        return _call("createNamespace", {"namespace": namespace, "options": {"ttl": ttl} if ttl else {}})

    def delete_namespace(self, namespace: str) -> None:
        _call("deleteNamespace", {"namespace": namespace})

    def get_list_of_namespaces(self) -> list[dict[str, Any]]:
        return _call("getListOfNamespaces", {})

    def set_properties_in_namespace(self, namespace: str, properties: dict[str, Any],
                                    session_id: str | None = None) -> dict[str, Any]:
        """Merge properties into the session; returns all of its properties."""
        return _call("setPropertiesInNamespace", {"namespace": namespace, "properties": properties,
                                                  "sessionId": session_id})

    def update_properties_in_namespace(self, namespace: str, properties: dict[str, Any],
                                       session_id: str | None = None) -> dict[str, Any]:
        return _call("updatePropertiesInNamespace", {"namespace": namespace, "properties": properties,
                                                     "sessionId": session_id})

    def get_all_properties_in_session(self, namespace: str, session_id: str | None = None) -> dict[str, Any]:
        return _call("getAllPropertiesInSession", {"namespace": namespace, "sessionId": session_id})

    def get_selected_properties_in_session(self, namespace: str, property_names: list[str],
                                           session_id: str | None = None) -> dict[str, Any]:
        return _call("getSelectedPropertiesInSession", {"namespace": namespace, "propertyNames": property_names,
                                                        "sessionId": session_id})

    def get_property_in_session(self, namespace: str, property_name: str, session_id: str | None = None) -> Any:
        return _call("getPropertyInSession", {"namespace": namespace, "propertyName": property_name,
                                              "sessionId": session_id})

    def delete_property_in_session(self, namespace: str, property_name: str, session_id: str | None = None) -> None:
        _call("deletePropertyInSession", {"namespace": namespace, "propertyName": property_name,
                                          "sessionId": session_id})

    def delete_session(self, namespace: str, session_id: str) -> None:
        _call("deleteSession", {"namespace": namespace, "sessionId": session_id})

    def get_list_of_sessions(self, namespace: str) -> list[str]:
        return _call("getListOfSessions", {"namespace": namespace})
