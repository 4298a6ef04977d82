"""fngate's Toolbelt for Python functions: the LivePerson Toolbelt's clients in Python naming, stdlib only.

    from fngate_toolbelt import Toolbelt
    value = Toolbelt.secret_client().read_secret("my-secret")["value"]
    res = Toolbelt.http_client().request("GET", "https://api.example.com/x")   # through the egress proxy

Secrets, CSDS and the context store go through the worker's RPC bridge (``fngate_rpc``) to the gateway; HTTP goes
through the egress proxy. Errors: ToolBeltError(component, code, message) with LivePerson's codes;
ContextServiceError for the context client; RequestError for HTTP exchanges that got no answer.
"""

from __future__ import annotations

import ssl

from ._constants import ConversationContentTypes, ErrorStrategy, LpServices, SDETypes
from ._context import ContextServiceClient
from ._csds import CsdsClient
from ._errors import ContextServiceError, ErrorCodes, OrchestratorError, RequestError, ToolBeltError
from ._http import HTTPClient
from ._lp import LpClient
from ._orchestrator import OrchestratorClient
from ._secrets import SecretClient
from ._transport import Response

_csds: CsdsClient | None = None


def _lazy_csds() -> CsdsClient:
    global _csds
    if _csds is None:
        _csds = CsdsClient()
    return _csds


class Toolbelt:
    """Factories, as the Node Toolbelt's (SecretClient → secret_client, ...)."""

    @staticmethod
    def secret_client(cache_ttl_s: float = 0.0) -> SecretClient:
        return SecretClient(cache_ttl_s)

    @staticmethod
    def http_client(ssl_context: ssl.SSLContext | None = None) -> HTTPClient:
        return HTTPClient(ssl_context)

    @staticmethod
    def lp_client() -> LpClient:
        return LpClient(_lazy_csds(), SecretClient())

    @staticmethod
    def orchestrator_client() -> OrchestratorClient:
        return OrchestratorClient(_lazy_csds(), SecretClient())

    @staticmethod
    def csds_client() -> CsdsClient:
        return _lazy_csds()

    @staticmethod
    def context_service_client(api_key: str) -> ContextServiceClient:
        return ContextServiceClient(api_key)


__all__ = ["ContextServiceClient", "ContextServiceError", "ConversationContentTypes", "CsdsClient", "ErrorCodes",
           "ErrorStrategy", "HTTPClient", "LpClient", "LpServices", "OrchestratorClient", "OrchestratorError",
           "RequestError", "Response", "SDETypes", "SecretClient", "ToolBeltError", "Toolbelt"]
