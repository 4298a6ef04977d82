"""Background jobs: an account's pending and dead-lettered jobs and their retry (fngate's own routes), and on AWS
the SQS consumer that runs announced jobs plus the sweep that re-announces lost ones (see jobs/sqs.py)."""

from __future__ import annotations

import os
from typing import Any

from chalice import Blueprint, Rate, Response

from chalicelib.api._wire import authenticate, json_response, route
from chalicelib.jobs import Job
from chalicelib.services.container import services

bp = Blueprint(__name__)
BASE = "/api/account/{account_id}/jobs"
QUEUE_NAME = os.environ.get("FNGATE_JOBS_QUEUE", "fngate-jobs")  # the SQS queue's name, for `chalice package`


def render(job: Job) -> dict[str, Any]:
    iso = services().clock.iso
    return {"id": job.id, "kind": job.kind, "state": job.state, "group": job.group, "payload": job.payload,
            "attempts": job.attempts, "maxAttempts": job.max_attempts, "runAt": iso(job.run_at),
            "createdAt": iso(job.created_at), "updatedAt": iso(job.updated_at), "lastError": job.last_error,
            "errors": job.errors}


@route(bp, BASE, ["GET"], summary="The account's background jobs: ?state=pending (default) or dead (ours)",
       tag="jobs", responses={"200": "array of {id, kind, state, attempts, lastError, errors, ...}"})
def list_jobs(account_id: str) -> Response:
    who = authenticate(bp.current_request, account_id)
    params: Any = bp.current_request.query_params or {}
    state = params.get("state", "pending")
    return json_response([render(j) for j in services().job_admin.list(who, state)])


@route(bp, BASE + "/{job_id}/retry", ["POST"], summary="Queue a dead-lettered job again (ours)", tag="jobs",
       responses={"200": "the job, queued", "404": "no such dead job"})
def retry_job(account_id: str, job_id: str) -> Response:
    who = authenticate(bp.current_request, account_id)
    return json_response(render(services().job_admin.retry(who, job_id)))


@bp.on_sqs_message(queue=QUEUE_NAME, batch_size=1)
def run_jobs(event: Any) -> None:
    """AWS: run the jobs an SQS message announces; raising hands the message back to SQS for another try."""
    from chalicelib.jobs.sqs import consume

    consume(services().runner, [record.to_dict() for record in event])


@bp.schedule(Rate(1, unit=Rate.MINUTES))
def sweep_jobs(event: Any) -> None:
    """AWS: re-announce jobs that are overdue (a message lost between commit and send) and purge old dead ones."""
    services().runner.sweep()
