"""A job as the queue keeps it: plain data plus the retry rule, no I/O.

Jobs are records of the Store (kind ``job``): pending ones in partition ``live`` (queued or running under a
lease), failed-for-good ones in partition ``dead`` (kept with their error until retried or purged). Ids sort by
creation time, so "earlier in the same group" is "smaller id".
"""

from __future__ import annotations

import itertools
import os
import random
import time
from dataclasses import dataclass, field, replace
from typing import Any

from chalicelib.domain.models import Document

KIND = "job"
LIVE, DEAD = "live", "dead"  # the two partitions
QUEUED, RUNNING, FAILED = "queued", "running", "dead"  # a job's states

_counter = itertools.count()


def new_id(now: float) -> str:
    """Time-ordered and unique across processes: ms since the epoch, a per-process counter, pid and randomness."""
    return f"{int(now * 1000):013d}-{next(_counter) % 1_000_000:06d}-{os.getpid() % 100_000:05d}" \
           f"{random.getrandbits(24):06x}"


@dataclass(frozen=True)
class Job(Document):
    id: str
    kind: str
    payload: dict[str, Any]
    account_id: str = ""
    group: str = ""  # jobs of one group run one at a time, in id order ("" = no ordering)
    state: str = QUEUED
    attempts: int = 0  # claims so far (a claim whose worker vanished counts too)
    max_attempts: int = 5
    run_at: float = 0.0  # not before (epoch s): backoff after a failure, or a delay asked at enqueue
    lease_owner: str = ""
    lease_until: float = 0.0
    created_at: float = 0.0
    updated_at: float = 0.0
    last_error: str = ""
    errors: list[str] = field(default_factory=list)  # one line per failed attempt, the latest last (max 10)

    def leased(self, now: float) -> bool:
        return self.state == RUNNING and self.lease_until > now

    def claimed(self, owner: str, now: float, lease_s: float) -> Job:
        return replace(self, state=RUNNING, attempts=self.attempts + 1, lease_owner=owner,
                       lease_until=now + lease_s, updated_at=now)

    def failed(self, error: str, now: float, retry_at: float | None) -> Job:
        """After a failed attempt: queued again at ``retry_at``, or dead (None)."""
        errors = [*self.errors, error][-10:]
        return replace(self, state=QUEUED if retry_at is not None else FAILED, run_at=retry_at or self.run_at,
                       lease_owner="", lease_until=0.0, updated_at=now, last_error=error, errors=errors)


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with full jitter: attempt n waits up to base * 2**(n-1), capped."""

    base_s: float = 1.0
    max_s: float = 300.0

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        ceiling = min(self.max_s, self.base_s * 2 ** max(0, attempt - 1))
        return ceiling / 2 + (rng or random).random() * ceiling / 2  # at least half: never a tight loop


def now_s() -> float:
    return time.time()
