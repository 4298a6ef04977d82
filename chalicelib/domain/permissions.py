"""Who may do what: the permission matrix of spec/management-api.md §8, row for row, in one table."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from chalicelib.domain.errors import Forbidden


class Role(StrEnum):
    ADMIN = "FaaS-Admin"
    DEVELOPER = "FaaS-Developer"
    INVOCATION = "FaaS-Invocation"


class Action(StrEnum):
    READ = "read"
    WRITE = "write"  # create / edit / delete
    DEPLOY = "deploy"
    INVOKE = "invoke"
    CREATE = "create"  # logs: create only
    READ_VALUE = "read-value"  # secret values in clear


A, D, I = Role.ADMIN, Role.DEVELOPER, Role.INVOCATION
ALLOWED: Mapping[tuple[str, Action], frozenset[Role]] = {
    ("lambda", Action.READ): frozenset({A, D, I}),
    ("lambda", Action.WRITE): frozenset({D}),
    ("lambda", Action.DEPLOY): frozenset({D}),
    ("lambda", Action.INVOKE): frozenset({D, I}),
    ("whitelist", Action.WRITE): frozenset({A}),
    ("whitelist", Action.READ): frozenset({A, D}),
    ("secret", Action.WRITE): frozenset({A}),
    ("secret", Action.READ): frozenset({A, D}),
    ("secret", Action.READ_VALUE): frozenset({A}),
    ("schedule", Action.READ): frozenset({A, D, I}),
    ("schedule", Action.WRITE): frozenset({A, D}),
    ("emailReportSettings", Action.WRITE): frozenset({A}),
    ("emailReportRecipients", Action.WRITE): frozenset({A, D}),
    ("emailReport", Action.READ): frozenset({A, D, I}),
    ("logs", Action.READ): frozenset({A, D, I}),
    ("logs", Action.CREATE): frozenset({D}),
    ("reporting", Action.READ): frozenset({A, D, I}),
    # fngate's own: background jobs (deploys, ...) of the account, and the retry of a dead-lettered one
    ("job", Action.READ): frozenset({A, D}),
    ("job", Action.WRITE): frozenset({A, D}),
    # fngate's own: Third-Party Bots connector bots (seed 004: configuring one needs FaaS-Admin)
    ("bot", Action.READ): frozenset({A, D}),
    ("bot", Action.WRITE): frozenset({A}),
    ("bot", Action.INVOKE): frozenset({A, D}),  # Test Connection
    # fngate's own: the account's users and app keys (as `fngate admin users|app-keys` does on the data dir)
    ("user", Action.READ): frozenset({A}),
    ("user", Action.WRITE): frozenset({A}),
    ("appKey", Action.READ): frozenset({A}),
    ("appKey", Action.WRITE): frozenset({A}),
    # fngate's own: a function's Toolbelt calling its gateway from AWS Lambda; no role may (function tokens only)
    ("toolbelt", Action.INVOKE): frozenset(),
}

INVOKE_SCOPE = "faas.lambda.invoke"
ORCHESTRATOR_SCOPE = "faas.orchestrator.invoke"  # the provisioned orchestrator app key: invoke, nothing else
TOOLBELT_SCOPE = "fngate.toolbelt.rpc"  # a per-invocation function token: its own Toolbelt calls, nothing else
FUNCTION_PRINCIPAL = "function"  # Principal.kind of a per-invocation token (minted by the executor, never by users)
SCOPES: Mapping[str, frozenset[tuple[str, Action]]] = {
    # LivePerson's clients use one token for invoke, isImplemented and getLambdas, so the invoke scope reads too.
    INVOKE_SCOPE: frozenset({("lambda", Action.INVOKE), ("lambda", Action.READ)}),
    ORCHESTRATOR_SCOPE: frozenset({("lambda", Action.INVOKE)}),
    TOOLBELT_SCOPE: frozenset({("toolbelt", Action.INVOKE)}),
}
ALL_ROLES = frozenset(Role)


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: a user (roles) or an app key (scopes), always bound to one account."""

    account_id: str
    subject: str  # user id or client id
    kind: str  # "user" | "app" | "function"
    roles: frozenset[Role] = field(default_factory=frozenset)
    scopes: frozenset[str] = field(default_factory=frozenset)
    login_name: str = ""

    @property
    def display_name(self) -> str:
        return self.login_name or self.subject


def is_allowed(who: Principal, component: str, action: Action) -> bool:
    """Unknown components and actions are denied."""
    if not ALLOWED.get((component, action), frozenset()).isdisjoint(who.roles):
        return True
    return any((component, action) in SCOPES.get(scope, frozenset()) for scope in who.scopes)


def roles_allowed(roles: Iterable[Role], component: str, action: Action) -> bool:
    return not ALLOWED.get((component, action), frozenset()).isdisjoint(roles)


def require(who: Principal, component: str, action: Action) -> None:
    if not is_allowed(who, component, action):
        raise Forbidden(action=action.value, component=component)


def require_function(who: Principal, function_uuid: str) -> None:
    """The Toolbelt route: only the per-invocation token of this very function (its account is checked by
    authentication), so one function can never act as another, and no user or app key can act as a function."""
    require(who, "toolbelt", Action.INVOKE)
    if who.kind != FUNCTION_PRINCIPAL or who.subject != function_uuid:
        raise Forbidden(action=Action.INVOKE.value, component="toolbelt")
