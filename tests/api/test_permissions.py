"""Every cell of the permission matrix on the lambda routes, and the table itself."""

from __future__ import annotations

import pytest

from chalicelib.domain.permissions import ALLOWED, Action, Principal, Role, is_allowed
from tests.api.conftest import body, v1_lambda
from tests.conftest import ACCOUNT

BASE = f"/api/account/{ACCOUNT}"
A, D, I = Role.ADMIN, Role.DEVELOPER, Role.INVOCATION
MATRIX = [  # management-api.md §8: component, action, admin, developer, invocation
    ("lambda", Action.READ, True, True, True), ("lambda", Action.WRITE, False, True, False),
    ("lambda", Action.DEPLOY, False, True, False), ("lambda", Action.INVOKE, False, True, True),
    ("whitelist", Action.WRITE, True, False, False), ("whitelist", Action.READ, True, True, False),
    ("secret", Action.WRITE, True, False, False), ("secret", Action.READ, True, True, False),
    ("schedule", Action.READ, True, True, True), ("schedule", Action.WRITE, True, True, False),
    ("emailReportSettings", Action.WRITE, True, False, False),
    ("emailReportRecipients", Action.WRITE, True, True, False), ("emailReport", Action.READ, True, True, True),
    ("logs", Action.READ, True, True, True), ("logs", Action.CREATE, False, True, False),
    ("reporting", Action.READ, True, True, True),
]


@pytest.mark.parametrize(("component", "action", "admin", "dev", "inv"), MATRIX)
def test_matrix_cell(component, action, admin, dev, inv):
    for role, expected in ((A, admin), (D, dev), (I, inv)):
        who = Principal(ACCOUNT, "u", "user", roles=frozenset({role}))
        assert is_allowed(who, component, action) is expected, (component, action, role)


def test_unknown_component_is_denied():
    assert not is_allowed(Principal(ACCOUNT, "u", "user", roles=frozenset(Role)), "nothing", Action.READ)
    assert ("nothing", Action.READ) not in ALLOWED


def test_invoke_scope_grants_invoke_and_read_only():
    app = Principal(ACCOUNT, "c", "app", scopes=frozenset({"faas.lambda.invoke"}))
    assert is_allowed(app, "lambda", Action.INVOKE) and is_allowed(app, "lambda", Action.READ)
    assert not is_allowed(app, "lambda", Action.WRITE) and not is_allowed(app, "lambda", Action.DEPLOY)


def _app_token(api):
    return api.services.identity.app_token(ACCOUNT, api.creds["clientId"], api.creds["clientSecret"])["access_token"]


ROUTES = {  # route → (allowed for admin, developer, invocation, app key)
    "list": (True, True, True, True), "get": (True, True, True, True), "create": (False, True, False, False),
    "update": (False, True, False, False), "delete": (False, True, False, False),
    "deploy": (False, True, False, False), "undeploy": (False, True, False, False),
    "invoke": (False, True, True, True), "test": (False, True, True, True),
}


@pytest.mark.parametrize("route", sorted(ROUTES))
def test_lambda_routes_follow_the_matrix(api, route):
    identity = api.services.identity
    admin_only = identity.user_token(identity.create_user(ACCOUNT, "only-admin", None, [Role.ADMIN]))
    tokens = [admin_only, api.creds["developerToken"], api.creds["invocationToken"], _app_token(api)]
    for token, allowed in zip(tokens, ROUTES[route], strict=True):
        fn = body(api.dev("POST", f"{BASE}/lambdas?v=1", v1_lambda(f"p{len(api.executor.deployed)}-{route}"
                                                                    f"-{tokens.index(token)}")))
        if route in ("invoke", "test", "undeploy"):
            api.dev("POST", f"{BASE}/deployments/{fn['uuid']}")
        res = _call(api, route, fn, token)
        assert (res.status_code == 403) is (not allowed), (route, tokens.index(token), res.status_code, res.body)
        assert res.status_code < 500


def _call(api, route, fn, token):
    uuid = fn["uuid"]
    changed = {**fn, "description": "changed"}
    calls = {"list": ("GET", f"{BASE}/lambdas?v=1", None), "get": ("GET", f"{BASE}/lambdas/{uuid}?v=1", None),
             "create": ("POST", f"{BASE}/lambdas?v=1", v1_lambda(f"new-{uuid[:8]}")),
             "update": ("PUT", f"{BASE}/lambdas/{uuid}?v=1", changed),
             "delete": ("DELETE", f"{BASE}/lambdas/{uuid}?v=1", None),
             "deploy": ("POST", f"{BASE}/deployments/{uuid}?v=1", None),
             "undeploy": ("DELETE", f"{BASE}/deployments/{uuid}?v=1", None),
             "invoke": ("POST", f"{BASE}/lambdas/{uuid}/invoke?v=1", {"payload": {}}),
             "test": ("POST", f"{BASE}/functions/{uuid}/test", {"payload": {}})}
    method, path, payload = calls[route]
    return api.call(method, path, token, payload)


def test_bootstrap_admin_holds_all_three_roles(api):
    res = api.call("POST", f"{BASE}/lambdas?v=1", api.creds["adminToken"], v1_lambda("by-admin"))
    assert res.status_code == 201


def test_forbidden_is_rendered_in_the_callers_dialect(api):
    res = api.call("POST", f"{BASE}/lambdas?v=1", api.creds["invocationToken"], v1_lambda("x"))
    assert res.status_code == 403 and "errorCode" in body(res)
    res = api.call("POST", f"{BASE}/functions", api.creds["invocationToken"], {"name": "x"})
    assert res.status_code == 403 and "code" in body(res)
