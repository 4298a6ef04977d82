"""JWTs signed with Ed25519 (alg EdDSA), the token format LivePerson's clients decode (they read `exp`).

PyNaCl does the signing; the framing is decoded strictly, as RFC 7515 and 8037 describe it, so that one token has
exactly one spelling: base64url without padding and with zero trailing bits (anything else is refused, so a token
with ``=`` appended or a changed last character no longer verifies), a header of exactly ``alg``, ``typ`` and
``kid``, and a ``kid`` naming a key of the key set. Claims: ``exp`` is required, ``nbf`` and ``iat`` may not lie in
the future, ``iss`` must be one of the issuers given, ``aud`` must be a string (the caller binds it to the account).

Several keys verify at once (rotation: tokens signed by a retired key verify until they expire); one key signs.
Verified tokens are cached (bounded) because the invoke hot path sees the same token on every call.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

from chalicelib.domain.errors import NotAuthenticated

_CACHE_MAX = 4096
LEEWAY_S = 5  # clock difference tolerated between gateway processes for nbf / iat
ISSUERS = frozenset({"fngate", "Sentinel"})  # user tokens / app (client-credentials) tokens
_SHAPE = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{86}")  # a 64-byte signature is 86 chars
_HEADER_KEYS = {"alg", "typ", "kid"}


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    """Lenient decoding, for reading claims in tests and tools; verification uses ``strict_b64url_decode``."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def strict_b64url_decode(text: str) -> bytes:
    """The bytes of the one canonical unpadded base64url spelling; ValueError for any other spelling."""
    raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if b64url(raw) != text:
        raise ValueError("non-canonical base64url")
    return raw


@dataclass(frozen=True)
class KeySet:
    """Signing seeds by kid, and the kid that signs new tokens."""

    seeds: Mapping[str, bytes]
    current: str


class TokenVerifier:
    """Verifies tokens with public keys only: what a service that must not sign (the egress proxy) holds.

    ``reload_keys`` (optional) returns the current public keys by kid; it is called, at most once a second, when a
    token names a kid not known yet (the gateway rotated its key).
    """

    def __init__(self, verify_keys: Mapping[str, VerifyKey], *, clock: Callable[[], float] = time.time,
                 issuers: frozenset[str] = ISSUERS,
                 reload_keys: Callable[[], Mapping[str, VerifyKey]] | None = None) -> None:
        self._clock, self._issuers, self._reload_keys = clock, issuers, reload_keys
        self._verify_keys: dict[str, VerifyKey] = dict(verify_keys)
        self._cache: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()
        self._unknown_kid_reload_at = float("-inf")

    def now(self) -> float:
        """This verifier's clock (what ``exp`` is compared with)."""
        return self._clock()

    def refresh(self) -> None:
        """Take the keys as they are now (a no-op without ``reload_keys``)."""
        if self._reload_keys is not None:
            keys = dict(self._reload_keys())
            with self._lock:
                self._verify_keys = keys

    def verify(self, token: str) -> dict[str, Any]:
        """The token's claims; NotAuthenticated if malformed, forged, expired, not yet valid or of an unknown issuer."""
        claims = self._cached(token)
        if claims is None:
            claims = self._verify_signature(token)
            with self._lock:
                self._cache[token] = claims
                if len(self._cache) > _CACHE_MAX:
                    self._cache.popitem(last=False)
        self._check_claims(claims)
        return claims

    def _check_claims(self, claims: dict[str, Any]) -> None:
        now = self._clock()
        if not _is_int(claims.get("exp")) or claims["exp"] <= now:
            raise NotAuthenticated(detail="Token expired")
        for name in ("nbf", "iat"):
            if name in claims and (not _is_int(claims[name]) or claims[name] > now + LEEWAY_S):
                raise NotAuthenticated(detail="Token not valid yet")
        if claims.get("iss") not in self._issuers or not isinstance(claims.get("aud"), str):
            raise NotAuthenticated(detail="Invalid token")

    def _cached(self, token: str) -> dict[str, Any] | None:
        with self._lock:
            return self._cache.get(token)

    def _verify_signature(self, token: str) -> dict[str, Any]:
        try:
            if not _SHAPE.fullmatch(token):
                raise ValueError("not a compact JWS")
            header_b64, payload_b64, signature_b64 = token.split(".")
            header = json.loads(strict_b64url_decode(header_b64))
            if (not isinstance(header, dict) or set(header) != _HEADER_KEYS or header["alg"] != "EdDSA"
                    or header["typ"] != "JWT"):
                raise ValueError("unsupported header")
            key = self._verify_key(header["kid"])
            key.verify(f"{header_b64}.{payload_b64}".encode(), strict_b64url_decode(signature_b64))
            claims = json.loads(strict_b64url_decode(payload_b64))
        except (ValueError, TypeError, KeyError, BadSignatureError, UnicodeDecodeError, binascii.Error,
                RecursionError):
            raise NotAuthenticated(detail="Invalid token") from None
        if not isinstance(claims, dict):
            raise NotAuthenticated(detail="Invalid token")
        return claims

    def _verify_key(self, kid: Any) -> VerifyKey:
        if not isinstance(kid, str):
            raise ValueError("kid")
        key = self._verify_keys.get(kid)
        if key is None and self._can_reload() and time.monotonic() >= self._unknown_kid_reload_at + 1:
            self._unknown_kid_reload_at = time.monotonic()  # another process may have rotated: at most once a second
            self.refresh()
            key = self._verify_keys.get(kid)
        if key is None:
            raise ValueError("unknown kid")
        return key

    def _can_reload(self) -> bool:
        return self._reload_keys is not None


class TokenSigner(TokenVerifier):
    """Signs with the key set's current key, verifies with any key of the set.

    ``reload`` (optional) returns the key set as stored now: called when a token names an unknown ``kid`` (another
    process rotated the key) and every ``refresh_s`` seconds before signing, so every process moves to a new key.
    """

    def __init__(self, keys: KeySet | bytes, *, kid: str = "k1", clock: Callable[[], float] = time.time,
                 issuers: frozenset[str] = ISSUERS, reload: Callable[[], KeySet] | None = None,
                 refresh_s: float = 60.0) -> None:
        super().__init__({}, clock=clock, issuers=issuers)
        self._reload, self._refresh_s = reload, refresh_s
        self._install(keys if isinstance(keys, KeySet) else KeySet({kid: keys}, kid))

    def _install(self, keys: KeySet) -> None:
        self._verify_keys = {kid: SigningKey(seed).verify_key for kid, seed in keys.seeds.items()}
        self._key, self._kid = SigningKey(keys.seeds[keys.current]), keys.current
        self._header = b64url(json.dumps({"alg": "EdDSA", "typ": "JWT", "kid": self._kid},
                                         separators=(",", ":")).encode())
        self._next_refresh = time.monotonic() + self._refresh_s

    @property
    def kid(self) -> str:
        return self._kid

    @property
    def public_jwks(self) -> list[dict[str, str]]:
        return [{"kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig", "kid": kid, "x": b64url(bytes(key))}
                for kid, key in self._verify_keys.items()]

    @property
    def public_jwk(self) -> dict[str, str]:
        return next(jwk for jwk in self.public_jwks if jwk["kid"] == self._kid)

    def sign(self, claims: dict[str, Any], ttl_s: int) -> str:
        if self._reload is not None and time.monotonic() >= self._next_refresh:
            self.refresh()
        now = int(self._clock())
        body = {**claims, "iat": now, "nbf": now, "exp": now + ttl_s}
        payload = b64url(json.dumps(body, separators=(",", ":")).encode())
        signing_input = f"{self._header}.{payload}".encode()
        return f"{self._header}.{payload}.{b64url(self._key.sign(signing_input).signature)}"

    def refresh(self) -> None:
        """Take the key set as stored now (a no-op without ``reload``)."""
        if self._reload is not None:
            keys = self._reload()
            with self._lock:
                self._install(keys)

    def _can_reload(self) -> bool:
        return self._reload is not None


def verify_keys_from_jwks(jwks: Any) -> dict[str, VerifyKey]:
    """Ed25519 public keys by kid from a JWKS document ({"keys": [...]}); keys of other types are skipped."""
    keys: dict[str, VerifyKey] = {}
    for jwk in (jwks.get("keys") if isinstance(jwks, dict) else None) or []:
        if isinstance(jwk, dict) and jwk.get("kty") == "OKP" and jwk.get("crv") == "Ed25519":
            try:
                keys[str(jwk["kid"])] = VerifyKey(strict_b64url_decode(str(jwk["x"])))
            except (KeyError, ValueError, TypeError, binascii.Error):
                continue
    return keys


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
