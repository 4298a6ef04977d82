"""Password hashing with scrypt (memory-hard, in the standard library): no extra native dependency."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

_N, _R, _P, _LEN = 2**14, 8, 1, 32  # 16 MiB of memory per hash; ~50 ms on this class of machine


def hash_password(password: str) -> str:
    salt = os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=_LEN)
    return "$".join(("scrypt", str(_N), str(_R), str(_P), _b64(salt), _b64(digest)))


def verify_password(password: str, encoded: str) -> bool:
    """Constant-time check; a malformed stored hash never verifies."""
    try:
        scheme, n, r, p, salt, digest = encoded.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.urlsafe_b64decode(digest + "==")
        actual = hashlib.scrypt(password.encode(), salt=base64.urlsafe_b64decode(salt + "=="),
                                n=int(n), r=int(r), p=int(p), dklen=len(expected))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


_DUMMY: list[str] = []


def dummy_hash() -> str:
    """A hash of no one's password, with the same cost parameters: checking it costs what a real check costs."""
    if not _DUMMY:
        _DUMMY.append(hash_password(base64.b64encode(os.urandom(18)).decode()))
    return _DUMMY[0]
