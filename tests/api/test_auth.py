"""Tokens, login, service discovery: expiry, forgery and cross-account use are refused."""

from __future__ import annotations

import base64
import json
import time

from nacl.signing import SigningKey

from chalicelib.crypto.tokens import TokenSigner, b64url_decode
from tests.api.conftest import body
from tests.conftest import ACCOUNT, OTHER_ACCOUNT

LIST = f"/api/account/{ACCOUNT}/lambdas?v=1"


def _token_request(api, client_id, secret, grant="client_credentials", path=None):
    form = f"grant_type={grant}&client_id={client_id}&client_secret={secret}"
    return api.client.http.post(path or f"/sentinel/api/account/{ACCOUNT}/app/token?v=2.0",
                                headers={"Content-Type": "application/x-www-form-urlencoded"}, body=form.encode())


def test_client_credentials_token_is_a_jwt_with_exp_over_30_minutes(api):
    res = _token_request(api, api.creds["clientId"], api.creds["clientSecret"])
    assert res.status_code == 200
    data = body(res)
    assert data["token_type"] == "Bearer" and data["expires_in"] > 1800
    claims = json.loads(b64url_decode(data["access_token"].split(".")[1]))
    assert claims["aud"] == ACCOUNT and claims["scope"] == "faas.lambda.invoke"
    assert claims["exp"] - time.time() > 1800


def test_toolbelt_token_path_and_basic_auth_are_accepted(api):
    res = _token_request(api, api.creds["clientId"], api.creds["clientSecret"],
                         path=f"/sentinel/api/v2/account/{ACCOUNT}/app/token?v=2.0")
    assert res.status_code == 200
    basic = base64.b64encode(f"{api.creds['clientId']}:{api.creds['clientSecret']}".encode()).decode()
    res = api.client.http.post(f"/sentinel/api/account/{ACCOUNT}/app/token?v=2.0",
                               headers={"Authorization": f"Basic {basic}",
                                        "Content-Type": "application/x-www-form-urlencoded"},
                               body=b"grant_type=client_credentials")
    assert res.status_code == 200


def test_wrong_client_secret_gets_oauth_invalid_client(api):
    res = _token_request(api, api.creds["clientId"], "nope")
    assert res.status_code == 401
    assert body(res)["error"] == "invalid_client"


def test_other_grant_types_are_refused(api):
    res = _token_request(api, api.creds["clientId"], api.creds["clientSecret"], grant="password")
    assert res.status_code == 400
    assert body(res)["error"] == "unsupported_grant_type"


def test_app_key_of_another_account_gets_no_token(api):
    res = _token_request(api, api.other["clientId"], api.other["clientSecret"])
    assert res.status_code == 401


def test_missing_token_is_401_in_the_v1_error_shape(api):
    res = api.call("GET", LIST)
    assert res.status_code == 401
    assert body(res)["errorCode"] == "com.liveperson.faas.es.unauthorized"


def test_expired_token_is_401(api):
    svc = api.services
    user = svc.identity.find_user(ACCOUNT, "developer")
    token = svc.identity.signer.sign({"typ": "user", "sub": user.user_id, "aud": ACCOUNT,
                                      "roles": user.roles}, ttl_s=-1)
    res = api.call("GET", LIST, token)
    assert res.status_code == 401
    assert "expired" in body(res)["errorMsg"].lower()


def test_token_signed_by_another_key_is_401(api):
    forger = TokenSigner(SigningKey.generate().encode())
    claims = json.loads(b64url_decode(api.creds["developerToken"].split(".")[1]))
    res = api.call("GET", LIST, forger.sign(claims, 3600))
    assert res.status_code == 401


def test_tampered_claims_are_401(api):
    header, payload, sig = api.creds["invocationToken"].split(".")
    claims = json.loads(b64url_decode(payload))
    claims["roles"] = ["FaaS-Developer"]
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    res = api.call("POST", f"/api/account/{ACCOUNT}/lambdas?v=1", f"{header}.{forged}.{sig}", {"name": "x"})
    assert res.status_code == 401


def test_garbage_and_non_bearer_tokens_are_401(api):
    for value in ("Bearer", "Bearer abc", "Bearer a.b.c", "Basic Zm9vOmJhcg==", "Bearer ..."):
        res = api.client.http.get(LIST, headers={"Authorization": value})
        assert res.status_code == 401, value


def test_token_of_another_account_is_403(api):
    res = api.call("GET", f"/api/account/{OTHER_ACCOUNT}/lambdas?v=1", api.creds["developerToken"])
    assert res.status_code == 403


def test_user_login_returns_what_the_lpf_cli_reads(api):
    api.services.identity.create_user(ACCOUNT, "dev@example.com", "s3cret-pass", ["FaaS-Developer"])
    res = api.call("POST", f"/api/account/{ACCOUNT}/login?v=1.3",
                   body={"username": "dev@example.com", "password": "s3cret-pass"})
    assert res.status_code == 200
    data = body(res)
    assert set(data) >= {"bearer", "csrf", "sessionId", "config"}
    assert data["config"]["loginName"] == "dev@example.com"
    assert api.call("GET", LIST, data["bearer"]).status_code == 200
    ok = api.call("POST", f"/api/account/{ACCOUNT}/refresh", body={"csrf": data["csrf"]},
                  headers={"Cookie": f"session_id={data['sessionId']}"})
    assert ok.status_code == 200
    bad = api.call("POST", f"/api/account/{ACCOUNT}/refresh", body={"csrf": "x"},
                   headers={"Cookie": f"session_id={data['sessionId']}"})
    assert bad.status_code == 401


def test_wrong_password_is_401(api):
    api.services.identity.create_user(ACCOUNT, "dev2", "right-password", ["FaaS-Developer"])
    res = api.call("POST", f"/api/account/{ACCOUNT}/login?v=1.3", body={"username": "dev2", "password": "wrong"})
    assert res.status_code == 401


def test_service_discovery_lists_this_gateway(api):
    res = api.client.http.get(f"/api/account/{ACCOUNT}/service/baseURI.json?version=1.0",
                              headers={"Host": "gw.example.test"})
    services = {e["service"]: e["baseURI"] for e in body(res)["baseURIs"]}
    assert {"faasGW", "faasUI", "sentinel", "agentVep"} <= set(services)
    assert services["faasGW"] == "gw.example.test"


def test_service_discovery_of_unknown_account_is_404(api):
    assert api.client.http.get("/api/account/nosuch/service/baseURI.json?version=1.0").status_code == 404


def test_deleted_app_key_loses_access(make_services):
    svc = make_services()
    creds = svc.identity.bootstrap(ACCOUNT)
    token = svc.identity.app_token(ACCOUNT, creds["clientId"], creds["clientSecret"])["access_token"]
    svc.identity.delete_app_key(ACCOUNT, creds["clientId"])
    fresh = type(svc.identity)(svc.store, svc.keyring, svc.identity.signer, svc.clock)  # a new process
    try:
        fresh.authenticate(ACCOUNT, f"Bearer {token}")
    except Exception as err:
        assert type(err).__name__ == "NotAuthenticated"
    else:
        raise AssertionError("revoked app key still authenticates")


def test_bootstrap_again_returns_the_same_account_and_client(make_services):
    svc = make_services()
    first, second = svc.identity.bootstrap(ACCOUNT), svc.identity.bootstrap(ACCOUNT)
    assert first["clientId"] == second["clientId"] and first["clientSecret"] == second["clientSecret"]
