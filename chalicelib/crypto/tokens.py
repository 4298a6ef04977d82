"""JWTs signed with Ed25519 (alg EdDSA), the token format LivePerson's clients decode (they read `exp`).

PyNaCl does the signing; the JWT framing is a few lines, so no JWT library is needed. Verified tokens are cached
(bounded) because the invoke hot path sees the same token on every call.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections import OrderedDict
from typing import Any

from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey

from chalicelib.domain.errors import NotAuthenticated

_CACHE_MAX = 4096


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TokenSigner:
    """Signs and verifies EdDSA JWTs with one key; ``kid`` lets a future key rotation verify old tokens."""

    def __init__(self, seed: bytes, *, kid: str = "k1", clock: Any = time.time) -> None:
        self._key = SigningKey(seed)
        self._verify_key = self._key.verify_key
        self._kid = kid
        self._clock = clock
        self._header = b64url(json.dumps({"alg": "EdDSA", "typ": "JWT", "kid": kid}, separators=(",", ":")).encode())
        self._cache: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def public_jwk(self) -> dict[str, str]:
        return {"kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig", "kid": self._kid,
                "x": b64url(bytes(self._verify_key))}

    def now(self) -> float:
        """This signer's clock (what ``exp`` is compared with)."""
        return self._clock()

    def sign(self, claims: dict[str, Any], ttl_s: int) -> str:
        now = int(self._clock())
        body = {**claims, "iat": now, "exp": now + ttl_s}
        payload = b64url(json.dumps(body, separators=(",", ":")).encode())
        signing_input = f"{self._header}.{payload}".encode()
        return f"{self._header}.{payload}.{b64url(self._key.sign(signing_input).signature)}"

    def verify(self, token: str) -> dict[str, Any]:
        """The token's claims; NotAuthenticated if malformed, forged or expired."""
        claims = self._cached(token)
        if claims is None:
            claims = self._verify_signature(token)
            with self._lock:
                self._cache[token] = claims
                if len(self._cache) > _CACHE_MAX:
                    self._cache.popitem(last=False)
        if not isinstance(claims.get("exp"), int) or claims["exp"] <= self._clock():
            raise NotAuthenticated(detail="Token expired")
        return claims

    def _cached(self, token: str) -> dict[str, Any] | None:
        with self._lock:
            return self._cache.get(token)

    def _verify_signature(self, token: str) -> dict[str, Any]:
        try:
            header, payload, signature = token.split(".")
            if json.loads(b64url_decode(header)).get("alg") != "EdDSA":
                raise ValueError("unsupported alg")
            self._verify_key.verify(f"{header}.{payload}".encode(), b64url_decode(signature))
            claims = json.loads(b64url_decode(payload))
        except (ValueError, TypeError, BadSignatureError, UnicodeDecodeError):
            raise NotAuthenticated(detail="Invalid token") from None
        if not isinstance(claims, dict):
            raise NotAuthenticated(detail="Invalid token")
        return claims
