"""Guessing credentials: equal work for unknown users, backoff per name and per address (429), audit records,
strict JWT decoding and signing-key rotation."""

from __future__ import annotations

import base64
import json

import pytest

from chalicelib.crypto import passwords
from chalicelib.crypto.tokens import b64url, b64url_decode
from chalicelib.domain.errors import InvalidClient, NotAuthenticated, TooManyRequests
from chalicelib.services.identity import SIGNING_KEY_OVERLAP_S, load_signer, rotate_signing_key
from chalicelib.services.throttle import MAX_LOCK_S
from chalicelib.storage.base import Query
from tests.api.conftest import body
from tests.conftest import ACCOUNT

LOGIN = f"/api/account/{ACCOUNT}/login?v=1.3"
TOKEN = f"/sentinel/api/account/{ACCOUNT}/app/token?v=2.0"
LIST = f"/api/account/{ACCOUNT}/lambdas?v=1"


def _login(api, username, password):
    return api.call("POST", LOGIN, body={"username": username, "password": password})


def _token(api, secret):
    form = f"grant_type=client_credentials&client_id={api.creds['clientId']}&client_secret={secret}"
    return api.client.http.post(TOKEN, headers={"Content-Type": "application/x-www-form-urlencoded"},
                                body=form.encode())


@pytest.fixture
def user(api):
    api.services.identity.create_user(ACCOUNT, "guessed", "the-right-password", ["FaaS-Developer"])
    return "guessed"


def test_dummy_hash_has_the_cost_parameters_of_a_real_one():
    real, dummy = passwords.hash_password("x").split("$"), passwords.dummy_hash().split("$")
    assert dummy[:4] == real[:4] and len(dummy[5]) == len(real[5])
    assert passwords.dummy_hash() == passwords.dummy_hash()  # made once per process


def test_unknown_user_and_wrong_password_get_the_same_answer(api, user):
    unknown, wrong = _login(api, "nobody", "x"), _login(api, user, "x")
    assert unknown.status_code == wrong.status_code == 401
    assert body(unknown) == body(wrong)


def test_login_backs_off_after_five_failures_and_says_when_to_retry(api, user, clock):
    # GIVEN five wrong passwords, which cost nothing more
    for _ in range(5):
        assert _login(api, user, "wrong").status_code == 401
    # WHEN the sixth fails
    assert _login(api, user, "wrong").status_code == 401
    # THEN the name is locked for 1 s: even the right password answers 429 with Retry-After, unchecked
    locked = _login(api, user, "the-right-password")
    assert locked.status_code == 429 and locked.headers["Retry-After"] == "1"
    assert body(locked)["code"] == "com.liveperson.faas.evg.too-many-requests"
    # AND each further failure doubles the wait
    clock.advance(1)
    assert _login(api, user, "wrong").status_code == 401
    assert _login(api, user, "wrong").headers["Retry-After"] == "2"
    clock.advance(2)
    assert _login(api, user, "the-right-password").status_code == 200
    # AND a success clears the name's count
    assert _login(api, user, "wrong").status_code == 401
    assert _login(api, user, "the-right-password").status_code == 200


def test_lock_is_capped_and_forgotten_after_quiet_window(api, user, clock):
    for _ in range(30):
        _login(api, user, "wrong")
        clock.advance(MAX_LOCK_S)
    assert _login(api, user, "wrong").status_code == 401
    assert int(_login(api, user, "wrong").headers["Retry-After"]) == MAX_LOCK_S


def test_one_address_guessing_many_names_is_throttled_but_not_other_addresses(api, clock):
    identity = api.services.identity
    for n in range(20):
        with pytest.raises(NotAuthenticated):
            identity.login(ACCOUNT, f"name-{n}", "x", "203.0.113.7")
    with pytest.raises(NotAuthenticated):
        identity.login(ACCOUNT, "name-20", "x", "203.0.113.7")
    with pytest.raises(TooManyRequests) as exc:
        identity.login(ACCOUNT, "another-name", "x", "203.0.113.7")
    assert exc.value.retry_after == 1
    with pytest.raises(NotAuthenticated):  # another address is not affected
        identity.login(ACCOUNT, "another-name", "x", "198.51.100.1")


def test_throttle_state_is_shared_by_every_process_on_the_store(api, user, make_services):
    other_process = type(api.services.identity)(api.services.store, api.services.keyring,
                                                api.services.identity.signer, api.services.clock)
    for _ in range(6):
        with pytest.raises(NotAuthenticated):
            other_process.login(ACCOUNT, user, "wrong", "192.0.2.1")
    assert _login(api, user, "the-right-password").status_code == 429


def test_failed_logins_and_token_requests_are_audited(api, user):
    _login(api, user, "wrong")
    _login(api, "nobody", "wrong")
    _token(api, "wrong")
    events = [r.data for r in api.services.store.query(Query("audit", ACCOUNT))]
    assert sorted((e["event"], e.get("login", e.get("client_id")), e["reason"]) for e in events) == sorted([
        ("login.failed", user, "wrong password"), ("login.failed", "nobody", "unknown user"),
        ("token.failed", api.creds["clientId"], "wrong secret")])
    assert all(e["address"] == "127.0.0.1" and e["at"] for e in events)


def test_token_endpoint_backs_off_with_an_oauth_body(api, clock):
    for _ in range(6):
        assert _token(api, "wrong").status_code == 401
    res = _token(api, api.creds["clientSecret"])
    assert res.status_code == 429 and res.headers["Retry-After"] == "1"
    assert body(res)["error"] == "slow_down"
    clock.advance(1)
    assert _token(api, api.creds["clientSecret"]).status_code == 200


def test_token_endpoint_refuses_unknown_client_the_same_way(api):
    with pytest.raises(InvalidClient):
        api.services.identity.app_token(ACCOUNT, "no-such-client", "x", "192.0.2.9")


def test_login_and_token_answers_are_not_cached(api, user):
    assert _login(api, user, "the-right-password").headers["Cache-Control"] == "no-store"
    assert _token(api, api.creds["clientSecret"]).headers["Cache-Control"] == "no-store"


# -- strict JWT decoding ------------------------------------------------------------------------------------------
def _resign(api, header=None, claims=None):
    """A token signed with the gateway's real key, but with the header or claims given."""
    signer = api.services.identity.signer
    h64, p64, _ = api.creds["developerToken"].split(".")
    h = b64url(json.dumps(header).encode()) if header is not None else h64
    p = b64url(json.dumps(claims).encode()) if claims is not None else p64
    sig = signer._key.sign(f"{h}.{p}".encode()).signature
    return f"{h}.{p}.{b64url(sig)}"


def _claims(api):
    return json.loads(b64url_decode(api.creds["developerToken"].split(".")[1]))


def test_the_real_token_verifies(api):
    assert api.call("GET", LIST, _resign(api)).status_code == 200


@pytest.mark.parametrize("suffix", ["=", "==", "%3D"])
def test_padding_appended_to_any_part_is_refused(api, suffix):
    h, p, s = api.creds["developerToken"].split(".")
    for token in (f"{h}.{p}.{s}{suffix}", f"{h}{suffix}.{p}.{s}", f"{h}.{p}{suffix}.{s}"):
        assert api.call("GET", LIST, token).status_code == 401, token


def test_non_canonical_last_character_of_the_signature_is_refused(api):
    h, p, s = api.creds["developerToken"].split(".")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    same_bytes = [c for c in alphabet if c != s[-1] and base64.urlsafe_b64decode(s[:-1] + c + "==")
                  == base64.urlsafe_b64decode(s + "==")]
    assert same_bytes  # the last of 86 characters carries 2 unused bits: 3 other spellings of the same bytes
    for c in same_bytes:
        assert api.call("GET", LIST, f"{h}.{p}.{s[:-1]}{c}").status_code == 401


@pytest.mark.parametrize("header", [
    {"alg": "EdDSA", "typ": "JWT", "kid": "no-such-kid"},
    {"alg": "EdDSA", "typ": "JWT"},
    {"alg": "none", "typ": "JWT", "kid": "k1"},
    {"alg": "EdDSA", "typ": "JWT", "kid": "k1", "jku": "https://attacker.example/jwks"},
    {"alg": "EdDSA", "typ": "JWT", "kid": ["k1"]},
])
def test_headers_other_than_alg_typ_and_a_known_kid_are_refused(api, header):
    assert api.call("GET", LIST, _resign(api, header=header)).status_code == 401


@pytest.mark.parametrize(("change", "message"), [
    ({"iss": "someone-else"}, "Invalid token"), ({"iss": None}, "Invalid token"),
    ({"nbf": 2_000_000_000}, "Token not valid yet"), ({"iat": 2_000_000_000}, "Token not valid yet"),
    ({"exp": None}, "Token expired"), ({"exp": True}, "Token expired"), ({"aud": [ACCOUNT]}, "Invalid token"),
])
def test_claims_are_checked(api, change, message):
    claims = {k: v for k, v in {**_claims(api), **change}.items() if v is not None}
    res = api.call("GET", LIST, _resign(api, claims=claims))
    assert res.status_code == 401
    assert body(res)["errorMsg"] == message


def test_issued_tokens_carry_kid_iss_aud_and_nbf(api):
    header = json.loads(b64url_decode(api.creds["developerToken"].split(".")[0]))
    claims = _claims(api)
    assert header == {"alg": "EdDSA", "typ": "JWT", "kid": api.services.identity.signer.kid}
    assert claims["iss"] == "fngate" and claims["aud"] == ACCOUNT and claims["nbf"] == claims["iat"]


# -- signing-key rotation -------------------------------------------------------------------------------------------
def test_rotation_keeps_old_tokens_valid_and_other_processes_follow(api, clock):
    svc = api.services
    old_token, old_kid = api.creds["developerToken"], svc.identity.signer.kid
    # GIVEN another process that loaded the key set before the rotation
    other = load_signer(svc.store, svc.keyring, clock)
    # WHEN the key is rotated
    report = rotate_signing_key(svc.store, svc.keyring, clock)
    assert report["retired"] == old_kid and report["current"] != old_kid
    # THEN a fresh signer signs with the new key, and both verify old and new tokens
    fresh = load_signer(svc.store, svc.keyring, clock)
    new_token = fresh.sign({"iss": "fngate", "aud": ACCOUNT}, 60)
    assert json.loads(b64url_decode(new_token.split(".")[0]))["kid"] == report["current"]
    assert fresh.verify(old_token)["aud"] == ACCOUNT
    assert other.verify(new_token)["aud"] == ACCOUNT  # unknown kid: the other process re-read the key set
    # AND the JWKS lists both keys
    assert {k["kid"] for k in body(api.call("GET", "/sentinel/well-known/jwks"))["keys"]} >= {old_kid}


def test_a_retired_key_is_dropped_by_the_first_rotation_after_its_overlap(api, clock):
    svc = api.services
    first = rotate_signing_key(svc.store, svc.keyring, clock)
    clock.advance(SIGNING_KEY_OVERLAP_S + 1)
    second = rotate_signing_key(svc.store, svc.keyring, clock)
    assert second["dropped"] == [first["retired"]]
    signer = load_signer(svc.store, svc.keyring, clock)
    assert {k["kid"] for k in signer.public_jwks} == {first["current"], second["current"]}
