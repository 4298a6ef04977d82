"""Users and app keys over HTTP (FaaS-Admin only): the same rules as `fngate admin users|app-keys`, secrets shown
once, a disabled user locked out at once, an app key's token refused once it is revoked."""

from __future__ import annotations

import pytest

from tests.api.conftest import body
from tests.conftest import ACCOUNT

BASE = f"/api/account/{ACCOUNT}"


def admin(api, method, path, payload=None):
    return api.call(method, BASE + path, api.creds["adminToken"], payload)


def token_status(api, key):
    form = f"grant_type=client_credentials&client_id={key['clientId']}&client_secret={key['clientSecret']}"
    return api.client.http.post(f"/sentinel/api/account/{ACCOUNT}/app/token?v=2.0", body=form.encode(),
                                headers={"Content-Type": "application/x-www-form-urlencoded"}).status_code


def test_an_admin_creates_a_user_who_can_log_in_with_the_roles_given(api):
    res = admin(api, "POST", "/users", {"login": "ana", "roles": ["FaaS-Developer"], "password": "long enough pw"})
    assert res.status_code == 201, res.body
    made = body(res)
    assert made["login"] == "ana" and made["roles"] == ["FaaS-Developer"] and made["disabled"] is False
    assert "generatedPassword" not in made and "password_hash" not in res.body.decode()
    login = api.call("POST", f"{BASE}/login?v=1.3", body={"username": "ana", "password": "long enough pw"})
    assert login.status_code == 200, login.body
    listed = body(admin(api, "GET", "/users"))
    assert [u["login"] for u in listed] == sorted((u["login"] for u in listed), key=str.lower)
    assert {"login": "ana", "roles": ["FaaS-Developer"], "password": True, "disabled": False}.items() <= \
        next(u for u in listed if u["login"] == "ana").items()


def test_a_generated_password_is_returned_once_and_works(api):
    made = body(admin(api, "POST", "/users", {"login": "gen", "roles": ["FaaS-Invocation"],
                                              "generatePassword": True}))
    secret = made["generatedPassword"]
    assert len(secret) >= 16
    assert all("generatedPassword" not in u for u in body(admin(api, "GET", "/users")))
    assert api.call("POST", f"{BASE}/login?v=1.3", body={"username": "gen", "password": secret}).status_code == 200


@pytest.mark.parametrize(("payload", "named"), [
    ({"login": "bad name", "roles": ["FaaS-Developer"]}, "login"),
    ({"login": "x", "roles": []}, "roles"),
    ({"login": "x", "roles": ["Root"]}, "roles"),
    ({"login": "x", "roles": "FaaS-Admin"}, "roles"),
    ({"login": "x", "roles": ["FaaS-Admin"], "password": "short"}, "password"),
    ({"roles": ["FaaS-Admin"]}, "login"),
])
def test_bad_users_are_refused_with_the_field_named(api, payload, named):
    res = admin(api, "POST", "/users", payload)
    assert res.status_code == 400, res.body
    assert named in body(res)["message"]


def test_a_login_that_exists_is_a_conflict(api):
    res = admin(api, "POST", "/users", {"login": "DEVELOPER", "roles": ["FaaS-Developer"]})  # bootstrap's, any case
    assert res.status_code == 409
    assert body(res)["code"] == "com.liveperson.faas.user.already-exists"


def test_a_disabled_user_cannot_log_in_and_its_token_stops_working_then_works_again(api):
    made = body(admin(api, "POST", "/users", {"login": "bo", "roles": ["FaaS-Developer"], "password": "bo password"}))
    token = body(api.call("POST", f"{BASE}/login?v=1.3", body={"username": "bo", "password": "bo password"}))["bearer"]
    assert api.call("GET", f"{BASE}/functions", token).status_code == 200
    res = admin(api, "PUT", f"/users/{made['userId']}", {"disabled": True})
    assert res.status_code == 200 and body(res)["disabled"] is True
    assert api.call("GET", f"{BASE}/functions", token).status_code == 401
    assert api.call("POST", f"{BASE}/login?v=1.3", body={"username": "bo", "password": "bo password"}).status_code \
        == 401
    admin(api, "PUT", f"/users/{made['userId']}", {"disabled": False})
    assert api.call("GET", f"{BASE}/functions", token).status_code == 200


def test_an_admin_cannot_disable_itself_and_unknown_users_are_404(api):
    me = next(u for u in body(admin(api, "GET", "/users")) if u["login"] == "admin")
    assert admin(api, "PUT", f"/users/{me['userId']}", {"disabled": True}).status_code == 409
    assert admin(api, "PUT", "/users/nobody", {"disabled": True}).status_code == 404
    assert admin(api, "PUT", f"/users/{me['userId']}", {"disabled": "yes"}).status_code == 400


def test_app_keys_are_created_with_a_secret_shown_once_and_revoked(api):
    res = admin(api, "POST", "/appKeys", {"name": "crm"})
    assert res.status_code == 201, res.body
    key = body(res)
    assert key["scopes"] == ["faas.lambda.invoke"] and key["clientSecret"]
    listed = body(admin(api, "GET", "/appKeys"))
    assert any(k["clientId"] == key["clientId"] for k in listed)
    assert all("clientSecret" not in k for k in listed)
    assert token_status(api, key) == 200
    assert admin(api, "POST", "/appKeys", {"name": "crm"}).status_code == 409
    assert admin(api, "DELETE", f"/appKeys/{key['clientId']}").status_code == 200
    assert admin(api, "DELETE", f"/appKeys/{key['clientId']}").status_code == 404
    assert token_status(api, key) == 401


@pytest.mark.parametrize("payload", [{"name": ""}, {"name": "k", "scopes": ["root"]}, {"name": "k", "scopes": []},
                                     {"name": 5}])
def test_bad_app_keys_are_refused(api, payload):
    assert admin(api, "POST", "/appKeys", payload).status_code == 400


@pytest.mark.parametrize("token", ["developerToken", "invocationToken"])
@pytest.mark.parametrize(("method", "path", "payload"), [
    ("GET", "/users", None), ("POST", "/users", {"login": "z", "roles": ["FaaS-Admin"]}),
    ("PUT", "/users/x", {"disabled": True}), ("GET", "/appKeys", None), ("POST", "/appKeys", {"name": "z"}),
    ("DELETE", "/appKeys/x", None)])
def test_only_admins_manage_people(api, token, method, path, payload):
    assert api.call(method, BASE + path, api.creds[token], payload).status_code == 403
