"""The job queue on AWS: the store stays the queue's truth, SQS only carries "job X is ready" to a consumer Lambda.

Why a standard SQS queue in front of records in DynamoDB (a transactional outbox) rather than SQS alone: a job
must commit in the same transaction as the state change that needs it, which SQS cannot join; FIFO queues can't
delay single messages (retry backoff needs that) and their per-group order would only repeat the store's. So a
request commits the job with its change, then sends one message (before answering: nothing is left on a thread
of a frozen Lambda); the consumer runs the job under a conditional-write lease; retries are sent again with a
delay (up to SQS's 15 minutes, then again); a scheduled sweep re-announces jobs whose message was lost, and the
queue's redrive policy (infra/) parks a message that keeps failing to be consumed.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterable, Sequence
from typing import Any

from chalicelib.clock import Clock
from chalicelib.jobs.model import Job
from chalicelib.jobs.runner import JobRunner

log = logging.getLogger(__name__)
MAX_DELAY_S = 900  # SQS's longest delay
_BATCH = 10  # SQS's largest SendMessageBatch


class SqsDispatcher:
    def __init__(self, queue_url: str, clock: Clock, client: Any = None, region_name: str | None = None) -> None:
        if client is None:
            import boto3

            client = boto3.client("sqs", region_name=region_name)
        self._sqs, self._url, self._clock = client, queue_url, clock

    def notify(self, jobs: Sequence[Job]) -> None:
        now = self._clock.now()
        entries = [{"Id": str(i), "MessageBody": json.dumps({"job": job.id}),
                    "DelaySeconds": math.ceil(min(MAX_DELAY_S, max(0.0, job.run_at - now)))}
                   for i, job in enumerate(jobs)]
        for start in range(0, len(entries), _BATCH):
            out = self._sqs.send_message_batch(QueueUrl=self._url, Entries=entries[start:start + _BATCH])
            if out.get("Failed"):  # the sweep announces them again within a minute or two
                log.warning("SQS refused %d job messages: %s", len(out["Failed"]), out["Failed"][0])


def job_ids(records: Iterable[dict[str, Any]]) -> list[str]:
    """Job ids from an SQS event's records (bodies this module wrote); anything else is logged and skipped."""
    ids = []
    for record in records:
        try:
            ids.append(str(json.loads(record["body"])["job"]))
        except (KeyError, TypeError, ValueError):
            log.error("skipping a job message that is not ours: %.200r", record)
    return ids


def consume(runner: JobRunner, records: Iterable[dict[str, Any]]) -> int:
    """The consumer Lambda's body: run each announced job; a store failure raises, so SQS delivers it again."""
    return sum(runner.run_one(job_id) for job_id in job_ids(records))
