"""A secret may name the only functions allowed to use it (ours; on LivePerson every function of the account can)."""

from __future__ import annotations

import pytest

from chalicelib.domain.errors import SecretNotForFunction
from chalicelib.runtime.base import Target
from chalicelib.services.toolbelt_host import RpcError, ToolbeltHost
from tests.api.conftest import body
from tests.conftest import ACCOUNT

BASE = f"/api/account/{ACCOUNT}/secrets"
FN_A, FN_B = "00000000-0000-4000-8000-00000000000a", "00000000-0000-4000-8000-00000000000b"


def admin(api, method, path, payload=None):
    return api.call(method, path, api.creds["adminToken"], payload)


def _target(uuid: str) -> Target:
    return Target(account_id=ACCOUNT, function_uuid=uuid, manifest_version=1, runtime="nodejs20", code="")


@pytest.fixture
def host(api):
    return ToolbeltHost(None, api.services.secrets.rpc_methods, {}, "")  # type: ignore[arg-type]


def test_a_secret_without_a_list_is_readable_by_every_function(api, host):
    assert admin(api, "POST", BASE, {"key": "open", "value": 1}).status_code == 201
    assert host(_target(FN_A), "secret.read", {"key": "open"}) == {"key": "open", "value": 1}
    assert host(_target(FN_B), "secret.read", {"key": "open"}) == {"key": "open", "value": 1}


def test_only_listed_functions_read_or_update_a_secret(api, host):
    # GIVEN a secret only function A may use
    res = admin(api, "POST", BASE, {"key": "crm", "value": "s3cret", "functions": [FN_A]})
    assert res.status_code == 201 and body(res)["functions"] == [FN_A]
    # THEN A reads and updates it, and B gets the secret's forbidden code for both
    assert host(_target(FN_A), "secret.read", {"key": "crm"})["value"] == "s3cret"
    assert host(_target(FN_A), "secret.update", {"key": "crm", "value": "v2"})["value"] == "v2"
    for method, params in (("secret.read", {"key": "crm"}), ("secret.update", {"key": "crm", "value": "x"})):
        with pytest.raises(RpcError) as err:
            host(_target(FN_B), method, params)
        assert err.value.code == "com.liveperson.faas.secret.forbidden"
        assert err.value.message == "This function is not among those allowed to use secret crm"
    # AND the function's update kept the list
    with pytest.raises(SecretNotForFunction):
        api.services.secrets.read_for_function(ACCOUNT, "crm", FN_B)


def test_the_list_is_kept_by_an_update_without_it_and_cleared_with_null(api):
    admin(api, "POST", BASE, {"key": "crm", "value": 1, "functions": [FN_A, FN_A]})
    assert body(admin(api, "PUT", f"{BASE}/crm", {"value": 2}))["functions"] == [FN_A]
    assert body(admin(api, "PUT", f"{BASE}/crm", {"value": 3, "functions": None}))["functions"] is None
    assert api.services.secrets.read_for_function(ACCOUNT, "crm", FN_B)["value"] == 3


@pytest.mark.parametrize("functions", ["fn", [1], [""], ["x" * 65], [f"f{i}" for i in range(101)]])
def test_a_malformed_list_is_400(api, functions):
    res = admin(api, "POST", BASE, {"key": "crm", "value": 1, "functions": functions})
    assert res.status_code == 400
    assert body(res)["code"] == "com.liveperson.faas.secret.invalid-format"


def test_secret_answers_are_not_cached(api):
    admin(api, "POST", BASE, {"key": "crm", "value": 1})
    for res in (admin(api, "GET", BASE), admin(api, "GET", f"{BASE}/crm")):
        assert res.headers["Cache-Control"] == "no-store"
