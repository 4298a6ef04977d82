"""Error codes and classes with LivePerson's names (the Node toolbelt's lib/errors.js, in Python)."""

from __future__ import annotations

from typing import Any


class _Codes:
    """Namespaces of string constants, spelled as LivePerson's ErrorCodes object."""

    class Secret:
        Invalid = "com.liveperson.faas.secret.invalid-format"
        Failure = "com.liveperson.faas.secret.op-failed"
        Timeout = "com.liveperson.faas.secret.op-timed-out"
        NotFound = "com.liveperson.faas.secret.not-found"
        AuthFailure = "com.liveperson.faas.secret.auth-failed"
        SystemSecret = "com.liveperson.faas.secret.forbidden"

    class Csds:
        NotFound = "com.liveperson.faas.csds.domain.not-found"
        Failure = "com.liveperson.faas.csds.op-failed"

    class OAuth2:
        General = "com.liveperson.faas.oauth2.general-issue"
        UnexpectedResponse = "com.liveperson.faas.oauth2.unexpected-response"

    class LpClient:
        class Creds:
            Format = "com.liveperson.faas.lp-client.credentials-wrong-format"
            Failure = "com.liveperson.faas.lp-client.get-credentials-failure"

    class OrchestratorFN:
        General = "com.liveperson.faas.orchestrator-fn-general"
        Timeout = "com.liveperson.faas.orchestrator-fn.invoke.timeout"

        class Invocation:
            StatusError = "com.liveperson.faas.orchestrator-fn.invoke.status-code-error"

        class Creds:
            Format = "com.liveperson.faas.orchestrator-fn.credentials-wrong-format"
            Failure = "com.liveperson.faas.orchestrator-fn.get-credentials-failure"


ErrorCodes = _Codes
SECRET_CODES = frozenset(v for k, v in vars(_Codes.Secret).items() if not k.startswith("_"))


class ToolBeltError(Exception):
    """Every toolbelt failure: ``component``, ``code`` and the message ``"{component}: {message}"`` (spec §2)."""

    def __init__(self, component: str, code: str, message: str) -> None:
        super().__init__(f"{component}: {message}")
        self.component, self.code = component, code
        self.message = f"{component}: {message}"


class OrchestratorError(ToolBeltError):
    """A failed invocation; carries the invoked function's answer when there was one."""

    def __init__(self, code: str, message: str, status_code: int | None = None, body: Any = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__("Orchestrator-FN", code, message)
        self.status_code, self.body, self.headers = status_code, body, headers


class ContextServiceError(Exception):
    """What the context service client raises (LivePerson's SDKError): the SDK's code and message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


class RequestError(Exception):
    """An HTTP exchange that got no answer: ``code`` is errno-like (ETIMEDOUT, ECONNREFUSED, EPROXY, ...)."""

    def __init__(self, code: str, message: str, proxy_status: int | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.proxy_status = code, message, proxy_status
