"""Backoff for guessed credentials: failures per login name (or client id) and per client address.

Each key allows a few failures freely; every failure beyond them locks the key for twice as long as the last one
(1 s, 2 s, 4 s … up to ``MAX_LOCK_S``) and a locked key answers 429 with Retry-After before any password or secret
is checked. A success clears the name's count (not the address's); failures are forgotten after ``WINDOW_S`` without
one. State lives in the Store (kind ``throttle``), so every gateway process and Lambda container sees the same
counts; writes are conditional on the record's version and retried, so concurrent failures all count.
"""

from __future__ import annotations

import contextlib
import logging
import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from chalicelib.clock import Clock
from chalicelib.domain.errors import TooManyRequests, VersionConflict
from chalicelib.storage.base import MUST_NOT_EXIST, Store

log = logging.getLogger("fngate.audit")
KIND = "throttle"
WINDOW_S = 900.0
MAX_LOCK_S = 300.0
_WRITE_ATTEMPTS = 5


@dataclass(frozen=True)
class ThrottleKey:
    """What is counted (``scope``: "login", "client", "address") and whose it is; ``free`` failures cost nothing."""

    scope: str
    name: str
    free: int


def login_keys(account_id: str, login: str, address: str) -> tuple[ThrottleKey, ...]:
    return ThrottleKey("login", f"{account_id}/{login.lower()[:200]}", 5), _address_key(address)


def client_keys(account_id: str, client_id: str, address: str) -> tuple[ThrottleKey, ...]:
    return ThrottleKey("client", f"{account_id}/{client_id[:200]}", 5), _address_key(address)


def _address_key(address: str) -> ThrottleKey:
    return ThrottleKey("address", address[:64] or "unknown", 20)


class Throttle:
    def __init__(self, store: Store, clock: Clock) -> None:
        self._store, self._clock = store, clock

    def check(self, keys: Sequence[ThrottleKey]) -> None:
        """TooManyRequests (with the seconds to wait) while any key is locked."""
        now = self._clock.now()
        wait = max((self._locked_until(key) - now for key in keys), default=0.0)
        if wait > 0:
            raise TooManyRequests(detail="Too many failed attempts; retry later", retry_after=max(1, math.ceil(wait)))

    def failed(self, keys: Sequence[ThrottleKey]) -> None:
        for key in keys:
            self._count_failure(key)

    def succeeded(self, key: ThrottleKey) -> None:
        with contextlib.suppress(VersionConflict):
            self._store.delete(KIND, key.scope, key.name)

    def _locked_until(self, key: ThrottleKey) -> float:
        record = self._store.get(KIND, key.scope, key.name)
        return float(record.data.get("locked_until", 0.0)) if record else 0.0

    def _count_failure(self, key: ThrottleKey) -> None:
        for _ in range(_WRITE_ATTEMPTS):
            now = self._clock.now()
            record = self._store.get(KIND, key.scope, key.name)
            data = dict(record.data) if record else {}
            failures = 0 if now - float(data.get("last", now)) > WINDOW_S else int(data.get("failures", 0))
            failures += 1
            over = failures - key.free
            locked_until = now + min(MAX_LOCK_S, 2.0 ** (over - 1)) if over > 0 else 0.0
            try:
                self._store.put(KIND, key.scope, key.name,
                                {"failures": failures, "last": now, "locked_until": locked_until},
                                expected_version=record.version if record else MUST_NOT_EXIST)
                return
            except VersionConflict:
                continue  # another process counted a failure at the same time: count ours on top of it


def audit(store: Store, clock: Clock, account_id: str, event: str, **fields: str) -> None:
    """One audit record (kind ``audit``, by account, ordered by time) and one log line."""
    at = clock.iso()
    store.put("audit", account_id, f"{at}#{uuid.uuid4().hex[:12]}", {"event": event, "at": at, **fields})
    log.warning("%s account=%s %s", event, account_id, " ".join(f"{k}={v!r}" for k, v in fields.items()))
