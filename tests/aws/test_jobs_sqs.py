"""The job queue on AWS (moto): DynamoDB holds the jobs, SQS announces them, the app's SQS handler runs them, the
scheduled sweep re-announces lost messages; invocation records are written before a Lambda answers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import boto3
import pytest
from chalice.test import Client
from moto import mock_aws

from app import app
from chalicelib.clock import FrozenClock
from chalicelib.config import Settings
from chalicelib.domain.permissions import Principal, Role
from chalicelib.services.container import Services, build_services, use_services
from chalicelib.services.functions import FunctionChanges
from chalicelib.storage.base import Query
from chalicelib.storage.dynamodb import DynamoStore, create_table
from tests.api.conftest import NODE_CODE
from tests.conftest import ACCOUNT
from tests.fakes import FakeExecutor

DEV = Principal(ACCOUNT, "dev-1", "user", frozenset({Role.DEVELOPER}), login_name="dev")


class Flaky(FakeExecutor):
    def __init__(self) -> None:
        super().__init__()
        self.failures = 0

    def deploy(self, target: Any) -> None:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("throttled")
        super().deploy(target)


class Aws:
    def __init__(self, svc: Services, sqs: Any, url: str, clock: FrozenClock, executor: Flaky) -> None:
        self.svc, self.sqs, self.url, self.clock, self.executor = svc, sqs, url, clock, executor

    def receive(self) -> list[dict[str, Any]]:
        """Messages visible now (moto applies DelaySeconds in real time; tests read the delays instead)."""
        out = self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10, AttributeNames=["All"])
        return out.get("Messages", [])

    def deliver(self, messages: list[dict[str, Any]]) -> None:
        """What Lambda's SQS event source does: the app's handler, one message per event (batch_size=1)."""
        with use_services(self.svc), Client(app) as client:
            for message in messages:
                event = client.events.generate_sqs_event(message_bodies=[message["Body"]], queue_name="fngate-jobs")
                client.lambda_.invoke("run_jobs", event)


@pytest.fixture
def aws(tmp_path: Path) -> Iterator[Aws]:
    with mock_aws():
        db, sqs = boto3.client("dynamodb", region_name="us-east-1"), boto3.client("sqs", region_name="us-east-1")
        table = f"fngate-{uuid4().hex[:8]}"
        create_table(db, table)
        url = sqs.create_queue(QueueName=f"jobs-{uuid4().hex[:8]}")["QueueUrl"]
        clock, executor = FrozenClock(), Flaky()
        settings = Settings(data_dir=tmp_path, store="dynamodb", table_name=table, jobs="sqs", jobs_queue_url=url,
                            region="us-east-1", records="sync")
        svc = build_services(settings, store=DynamoStore(client=db, table_name=table), executor=executor,
                             clock=clock)
        yield Aws(svc, sqs, url, clock, executor)
        svc.close()


def create(svc: Services) -> str:
    return svc.functions.create(DEV, FunctionChanges(name=f"f{uuid4().hex[:6]}", description="d", code=NODE_CODE,
                                                     runtime="Node.js 20")).uuid


def test_a_deploy_is_announced_on_sqs_and_run_by_the_consumer_once(aws: Aws):
    uuid = create(aws.svc)
    aws.svc.deployments.deploy(DEV, uuid)
    assert aws.svc.functions.get(DEV, uuid).last_deployment.state == "deploying"  # nothing ran in the request
    messages = aws.receive()
    assert len(messages) == 1
    aws.deliver(messages + messages)  # SQS delivers at least once: the second delivery finds nothing to do
    assert aws.svc.functions.get(DEV, uuid).state.value == "Productive"
    assert len(aws.svc.deployments.history(DEV, uuid)) == 1 and aws.svc.jobs.pending() == []


def test_a_failed_attempt_is_announced_again_with_a_delay(aws: Aws):
    uuid = create(aws.svc)
    aws.executor.failures = 1
    aws.svc.deployments.deploy(DEV, uuid)
    aws.deliver(aws.receive())
    (job,) = aws.svc.jobs.pending()
    assert job.attempts == 1 and job.last_error == "ConnectionError: throttled"
    attrs = aws.sqs.get_queue_attributes(QueueUrl=aws.url, AttributeNames=["ApproximateNumberOfMessagesDelayed"])
    assert int(attrs["Attributes"]["ApproximateNumberOfMessagesDelayed"]) == 1  # the retry, after its backoff
    aws.clock.advance(600)
    aws.deliver([{"Body": json.dumps({"job": job.id})}])
    assert aws.svc.functions.get(DEV, uuid).state.value == "Productive"


def test_the_sweep_announces_jobs_whose_message_was_lost(aws: Aws):
    uuid = create(aws.svc)
    aws.svc.deployments.deploy(DEV, uuid)
    aws.receive()  # the message is lost (received by nobody who ran it)
    aws.sqs.purge_queue(QueueUrl=aws.url)
    aws.clock.advance(120)
    with use_services(aws.svc), Client(app) as client:
        client.lambda_.invoke("sweep_jobs", client.events.generate_cw_event(
            source="aws.events", detail_type="Scheduled Event", detail={}, resources=[]))
    messages = aws.receive()
    assert [json.loads(m["Body"])["job"] for m in messages] == [aws.svc.jobs.pending()[0].id]
    aws.deliver(messages)
    assert aws.svc.functions.get(DEV, uuid).state.value == "Productive"


def test_a_message_that_is_not_a_job_is_skipped(aws: Aws):
    aws.deliver([{"Body": "not json"}, {"Body": json.dumps({"job": "no-such-job"})}])
    assert aws.svc.jobs.pending() == []


def test_invocation_records_are_written_before_a_lambda_answers(aws: Aws):
    aws.svc.recorder.record(ACCOUNT, "fn-1", "0001", {"at": 1_700_000_000_000, "function_uuid": "fn-1",
                                                     "status": "SUCCEEDED", "duration_ms": 1.0})
    # no flush: the record is in the table already
    assert len(aws.svc.store.query(Query("invocation", f"{ACCOUNT}#fn-1"))) == 1


def test_lambda_settings_choose_sqs_jobs_and_synchronous_records():
    env = {"AWS_LAMBDA_FUNCTION_NAME": "fngate-api", "FNGATE_JOBS_QUEUE_URL": "https://sqs.example/q"}
    settings = Settings.from_env(env)
    assert settings.jobs == "sqs" and settings.records == "sync"
    assert Settings.from_env({}).jobs == "background" and Settings.from_env({}).records == "batched"
