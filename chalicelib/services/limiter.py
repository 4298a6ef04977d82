"""Per-account admission control for invocations: a token bucket (rate) and an in-flight cap (concurrency).

Over either limit the caller gets TooManyRequests (429 + Retry-After) at once — never a queue that hangs.
LivePerson's clients retry 429 with a short back-off, so answering fast is what keeps them healthy.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

from chalicelib.domain.errors import TooManyRequests


class _Bucket:
    __slots__ = ("stamp", "tokens")

    def __init__(self, tokens: float, stamp: float) -> None:
        self.tokens, self.stamp = tokens, stamp


class _Admission:
    """The context manager admit() returns (a class: cheaper than a generator on the invoke path)."""

    __slots__ = ("_account_id", "_limiter")

    def __init__(self, limiter: AccountLimiter, account_id: str) -> None:
        self._limiter, self._account_id = limiter, account_id

    def __enter__(self) -> None:
        self._limiter._acquire(self._account_id)

    def __exit__(self, *exc: object) -> None:
        self._limiter._release(self._account_id)


class AccountLimiter:
    def __init__(self, rate_per_s: float, burst: float, max_in_flight: int,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._rate, self._burst, self._max = rate_per_s, max(burst, 1.0), max_in_flight
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._in_flight: dict[str, int] = {}
        self._lock = threading.Lock()

    def admit(self, account_id: str) -> _Admission:
        """``with limiter.admit(account):`` one invocation (TooManyRequests on entry if over a limit)."""
        return _Admission(self, account_id)

    def _release(self, account_id: str) -> None:
        with self._lock:
            self._in_flight[account_id] -= 1

    def _acquire(self, account_id: str) -> None:
        with self._lock:
            now = self._clock()  # read under the lock: a stamp must never move backwards (refill counted twice)
            bucket = self._buckets.get(account_id)
            if bucket is None:
                bucket = self._buckets[account_id] = _Bucket(self._burst, now)
            bucket.tokens = min(self._burst, bucket.tokens + (now - bucket.stamp) * self._rate)
            bucket.stamp = now
            if bucket.tokens < 1.0:
                wait = (1.0 - bucket.tokens) / self._rate if self._rate > 0 else 60.0
                raise TooManyRequests(detail=f"account {account_id} is over its invocation rate of "
                                             f"{self._rate:g}/s", retry_after=max(1, math.ceil(wait)))
            if self._in_flight.get(account_id, 0) >= self._max:
                raise TooManyRequests(detail=f"account {account_id} has {self._max} invocations in flight",
                                      retry_after=1)
            bucket.tokens -= 1.0
            self._in_flight[account_id] = self._in_flight.get(account_id, 0) + 1
