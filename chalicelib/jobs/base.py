"""What the job queue's parts agree on: a handler's contract and the Dispatcher protocol.

A handler must be idempotent: a job can run more than once (its worker vanished after doing the work but before
saying so, or an SQS message arrived twice). It raises to ask for a retry; it returns to say the job is done.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from chalicelib.jobs.model import Backoff, Job


@dataclass(frozen=True)
class Handler:
    kind: str
    run: Callable[[Job], None]
    # Called once a job has failed for good (before it is dead-lettered), so the state it guards never stays
    # "in progress": a deploy becomes Deploy Error with the cause. Must be idempotent, like ``run``.
    on_dead: Callable[[Job, str], None] | None = None
    max_attempts: int = 5
    concurrency: int = 4  # jobs of this kind running at once (exact per runner; best effort across runners)
    lease_s: float = 60.0  # a running job's lease; extended every lease_s / 3 while it runs
    backoff: Backoff = field(default_factory=Backoff)


class Dispatcher(Protocol):
    """Tells whoever drains the queue that jobs are ready (or will be at their ``run_at``)."""

    def notify(self, jobs: Sequence[Job]) -> None:
        ...


class NoDispatch:
    """For processes that only enqueue (admin commands): a running gateway's runner polls the store."""

    def notify(self, jobs: Sequence[Job]) -> None:
        return None
