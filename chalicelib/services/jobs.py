"""What an account's users see of the job queue: its pending and dead-lettered jobs, and a retry of a dead one."""

from __future__ import annotations

from chalicelib.domain.errors import BadInput
from chalicelib.domain.permissions import Action, Principal, require
from chalicelib.jobs import Job, JobQueue

STATES = ("pending", "dead")


class JobService:
    def __init__(self, queue: JobQueue) -> None:
        self._queue = queue

    def list(self, who: Principal, state: str) -> list[Job]:
        require(who, "job", Action.READ)
        if state not in STATES:
            raise BadInput(detail=f"state must be one of {', '.join(STATES)}")
        if state == "dead":
            return self._queue.dead(who.account_id)
        return [j for j in self._queue.pending() if j.account_id == who.account_id]

    def retry(self, who: Principal, job_id: str) -> Job:
        """A dead job queued again with a fresh budget of attempts."""
        require(who, "job", Action.WRITE)
        return self._queue.revive(job_id, who.account_id)
