"""Accounts, users, app keys and tokens: who the caller is (authorization lives in domain/permissions.py)."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import secrets
import threading
import time
import uuid
from typing import Any

from chalicelib.clock import Clock
from chalicelib.crypto.envelope import Keyring, open_envelope, seal
from chalicelib.crypto.passwords import dummy_hash, hash_password, verify_password
from chalicelib.crypto.tokens import KeySet, TokenSigner
from chalicelib.domain import limits
from chalicelib.domain.errors import (
    AppKeyExists,
    BadInput,
    Forbidden,
    InvalidClient,
    NotAuthenticated,
    UserExists,
    VersionConflict,
)
from chalicelib.domain.models import Account, AppKey, User
from chalicelib.domain.permissions import (
    ALL_ROLES,
    FUNCTION_PRINCIPAL,
    INVOKE_SCOPE,
    TOOLBELT_SCOPE,
    Principal,
    Role,
)
from chalicelib.domain.validation import (
    validate_app_key_name,
    validate_login,
    validate_password,
    validate_roles,
    validate_scopes,
)
from chalicelib.services.throttle import Throttle, audit, client_keys, login_keys
from chalicelib.storage.base import MUST_NOT_EXIST, Delete, Put, Query, Record, Store

_SYSTEM = "system"
_PRINCIPAL_TTL_S = 5.0  # deleted users / app keys lose access within this time
BOOTSTRAP_USERS = (("admin", tuple(Role)), ("developer", (Role.DEVELOPER,)), ("invocation", (Role.INVOCATION,)))
BOOTSTRAP_APP = "fngate-bootstrap"


_KEY_CONTEXT = {"purpose": "token-signing-key"}
SIGNING_KEY_OVERLAP_S = limits.USER_TOKEN_TTL_S + 600  # a retired key verifies this long: its last tokens + refresh


_RETIRED = "signing-key-retired/"  # + kid: keys that no longer sign and verify until "verify_until"


def _stored_keys(store: Store, keyring: Keyring) -> tuple[KeySet, Record]:
    """The signing key set, created once and kept sealed in the store (so every gateway process shares it).

    The current key is the record "signing-key" {envelope, kid}; retired ones are "signing-key-retired/<kid>".
    """
    record = store.get(_SYSTEM, _SYSTEM, "signing-key")
    if record is None:
        envelope = seal(keyring, secrets.token_bytes(32), _KEY_CONTEXT)
        with contextlib.suppress(VersionConflict):  # another process created it first: use theirs
            store.put(_SYSTEM, _SYSTEM, "signing-key", {"envelope": envelope, "kid": "k1"},
                      expected_version=MUST_NOT_EXIST)
        record = store.get(_SYSTEM, _SYSTEM, "signing-key")
    assert record is not None
    seeds = {r.data["kid"]: open_envelope(keyring, r.data["envelope"], _KEY_CONTEXT)
             for r in store.query(Query(_SYSTEM, _SYSTEM, prefix=_RETIRED))}
    seeds[record.data["kid"]] = open_envelope(keyring, record.data["envelope"], _KEY_CONTEXT)
    return KeySet(seeds, record.data["kid"]), record


def load_signer(store: Store, keyring: Keyring, clock: Clock | None = None) -> TokenSigner:
    """A signer over the stored key set that follows rotations made by any process."""
    keys, _ = _stored_keys(store, keyring)
    return TokenSigner(keys, clock=(clock or Clock()).now, reload=lambda: _stored_keys(store, keyring)[0])


def rotate_signing_key(store: Store, keyring: Keyring, clock: Clock) -> dict[str, Any]:
    """A new current signing key; the previous one verifies for SIGNING_KEY_OVERLAP_S more, older ones are dropped."""
    _stored_keys(store, keyring)  # creates the first key if there is none yet
    while True:
        current = store.get(_SYSTEM, _SYSTEM, "signing-key")
        assert current is not None
        now, kid = clock.now(), f"k{secrets.token_hex(4)}"
        expired = [r for r in store.query(Query(_SYSTEM, _SYSTEM, prefix=_RETIRED)) if r.data["verify_until"] <= now]
        ops: list[Put | Delete] = [
            Put(_SYSTEM, _SYSTEM, _RETIRED + current.data["kid"],
                {**current.data, "verify_until": now + SIGNING_KEY_OVERLAP_S}, MUST_NOT_EXIST),
            Put(_SYSTEM, _SYSTEM, "signing-key", {"envelope": seal(keyring, secrets.token_bytes(32), _KEY_CONTEXT),
                                                  "kid": kid}, current.version),
            *(Delete(_SYSTEM, _SYSTEM, r.sk, r.version) for r in expired)]
        with contextlib.suppress(VersionConflict):  # another rotation won the race: rotate on top of it
            store.transact(ops)
            return {"current": kid, "retired": current.data["kid"], "retiredVerifiesUntil": clock.iso(
                now + SIGNING_KEY_OVERLAP_S), "dropped": [r.data["kid"] for r in expired]}


def _secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()  # high-entropy secrets need no slow KDF


class IdentityService:
    def __init__(self, store: Store, keyring: Keyring, signer: TokenSigner, clock: Clock) -> None:
        self._store, self._keyring, self._signer, self._clock = store, keyring, signer, clock
        self._throttle = Throttle(store, clock)
        self._seen: dict[tuple[str, str, str], float] = {}
        self._lock = threading.Lock()
        # Authorization header → (principal, exp, key into _seen): a caller presenting the same token again is
        # answered from here while the token is unexpired and its principal's existence check is fresh.
        self._known: dict[str, tuple[Principal, int, tuple[str, str, str]]] = {}

    @property
    def signer(self) -> TokenSigner:
        return self._signer

    # -- accounts -----------------------------------------------------------------------------------------------
    def ensure_account(self, account_id: str) -> Account:
        from chalicelib.domain.validation import validate_account_id

        validate_account_id(account_id)
        record = self._store.get("account", "accounts", account_id)
        if record:
            return Account.from_dict(record.data)
        account = Account(account_id=account_id, created_at=self._clock.iso())
        with contextlib.suppress(VersionConflict):
            self._store.put("account", "accounts", account_id, account.to_dict(), expected_version=MUST_NOT_EXIST)
        return account

    def account_exists(self, account_id: str) -> bool:
        return self._store.get("account", "accounts", account_id) is not None

    def bootstrap(self, account_id: str, *, token_ttl_s: int = limits.USER_TOKEN_TTL_S) -> dict[str, str]:
        """Create (or find again) an account with one user per role set and an app key; return fresh tokens."""
        self.ensure_account(account_id)
        tokens = {}
        for login, roles in BOOTSTRAP_USERS:
            user = self.find_user(account_id, login) or self.create_user(account_id, login, None, roles)
            tokens[login] = self.user_token(user, ttl_s=token_ttl_s)
        key, secret = self.ensure_app_key(account_id, BOOTSTRAP_APP, [INVOKE_SCOPE])
        return {"accountId": account_id, "adminToken": tokens["admin"], "developerToken": tokens["developer"],
                "invocationToken": tokens["invocation"], "clientId": key.client_id, "clientSecret": secret}

    # -- users ----------------------------------------------------------------------------------------------------
    def create_user(self, account_id: str, login: str, password: str | None, roles: Any) -> User:
        """A user; without a password it can only use tokens issued by `fngate admin` (no login). The one place for
        the rules of a new user (the CLI and the admin routes both come here)."""
        login = validate_login(login)
        if password is not None:
            validate_password(password)
        roles = validate_roles(list(roles) if isinstance(roles, tuple | set | frozenset) else roles)
        if self.find_user(account_id, login) is not None:
            raise UserExists(login=login)
        user = User(account_id=account_id, user_id=str(uuid.uuid4()), login_name=login,
                    password_hash=hash_password(password) if password else "", roles=roles,
                    created_at=self._clock.iso())
        try:
            self._store.put("login", account_id, login.lower(), {"user_id": user.user_id},
                            expected_version=MUST_NOT_EXIST)
        except VersionConflict:
            raise UserExists(login=login) from None
        self._store.put("user", account_id, user.user_id, user.to_dict())
        return user

    def set_password(self, account_id: str, login: str, password: str) -> User:
        validate_password(password)
        user = self.find_user(account_id, login)
        if user is None:
            raise BadInput(detail=f"no user {login} on account {account_id}")
        data = {**user.to_dict(), "password_hash": hash_password(password)}
        self._store.put("user", account_id, user.user_id, data)
        return User.from_dict(data)

    def find_user(self, account_id: str, login: str) -> User | None:
        pointer = self._store.get("login", account_id, login.lower())
        record = pointer and self._store.get("user", account_id, pointer.data["user_id"])
        return User.from_dict(record.data) if record else None

    def get_user(self, account_id: str, user_id: str) -> User | None:
        record = self._store.get("user", account_id, user_id)
        return User.from_dict(record.data) if record else None

    def set_disabled(self, account_id: str, user_id: str, disabled: bool) -> User | None:
        """Disable (or enable again) a user: a disabled one cannot log in and its tokens stop working within
        _PRINCIPAL_TTL_S; unlike delete_user it keeps the user, its login name and roles."""
        record = self._store.get("user", account_id, user_id)
        if record is None:
            return None
        data = {**record.data, "disabled": bool(disabled)}
        self._store.put("user", account_id, user_id, data, expected_version=record.version)
        with self._lock:  # this process stops trusting its cached check at once; others within _PRINCIPAL_TTL_S
            self._seen.pop(("user", account_id, user_id), None)
        return User.from_dict(data)

    def user_token(self, user: User, *, ttl_s: int = limits.USER_TOKEN_TTL_S) -> str:
        return self._signer.sign({"iss": "fngate", "typ": "user", "sub": user.user_id, "aud": user.account_id,
                                  "roles": user.roles, "login": user.login_name}, ttl_s)

    def login(self, account_id: str, username: str, password: str, address: str = "") -> dict[str, Any]:
        """The agentVep login answer the lpf CLI reads: bearer, csrf, sessionId, config.userId/loginName.

        Unknown users cost one scrypt like known ones (no enumeration by timing); failures are throttled per login
        name and per client address, and audited.
        """
        keys = login_keys(account_id, username, address)
        self._throttle.check(keys)
        user = self.find_user(account_id, username)
        stored = user.password_hash if user is not None and user.password_hash else dummy_hash()
        if not verify_password(password, stored) or user is None or not user.password_hash or user.disabled:
            self._throttle.failed(keys)
            audit(self._store, self._clock, account_id, "login.failed", login=username[:100], address=address,
                  reason="unknown user" if user is None else "disabled" if user.disabled else "wrong password")
            raise NotAuthenticated(detail="Invalid username or password")
        self._throttle.succeeded(keys[0])
        session_id, csrf = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        expires = self._clock.now() + limits.USER_TOKEN_TTL_S
        self._store.put("session", account_id, session_id, {"user_id": user.user_id, "csrf": csrf,
                                                             "expires": expires})
        return {"bearer": self.user_token(user), "csrf": csrf, "sessionId": session_id,
                "config": {"userId": user.user_id, "loginName": user.login_name}}

    def check_session(self, account_id: str, session_id: str, csrf: str) -> None:
        record = self._store.get("session", account_id, session_id)
        if (record is None or record.data["expires"] < self._clock.now()
                or not hmac.compare_digest(record.data["csrf"], csrf or "")):
            raise NotAuthenticated(detail="Session expired")

    # -- app keys -------------------------------------------------------------------------------------------------
    def ensure_app_key(self, account_id: str, name: str, scopes: list[str]) -> tuple[AppKey, str]:
        """The named app key and its secret; created once, the secret kept sealed so it can be handed out again."""
        existing = self._find_app_key_by_name(account_id, name)
        if existing is not None:
            return existing, self._unseal_secret(existing)
        return self.create_app_key(account_id, name, scopes, retrievable=True)

    def create_app_key(self, account_id: str, name: str, scopes: list[str], *,
                       retrievable: bool = False) -> tuple[AppKey, str]:
        """A new app key (one per external system: its name is unique in the account) and its secret."""
        name, scopes = validate_app_key_name(name), validate_scopes(scopes)
        if self._find_app_key_by_name(account_id, name) is not None:
            raise AppKeyExists(name=name)
        client_id, secret = secrets.token_hex(16), secrets.token_urlsafe(32)
        context = {"account": account_id, "app-key": client_id}
        sealed = seal(self._keyring, secret.encode(), context) if retrievable else {}
        key = AppKey(account_id=account_id, client_id=client_id, secret_hash=_secret_hash(secret), scopes=scopes,
                     name=name, created_at=self._clock.iso())
        self._store.put("appkey", account_id, client_id, {**key.to_dict(), "sealed": sealed})
        return key, secret

    def _find_app_key_by_name(self, account_id: str, name: str) -> AppKey | None:
        found = self._store.query(Query("appkey", account_id, filters={"name": name}))
        return AppKey.from_dict(found[0].data) if found else None

    def _unseal_secret(self, key: AppKey) -> str:
        record = self._store.get("appkey", key.account_id, key.client_id)
        sealed = record.data.get("sealed") if record else None
        if not sealed:
            raise BadInput(detail=f"the secret of app key {key.name} cannot be retrieved")
        context = {"account": key.account_id, "app-key": key.client_id}
        return open_envelope(self._keyring, sealed, context).decode()

    def delete_app_key(self, account_id: str, client_id: str) -> bool:
        return self._store.delete("appkey", account_id, client_id)

    def app_token(self, account_id: str, client_id: str, client_secret: str, address: str = "") -> dict[str, Any]:
        """OAuth2 client-credentials grant (external-invocation.md §2.1); failures throttled and audited."""
        keys = client_keys(account_id, client_id, address)
        self._throttle.check(keys)
        record = self._store.get("appkey", account_id, client_id or "-")
        if record is None or not hmac.compare_digest(record.data["secret_hash"], _secret_hash(client_secret or "")):
            self._throttle.failed(keys)
            audit(self._store, self._clock, account_id, "token.failed", client_id=client_id[:100], address=address,
                  reason="unknown client" if record is None else "wrong secret")
            raise InvalidClient()
        self._throttle.succeeded(keys[0])
        token = self._signer.sign({"iss": "Sentinel", "typ": "app", "aud": account_id, "azp": client_id,
                                   "sub": client_id, "scope": " ".join(record.data["scopes"])}, limits.TOKEN_TTL_S)
        return {"access_token": token, "token_type": "Bearer", "expires_in": limits.TOKEN_TTL_S}

    # -- administration (fngate admin users / app-keys) -------------------------------------------------------------
    def list_users(self, account_id: str) -> list[User]:
        return [User.from_dict(r.data) for r in self._store.query(Query("user", account_id))]

    def delete_user(self, account_id: str, login: str) -> User | None:
        """Remove the user and its login name; its tokens stop working within _PRINCIPAL_TTL_S."""
        user = self.find_user(account_id, login)
        if user is None:
            return None
        self._store.delete("user", account_id, user.user_id)
        self._store.delete("login", account_id, login.lower())
        return user

    def list_app_keys(self, account_id: str) -> list[AppKey]:
        return [AppKey.from_dict(r.data) for r in self._store.query(Query("appkey", account_id))]

    def find_app_key(self, account_id: str, name_or_id: str) -> AppKey | None:
        record = self._store.get("appkey", account_id, name_or_id)
        return AppKey.from_dict(record.data) if record else self._find_app_key_by_name(account_id, name_or_id)

    def rotate_app_key(self, account_id: str, client_id: str) -> tuple[AppKey, str]:
        """A new secret for the same client id: the old secret stops working at once (issued tokens expire)."""
        record = self._store.get("appkey", account_id, client_id)
        if record is None:
            raise BadInput(detail=f"no app key {client_id} on account {account_id}")
        secret = secrets.token_urlsafe(32)
        context = {"account": account_id, "app-key": client_id}
        sealed = seal(self._keyring, secret.encode(), context) if record.data.get("sealed") else {}
        data = {**record.data, "secret_hash": _secret_hash(secret), "sealed": sealed}
        self._store.put("appkey", account_id, client_id, data, expected_version=record.version)
        return AppKey.from_dict(data), secret

    # -- authentication ---------------------------------------------------------------------------------------------
    def authenticate(self, account_id: str, authorization: str | None) -> Principal:
        """The caller behind an Authorization header, bound to ``account_id`` (401 / 403 otherwise)."""
        known = self._known.get(authorization) if authorization else None
        if (known is not None and known[0].account_id == account_id and known[1] > self._signer.now()
                and self._seen.get(known[2], 0.0) > time.monotonic()):
            return known[0]
        scheme, _, token = (authorization or "").strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise NotAuthenticated(detail="Missing or malformed Authorization header (expected: Bearer <token>)")
        claims = self._signer.verify(token.strip())
        if claims.get("aud") != account_id:
            raise Forbidden("Token is not valid for account " + account_id)
        principal = self._principal(claims)
        self._check_still_exists(principal)
        if authorization and isinstance(claims.get("exp"), int):
            if len(self._known) > 10_000:
                self._known.clear()
            self._known[authorization] = (principal, claims["exp"], (principal.kind, principal.account_id,
                                                                     principal.subject))
        return principal

    def function_token(self, account_id: str, function_uuid: str, ttl_s: int) -> str:
        """A per-invocation token: the function's Toolbelt calls (and egress) for one run, expiring with it."""
        return self._signer.sign({"iss": "fngate", "typ": FUNCTION_PRINCIPAL, "aud": account_id,
                                  "sub": function_uuid, "scope": TOOLBELT_SCOPE}, max(1, int(ttl_s)))

    def _principal(self, claims: dict[str, Any]) -> Principal:
        if claims.get("typ") == FUNCTION_PRINCIPAL:  # its only scope is the Toolbelt: management routes refuse it
            return Principal(account_id=claims["aud"], subject=str(claims.get("sub")), kind=FUNCTION_PRINCIPAL,
                             scopes=frozenset({TOOLBELT_SCOPE}))
        if claims.get("typ") == "app":
            return Principal(account_id=claims["aud"], subject=claims["azp"], kind="app",
                             scopes=frozenset(str(claims.get("scope", "")).split()))
        roles = frozenset(Role(r) for r in claims.get("roles", []) if r in {x.value for x in ALL_ROLES})
        return Principal(account_id=claims["aud"], subject=str(claims.get("sub")), kind="user", roles=roles,
                         login_name=str(claims.get("login", "")))

    def _check_still_exists(self, who: Principal) -> None:
        if who.kind == FUNCTION_PRINCIPAL:
            return  # nothing to revoke: it lives as long as one invocation
        cache_key = (who.kind, who.account_id, who.subject)
        now = time.monotonic()
        with self._lock:
            if self._seen.get(cache_key, 0.0) > now:
                return
        kind = "appkey" if who.kind == "app" else "user"
        record = self._store.get(kind, who.account_id, who.subject)
        if record is None:
            raise NotAuthenticated(detail="The credentials behind this token were revoked")
        if record.data.get("disabled"):
            raise NotAuthenticated(detail="The user behind this token is disabled")
        with self._lock:
            if len(self._seen) > 10_000:
                self._seen.clear()
            self._seen[cache_key] = now + _PRINCIPAL_TTL_S
