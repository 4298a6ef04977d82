"""The error catalogue: every error a client can see, with its HTTP status and both dialects' codes.

Only ``api/`` renders these; services and backends raise them. Codes come from spec/external-invocation.md §5.3
and spec/management-api.md; the ones marked "ours" have no public source.
"""

from __future__ import annotations

from typing import Any

GENERIC_FUNCTION_FAILURE = "Function Invocation failed due to an issue caused by customer coding"


class FngateError(Exception):
    """Base of every client-visible error."""

    status = 500
    v1_status: int | None = None  # a different status for the V1 dialect (e.g. 304 for an unchanged push)
    v1_code = "com.liveperson.faas.es.general"
    v2_code = "com.liveperson.faas.evg.general"
    template = "Internal error"
    retry_after: int | None = None

    def __init__(self, message: str | None = None, **fields: Any) -> None:
        self.fields = fields
        super().__init__(message if message is not None else self.template.format(**fields))

    @property
    def message(self) -> str:
        return str(self)


# -- 400 family: the request is wrong -------------------------------------------------------------------------
class BadInput(FngateError):
    status, template = 400, "{detail}"
    v1_code, v2_code = "com.liveperson.faas.es.badinput", "com.liveperson.faas.evg.invalid"


class ValidationFailed(BadInput):
    """A function, secret or setting breaks a validation rule (management-api.md §7)."""

    v1_code = v2_code = "com.liveperson.faas.fm.validation.invalid"


class InterfaceWrong(ValidationFailed):
    """The code does not start with the runtime's entry-point declaration."""

    v1_code = "com.liveperson.faas.fm.validation.contract-error"
    v2_code = "com.liveperson.faas.fm.validation.interface-wrong"


class PayloadTooLarge(BadInput):
    status, template = 413, "Request body exceeds {limit} bytes"


class BodyTimedOut(BadInput):
    """The request's body did not arrive in time (external-invocation.md §5.2: 408)."""

    status, template = 408, "Request body not received within {seconds} s"


# -- auth ------------------------------------------------------------------------------------------------------
class NotAuthenticated(FngateError):
    status, template = 401, "{detail}"
    v1_code, v2_code = "com.liveperson.faas.es.unauthorized", "com.liveperson.faas.evg.unauthorized"  # ours


class InvalidClient(NotAuthenticated):
    """Bad client credentials on the token endpoint; rendered as an OAuth2 error body."""

    template = "Client authentication failed"


class Forbidden(FngateError):
    status, template = 403, "Not allowed to {action} {component}"
    v1_code, v2_code = "com.liveperson.faas.es.forbidden", "com.liveperson.faas.evg.forbidden"  # ours


# -- 404 family ------------------------------------------------------------------------------------------------
class NotFound(FngateError):
    status, template = 404, "{what} {key} not found"
    v1_code, v2_code = "com.liveperson.faas.es.notfound", "com.liveperson.faas.evg.not-found"  # ours


class FunctionNotFound(NotFound):
    template = "There is no {uuid} deployed on {account_id}"
    v1_code, v2_code = "com.liveperson.faas.es.missinglambda", "com.liveperson.faas.function.not-found"


class NotDeployed(FunctionNotFound):
    v1_code = "com.liveperson.faas.es.notdeployed"


class RouteNotFound(NotFound):
    template = "No route for {method} {path}"


class MethodNotAllowed(FngateError):
    status, template = 405, "Method {method} is not allowed on {path}"
    v1_code, v2_code = "com.liveperson.faas.es.methodnotallowed", "com.liveperson.faas.evg.method-not-allowed"


# -- 409 family: the current state forbids it ---------------------------------------------------------------------
class Conflict(FngateError):
    status, template = 409, "{detail}"
    v1_code, v2_code = "com.liveperson.faas.fm.conflict", "com.liveperson.faas.function.conflict"  # ours


class NameTaken(Conflict):
    template = "A function named {name} already exists on this account"
    v1_code = v2_code = "com.liveperson.faas.fm.validation.name-not-unique"


class VersionConflict(Conflict):
    template = "{what} was changed concurrently; reload it and try again"
    v1_code = v2_code = "com.liveperson.faas.fm.version-conflict"


class Unchanged(Conflict):
    """Nothing changed: V1 answers 304 (the CLI shows "Push Skipped"), V2 the `unchanged` code."""

    v1_status, template = 304, "Nothing changed"
    v1_code = v2_code = "com.liveperson.faas.function.unchanged"


class InvalidTransition(Conflict):
    template = "Can not {action} a function in state {state}"
    v1_code = v2_code = "com.liveperson.faas.fm.invalid-state"


class DeploymentActive(Conflict):
    template = "Can not deploy a lambda during an active deployment"
    v1_code = v2_code = "com.liveperson.faas.fm.deployment-active"


class LimitReached(Conflict):
    template = "{detail}"
    v1_code = v2_code = "com.liveperson.faas.fm.limit-reached"


# -- load ------------------------------------------------------------------------------------------------------
class TooManyRequests(FngateError):
    status, template = 429, "{detail}"
    v1_code, v2_code = "com.liveperson.faas.es.toomanyrequests", "com.liveperson.faas.evg.too-many-requests"

    def __init__(self, message: str | None = None, *, retry_after: int = 1, **fields: Any) -> None:
        super().__init__(message, **fields)
        self.retry_after = retry_after


class Unavailable(FngateError):
    status, template = 503, "{detail}"
    v1_code, v2_code = "com.liveperson.faas.es.unavailable", "com.liveperson.faas.evg.unavailable"


# -- 901 family: the function failed -----------------------------------------------------------------------------
class FunctionFailed(FngateError):
    """The function's own code failed; never a status the client retries."""

    status, template = 901, GENERIC_FUNCTION_FAILURE
    v1_code, v2_code = "com.liveperson.faas.handler.custom-failure", "com.customer.faas.function.threw-error"

    def __init__(self, message: str | None = None, *, logs: list[dict[str, Any]] | None = None, **fields: Any):
        super().__init__(message or None, **fields)
        self.logs = logs or []


class RuntimeException(FunctionFailed):
    v1_code, v2_code = "com.liveperson.faas.handler.runtime-exception", "com.customer.faas.function.js-runtime-error"


class ExecutionTimeExceeded(FunctionFailed):
    template = "Lambda Execution is taking too long"
    v1_code = "com.liveperson.faas.handler.executiontime-exceeded"
    v2_code = "com.customer.faas.function.execution-exceeded"


class LogLimitReached(FunctionFailed):
    template = "Function exceeded the log limits"
    v1_code = "com.liveperson.faas.handler.log-limit-reached"
    v2_code = "com.liveperson.faas.function.runtime.limit-reached"


FUNCTION_FAILURES: dict[str, type[FunctionFailed]] = {
    "custom-failure": FunctionFailed,
    "runtime-exception": RuntimeException,
    "timeout": ExecutionTimeExceeded,
    "log-limit": LogLimitReached,
}
"""Worker-reported failure kinds → error classes; every executor reports one of these keys."""


# -- deployment outcomes (recorded on the function, shown by the UI and CLI) --------------------------------------
class BuildFailed(FngateError):
    """The code cannot be loaded (syntax error, missing entry point)."""

    status, template = 400, "{detail}"
    v1_code = v2_code = "com.liveperson.faas.fm.build-failed"  # ours


class DeployFailed(FngateError):
    """The platform could not make the function runnable."""

    status, template = 500, "{detail}"
    v1_code = v2_code = "com.liveperson.faas.fm.deploy-failed"  # ours


# -- secrets and allowlist (runtime-and-toolbelt.md §2, management-api.md §5) --------------------------------------
class SecretNotFound(NotFound):
    template = "There is no secret {key} for this account"
    v1_code = v2_code = "com.liveperson.faas.secret.not-found"


class SecretInvalidFormat(ValidationFailed):
    template = "{detail}"
    v1_code = v2_code = "com.liveperson.faas.secret.invalid-format"


class SecretForbidden(Forbidden):
    """System secrets (provisioned app keys) cannot be changed from a function."""

    template = "Secret {key} is a system secret and cannot be updated from a function"
    v1_code = v2_code = "com.liveperson.faas.secret.forbidden"


class SecretNotForFunction(SecretForbidden):
    """The secret lists the functions that may use it, and the caller is not one of them (ours)."""

    template = "This function is not among those allowed to use secret {key}"


class SecretExists(Conflict):
    template = "A secret {key} already exists on this account"
    v1_code = v2_code = "com.liveperson.faas.secret.already-exists"  # ours


class UserExists(Conflict):
    template = "User {login} exists on this account"
    v1_code = v2_code = "com.liveperson.faas.user.already-exists"  # ours


class AppKeyExists(Conflict):
    template = "App key {name} exists on this account: revoke it or pick another name"
    v1_code = v2_code = "com.liveperson.faas.appkey.already-exists"  # ours


class DomainNotFound(NotFound):
    template = "There is no allowlisted domain with id {id} on this account"
    v1_code = v2_code = "com.liveperson.faas.proxy-settings.not-found"  # ours


class DomainExists(Conflict):
    template = "Domain {domain} is already allowlisted on this account"
    v1_code = v2_code = "com.liveperson.faas.proxy-settings.duplicate"  # ours


class BotNotFound(NotFound):
    template = "There is no bot {bot_id} on this account"
    v1_code = v2_code = "com.liveperson.faas.bot.not-found"  # ours


class BotExists(Conflict):
    template = "A bot {bot_id} already exists on this account"
    v1_code = v2_code = "com.liveperson.faas.bot.already-exists"  # ours


class BotInvalid(ValidationFailed):
    template = "{detail}"
    v1_code = v2_code = "com.liveperson.faas.bot.invalid"  # ours
