"""The Toolbelt route a function's Lambda calls (chalicelib/api/toolbelt.py): only its own per-invocation token
works, only there, and it answers exactly what the local Toolbelt pipe answers that function."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.domain.permissions import FUNCTION_PRINCIPAL, TOOLBELT_SCOPE
from chalicelib.runtime.base import Target
from chalicelib.services.toolbelt_host import route_path as toolbelt_path
from tests.api.conftest import Api, body
from tests.conftest import ACCOUNT, OTHER_ACCOUNT

FN = "4a1c9d3e-0000-4000-8000-000000000001"
OTHER_FN = "4a1c9d3e-0000-4000-8000-000000000002"


def token(api: Api, account: str = ACCOUNT, fn: str = FN, ttl_s: int = 60) -> str:
    return str(api.services.identity.function_token(account, fn, ttl_s))


def rpc(api: Api, bearer: str | None, method: str, params: Any = None, account: str = ACCOUNT,
        fn: str = FN) -> Any:
    return api.call("POST", toolbelt_path(account, fn), bearer, {"method": method, "params": params})


def admin_secret(api: Api, key: str, value: Any, functions: list[str] | None = None) -> None:
    res = api.call("POST", f"/api/account/{ACCOUNT}/secrets", api.creds["adminToken"],
                   {"key": key, "value": value, "functions": functions})
    assert res.status_code == 201, res.body


def test_function_token_reads_a_secret_as_the_local_pipe_does(api: Api) -> None:
    # GIVEN a secret every function may read
    admin_secret(api, "db-password", "s3cret")
    # WHEN the function's Lambda asks for it with its token
    res = rpc(api, token(api), "secret.read", {"key": "db-password"})
    # THEN it gets what the local ToolbeltHost hands that function, and the answer is never cached
    local = api.services.toolbelt(Target(ACCOUNT, FN, 1, "python3.11", ""), "secret.read", {"key": "db-password"})
    assert res.status_code == 200 and body(res) == {"ok": True, "result": local}
    assert local == {"key": "db-password", "value": "s3cret"}
    assert res.headers["Cache-Control"] == "no-store"


def test_secret_restricted_to_another_function_is_refused_with_the_pipes_code(api: Api) -> None:
    admin_secret(api, "only-other", "x", functions=[OTHER_FN])
    answer = body(rpc(api, token(api), "secret.read", {"key": "only-other"}))
    assert answer["ok"] is False and "value" not in str(answer)
    with pytest.raises(Exception) as local:
        api.services.toolbelt.call(ACCOUNT, FN, "secret.read", {"key": "only-other"})
    assert answer["code"] == getattr(local.value, "code", None)


def test_context_store_and_csds_round_trip(api: Api) -> None:
    bearer = token(api)
    assert body(rpc(api, bearer, "context.createNamespace", {"namespace": "carts"}))["ok"] is True
    rpc(api, bearer, "context.setPropertiesInNamespace", {"namespace": "carts", "properties": {"n": 2},
                                                          "sessionId": "s1"})
    got = body(rpc(api, bearer, "context.getPropertyInSession", {"namespace": "carts", "propertyName": "n",
                                                                "sessionId": "s1"}))
    assert got == {"ok": True, "result": 2}
    assert body(rpc(api, bearer, "csds.get", {"service": "faasGW"}))["result"]["service"] == "faasGW"
    assert body(rpc(api, bearer, "no.such"))["code"] == "com.liveperson.faas.handler.unknown-rpc"


def test_token_of_another_function_is_forbidden(api: Api) -> None:
    admin_secret(api, "k", "v")
    res = rpc(api, token(api, fn=OTHER_FN), "secret.read", {"key": "k"})
    assert res.status_code == 403 and body(res)["code"] == "com.liveperson.faas.evg.forbidden"


def test_token_of_another_account_is_forbidden(api: Api) -> None:
    res = rpc(api, token(api, account=OTHER_ACCOUNT), "secret.read", {"key": "k"})
    assert res.status_code == 403


def test_expired_token_is_unauthenticated(api: Api) -> None:
    expired = api.services.identity.signer.sign({"iss": "fngate", "typ": FUNCTION_PRINCIPAL, "aud": ACCOUNT,
                                                 "sub": FN, "scope": TOOLBELT_SCOPE}, -10)
    res = rpc(api, expired, "secret.read", {"key": "k"})
    assert res.status_code == 401 and "expired" in body(res)["message"].lower()


@pytest.mark.parametrize("method,path", [
    ("GET", f"/api/account/{ACCOUNT}/secrets"),
    ("GET", f"/api/account/{ACCOUNT}/secrets/k"),
    ("GET", f"/api/account/{ACCOUNT}/functions"),
    ("POST", f"/api/account/{ACCOUNT}/lambdas/{FN}/invoke?v=1"),
    ("GET", f"/api/account/{ACCOUNT}/proxy-settings"),
])
def test_function_token_is_refused_by_management_and_invoke_routes(api: Api, method: str, path: str) -> None:
    admin_secret(api, "k", "v")
    res = api.call(method, path, token(api), {"payload": {}})
    assert res.status_code == 403, (path, res.body)


@pytest.mark.parametrize("who", ["adminToken", "developerToken", "invocationToken"])
def test_user_tokens_cannot_act_as_a_function(api: Api, who: str) -> None:
    admin_secret(api, "k", "v")
    assert rpc(api, api.creds[who], "secret.read", {"key": "k"}).status_code == 403


def test_missing_token_is_401_and_bad_bodies_are_400(api: Api) -> None:
    assert rpc(api, None, "secret.read", {"key": "k"}).status_code == 401
    bearer = token(api)
    for bad in ({"params": {}}, {"method": ""}, {"method": 7}, {"method": "secret.read", "params": [1]},
                {"method": "x" * 101}):
        res = api.call("POST", toolbelt_path(ACCOUNT, FN), bearer, bad)
        assert res.status_code == 400, (bad, res.body)
    res = api.call("POST", toolbelt_path(ACCOUNT, FN), bearer, raw="[1]")
    assert res.status_code == 400
