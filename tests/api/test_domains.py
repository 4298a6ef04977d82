"""The allowlist over HTTP: V1 /proxy-settings and V2-style /domains share one list; validation, ids, matrix."""

from __future__ import annotations

import pytest

from tests.api.conftest import body
from tests.conftest import ACCOUNT, OTHER_ACCOUNT

V1 = f"/api/account/{ACCOUNT}/proxy-settings"
V2 = f"/api/account/{ACCOUNT}/domains"


def admin(api, method, path, payload=None):
    return api.call(method, path, api.creds["adminToken"], payload)


def add(api, domain, path=V1, **extra):
    res = admin(api, "POST", path, {"timestamp": 0, "id": -1, "domain": domain, **extra})
    assert res.status_code == 201, res.body
    return body(res)


def test_v1_add_answers_id_domain_name(api):
    created = add(api, "api.example.com", name="Example")
    assert created == {"id": 1, "domain": "api.example.com", "name": "Example"}


def test_name_defaults_to_the_domain(api):
    assert add(api, "api.example.com")["name"] == "api.example.com"


def test_ids_are_per_account_increasing_integers_never_reused(api):
    ids = [add(api, f"h{i}.example.com")["id"] for i in range(3)]
    admin(api, "DELETE", f"{V1}/{ids[-1]}")
    assert ids == [1, 2, 3] and add(api, "h9.example.com")["id"] == 4
    other = api.call("POST", f"/api/account/{OTHER_ACCOUNT}/proxy-settings", api.other["adminToken"],
                     {"domain": "api.example.com", "id": -1})
    assert body(other)["id"] == 1


def test_v1_and_v2_share_one_list(api):
    add(api, "a.example.com")
    add(api, "*.b.example.com", path=V2)
    v1 = body(admin(api, "GET", V1))
    v2 = body(admin(api, "GET", V2))
    assert [(d["id"], d["domain"]) for d in v1] == [(1, "a.example.com"), (2, "*.b.example.com")]
    assert set(v1[0]) == {"id", "domain", "name"}
    assert [d["domain"] for d in v2] == ["a.example.com", "*.b.example.com"]
    assert v2[0]["createdBy"] == "admin" and v2[0]["createdAt"]


def test_update_changes_domain_and_name(api):
    item = add(api, "old.example.com")
    res = admin(api, "PUT", f"{V1}/{item['id']}", {"domain": "new.example.com", "name": "New", "id": item["id"]})
    assert body(res) == {"id": 1, "domain": "new.example.com", "name": "New"}
    assert api.services.domains.allowlist_for(ACCOUNT) == ["new.example.com"]
    add(api, "old.example.com")  # the old name is free again


def test_update_to_a_listed_domain_is_409(api):
    add(api, "a.example.com")
    b = add(api, "b.example.com")
    res = admin(api, "PUT", f"{V2}/{b['id']}", {"domain": "a.example.com"})
    assert res.status_code == 409
    assert body(res)["code"] == "com.liveperson.faas.proxy-settings.duplicate"


def test_duplicate_is_409_in_both_dialects(api):
    add(api, "a.example.com")
    v1 = admin(api, "POST", V1, {"domain": "a.example.com", "id": -1})
    v2 = admin(api, "POST", V2, {"domain": "a.example.com"})
    assert v1.status_code == v2.status_code == 409
    assert body(v1) == {"errorCode": "com.liveperson.faas.proxy-settings.duplicate",
                        "errorMsg": "Domain a.example.com is already allowlisted on this account"}
    assert body(v2)["code"] == "com.liveperson.faas.proxy-settings.duplicate"


@pytest.mark.parametrize("domain", ["*.*.example.com", "bad_domain!.com", "", "a" * 64 + ".com", None, 5])
def test_invalid_domains_are_400(api, domain):
    res = admin(api, "POST", V2, {"domain": domain})
    assert res.status_code == 400, res.body


def test_missing_domain_is_400(api):
    assert admin(api, "POST", V1, {"id": -1}).status_code == 400


def test_unknown_or_malformed_id(api):
    assert admin(api, "PUT", f"{V1}/99", {"domain": "x.example.com"}).status_code == 404
    assert admin(api, "DELETE", f"{V2}/99").status_code == 404
    assert admin(api, "DELETE", f"{V2}/abc").status_code == 400


def test_delete_removes_it_from_the_proxy_view(api):
    item = add(api, "a.example.com")
    add(api, "b.example.com")
    assert admin(api, "DELETE", f"{V1}/{item['id']}").status_code == 200
    assert api.services.domains.allowlist_for(ACCOUNT) == ["b.example.com"]


def test_every_change_reaches_the_hooks(api):
    heard = []
    api.services.domains.on_change.append(heard.append)
    item = add(api, "a.example.com")
    admin(api, "PUT", f"{V1}/{item['id']}", {"name": "renamed"})
    admin(api, "DELETE", f"{V1}/{item['id']}")
    admin(api, "POST", V1, {"domain": "*.*.bad"})  # refused: no change, no notice
    assert heard == [ACCOUNT] * 3


ROUTES = {  # route → allowed for (admin, developer, invocation, app key): management-api.md §8 "whitelist"
    "list": (True, True, False, False), "create": (True, False, False, False),
    "update": (True, False, False, False), "delete": (True, False, False, False),
}


@pytest.mark.parametrize("base", [V1, V2])
@pytest.mark.parametrize("route", sorted(ROUTES))
def test_allowlist_routes_follow_the_matrix(api, route, base):
    app_token = api.services.identity.app_token(ACCOUNT, api.creds["clientId"],
                                                api.creds["clientSecret"])["access_token"]
    tokens = [api.creds["adminToken"], api.creds["developerToken"], api.creds["invocationToken"], app_token]
    for i, (token, allowed) in enumerate(zip(tokens, ROUTES[route], strict=True)):
        item = add(api, f"{route}-{i}.example.com")
        method, path, payload = {"list": ("GET", base, None),
                                 "create": ("POST", base, {"domain": f"new-{i}.example.com", "id": -1}),
                                 "update": ("PUT", f"{base}/{item['id']}", {"name": "x"}),
                                 "delete": ("DELETE", f"{base}/{item['id']}", None)}[route]
        res = api.call(method, path, token, payload)
        assert (res.status_code == 403) is (not allowed), (route, i, res.status_code, res.body)
        assert res.status_code < 500
