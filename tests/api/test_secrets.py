"""Secrets over HTTP: CRUD, obfuscation by role, the permission matrix, error codes, no plaintext at rest."""

from __future__ import annotations

import pytest

from chalicelib.domain.errors import SecretForbidden, SecretInvalidFormat, SecretNotFound
from chalicelib.domain.secrets import OBFUSCATED
from tests.api.conftest import body
from tests.conftest import ACCOUNT, OTHER_ACCOUNT

BASE = f"/api/account/{ACCOUNT}/secrets"
PLAINTEXT = "pl41ntext-that-must-never-be-stored"


def admin(api, method, path, payload=None, **kw):
    return api.call(method, path, api.creds["adminToken"], payload, **kw)


def create(api, key, value):
    res = admin(api, "POST", BASE, {"key": key, "value": value, "timestamp": 0})
    assert res.status_code == 201, res.body
    return body(res)


def test_admin_creates_and_reads_a_secret_in_clear(api):
    created = create(api, "crm-token", {"token": PLAINTEXT, "n": 1})
    assert created["key"] == "crm-token" and created["value"] == {"token": PLAINTEXT, "n": 1}
    got = body(admin(api, "GET", f"{BASE}/crm-token"))
    assert got["value"] == {"token": PLAINTEXT, "n": 1}
    assert got["createdBy"] == "admin" and got["createdAt"]


def test_developer_sees_the_value_obfuscated(api):
    create(api, "crm-token", PLAINTEXT)
    one = body(api.dev("GET", f"{BASE}/crm-token"))
    listed = body(api.dev("GET", BASE))
    assert one["key"] == "crm-token" and one["value"] == OBFUSCATED
    assert [s["value"] for s in listed] == [OBFUSCATED]
    assert PLAINTEXT.encode() not in api.dev("GET", BASE).body


def test_list_returns_every_key_in_order(api):
    for key in ("b", "a", "c"):
        create(api, key, key.upper())
    assert [(s["key"], s["value"]) for s in body(admin(api, "GET", BASE))] == [("a", "A"), ("b", "B"), ("c", "C")]


def test_update_replaces_the_value_and_keeps_created(api):
    first = create(api, "k", "old")
    res = admin(api, "PUT", f"{BASE}/k", {"key": "k", "value": ["new", 2]})
    assert res.status_code == 200
    assert body(res)["value"] == ["new", 2] and body(res)["createdAt"] == first["createdAt"]
    assert body(admin(api, "GET", f"{BASE}/k"))["value"] == ["new", 2]


def test_delete_then_it_is_gone(api):
    create(api, "k", 1)
    assert admin(api, "DELETE", f"{BASE}/k").status_code == 200
    res = admin(api, "GET", f"{BASE}/k")
    assert res.status_code == 404
    assert body(res) == {"code": "com.liveperson.faas.secret.not-found",
                         "message": "There is no secret k for this account"}


def test_duplicate_create_is_409(api):
    create(api, "k", 1)
    res = admin(api, "POST", BASE, {"key": "k", "value": 2})
    assert res.status_code == 409
    assert body(res)["code"] == "com.liveperson.faas.secret.already-exists"


def test_unknown_secret_is_404_for_update_and_delete(api):
    assert admin(api, "PUT", f"{BASE}/nope", {"value": 1}).status_code == 404
    assert admin(api, "DELETE", f"{BASE}/nope").status_code == 404


@pytest.mark.parametrize(("payload", "detail"), [
    ({"key": "bad key", "value": 1}, "secret key"),
    ({"key": "x" * 101, "value": 1}, "secret key"),
    ({"value": 1}, "secret key"),
    ({"key": "k"}, "'value' is required"),
    ({"key": "k", "value": "x" * 16_383}, "16384"),
])
def test_bad_key_or_value_is_400_invalid_format(api, payload, detail):
    res = admin(api, "POST", BASE, payload)
    assert res.status_code == 400
    assert body(res)["code"] == "com.liveperson.faas.secret.invalid-format"
    assert detail in body(res)["message"]


def test_errors_use_the_v1_dialect_when_asked(api):
    res = admin(api, "GET", f"{BASE}/nope?v=1")
    assert body(res) == {"errorCode": "com.liveperson.faas.secret.not-found",
                         "errorMsg": "There is no secret nope for this account"}


def test_path_and_body_keys_must_agree(api):
    create(api, "k", 1)
    assert admin(api, "PUT", f"{BASE}/k", {"key": "other", "value": 2}).status_code == 400


def test_a_secret_of_another_account_is_out_of_reach(api):
    create(api, "k", PLAINTEXT)
    res = api.call("GET", f"/api/account/{OTHER_ACCOUNT}/secrets/k", api.other["adminToken"])
    assert res.status_code == 404
    assert api.call("GET", f"{BASE}/k", api.other["adminToken"]).status_code == 403


ROUTES = {  # route → allowed for (admin, developer, invocation, app key): management-api.md §8
    "list": (True, True, False, False), "get": (True, True, False, False),
    "create": (True, False, False, False), "update": (True, False, False, False),
    "delete": (True, False, False, False),
}


@pytest.mark.parametrize("route", sorted(ROUTES))
def test_secret_routes_follow_the_matrix(api, route):
    app_token = api.services.identity.app_token(ACCOUNT, api.creds["clientId"],
                                                api.creds["clientSecret"])["access_token"]
    tokens = [api.creds["adminToken"], api.creds["developerToken"], api.creds["invocationToken"], app_token]
    for i, (token, allowed) in enumerate(zip(tokens, ROUTES[route], strict=True)):
        key = f"{route}-{i}"
        create(api, key, 1)
        method, path, payload = {"list": ("GET", BASE, None), "get": ("GET", f"{BASE}/{key}", None),
                                 "create": ("POST", BASE, {"key": f"new-{key}", "value": 1}),
                                 "update": ("PUT", f"{BASE}/{key}", {"value": 2}),
                                 "delete": ("DELETE", f"{BASE}/{key}", None)}[route]
        res = api.call(method, path, token, payload)
        assert (res.status_code == 403) is (not allowed), (route, i, res.status_code, res.body)
        assert res.status_code < 500


def test_no_plaintext_in_the_sqlite_file(api):
    # GIVEN a secret whose value and key are distinctive
    create(api, "scan-me", {"token": PLAINTEXT})
    admin(api, "PUT", f"{BASE}/scan-me", {"value": {"token": PLAINTEXT + "-v2"}})
    # WHEN the raw database file (and its journal or WAL) is read byte by byte
    db = api.services.settings.sqlite_path
    raw = b"".join(p.read_bytes() for p in db.parent.glob(db.name + "*"))
    # THEN the key is there (it is an identifier) but the value is not, in any encoding
    assert b"scan-me" in raw
    for needle in (PLAINTEXT, "pl41ntext"):
        assert needle.encode() not in raw and needle.encode("utf-16-le") not in raw


def test_no_plaintext_in_logs(api, caplog):
    caplog.set_level("DEBUG")
    create(api, "k", PLAINTEXT)
    admin(api, "GET", f"{BASE}/k")
    admin(api, "POST", BASE, {"key": "k", "value": PLAINTEXT})
    api.services.secrets.read_for_function(ACCOUNT, "k")
    assert PLAINTEXT not in caplog.text


# -- the function side (Toolbelt SecretClient through the RPC bridge) ---------------------------------------------
def test_function_reads_and_updates_and_the_next_read_sees_it(api):
    create(api, "k", "v1")
    secrets = api.services.secrets
    assert secrets.read_for_function(ACCOUNT, "k") == {"key": "k", "value": "v1"}
    assert secrets.update_for_function(ACCOUNT, "k", {"v": 2}) == {"key": "k", "value": {"v": 2}}
    assert secrets.read_for_function(ACCOUNT, "k") == {"key": "k", "value": {"v": 2}}
    admin(api, "PUT", f"{BASE}/k", {"value": "v3"})
    assert secrets.read_for_function(ACCOUNT, "k")["value"] == "v3"  # no cache: rotation is seen at once


def test_function_cannot_create_a_secret(api):
    with pytest.raises(SecretNotFound) as exc:
        api.services.secrets.update_for_function(ACCOUNT, "new-one", 1)
    assert exc.value.v2_code == "com.liveperson.faas.secret.not-found"
    assert exc.value.message == "There is no secret new-one for this account"


@pytest.mark.parametrize("key", ["lp-faas-default-app-key", "lp-faas-orchestrator-app-key",
                                 "LIVEPERSON_DEFAULT_APP_KEY"])
def test_function_cannot_update_system_secrets_but_can_read_them(api, key):
    create(api, key, {"client_id": "c", "client_secret": "s"})
    with pytest.raises(SecretForbidden) as exc:
        api.services.secrets.update_for_function(ACCOUNT, key, {"client_id": "evil"})
    assert exc.value.v2_code == "com.liveperson.faas.secret.forbidden"
    assert api.services.secrets.read_for_function(ACCOUNT, key)["value"]["client_id"] == "c"


def test_function_update_with_an_oversized_value_is_invalid_format(api):
    create(api, "k", 1)
    with pytest.raises(SecretInvalidFormat):
        api.services.secrets.update_for_function(ACCOUNT, "k", "x" * 20_000)
    assert api.services.secrets.read_for_function(ACCOUNT, "k")["value"] == 1


def test_rpc_methods_map_the_toolbelt_calls(api):
    create(api, "k", "v")
    methods = api.services.secrets.rpc_methods(ACCOUNT)
    assert methods["secret.read"]({"key": "k"}) == {"key": "k", "value": "v"}
    assert methods["secret.update"]({"key": "k", "value": [1]}) == {"key": "k", "value": [1]}
    with pytest.raises(SecretInvalidFormat):
        methods["secret.update"]({"key": "k"})
    with pytest.raises(SecretInvalidFormat):
        methods["secret.read"]("k")
    other = api.services.secrets.rpc_methods(OTHER_ACCOUNT)
    with pytest.raises(SecretNotFound):
        other["secret.read"]({"key": "k"})


def test_change_hooks_hear_every_write(api):
    heard = []
    api.services.secrets.on_change.append(lambda account, key: heard.append((account, key)))
    api.services.secrets.on_change.append(lambda account, key: 1 / 0)  # a broken listener changes nothing
    create(api, "k", 1)
    admin(api, "PUT", f"{BASE}/k", {"value": 2})
    api.services.secrets.update_for_function(ACCOUNT, "k", 3)
    admin(api, "DELETE", f"{BASE}/k")
    assert heard == [(ACCOUNT, "k")] * 4
