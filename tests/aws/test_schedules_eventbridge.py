"""Schedules on AWS (moto): each one mirrored as an EventBridge Scheduler schedule by a retried job, the app's
scheduled handler as its target (one run per slot however often EventBridge delivers), and the minute sweep."""

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
from chalicelib.domain.schedules import iso
from chalicelib.scheduler.eventbridge import schedule_name, target_input
from chalicelib.services.container import Services, build_services, use_services
from chalicelib.services.functions import FunctionChanges
from chalicelib.services.schedules import ScheduleChanges
from chalicelib.storage.dynamodb import DynamoStore, create_table
from tests.api.conftest import NODE_CODE
from tests.conftest import ACCOUNT
from tests.fakes import FakeExecutor

DEV = Principal(ACCOUNT, "dev-1", "user", frozenset({Role.DEVELOPER}), login_name="dev")
TARGET = "arn:aws:lambda:us-east-1:123456789012:function:fngate-prod-fire_schedules"
ROLE = "arn:aws:iam::123456789012:role/fngate-scheduler"
GROUP = "fngate"


class Aws:
    def __init__(self, svc: Services, scheduler: Any, clock: FrozenClock) -> None:
        self.svc, self.scheduler, self.clock = svc, scheduler, clock

    def remote(self, schedule_id: str) -> dict[str, Any] | None:
        try:
            return self.scheduler.get_schedule(Name=schedule_name(schedule_id), GroupName=GROUP)
        except self.scheduler.exceptions.ResourceNotFoundException:
            return None

    def deliver(self, event: dict[str, Any], function: str = "fire_schedules") -> None:
        with use_services(self.svc), Client(app) as client:
            client.lambda_.invoke(function, event)


@pytest.fixture
def aws(tmp_path: Path) -> Iterator[Aws]:
    with mock_aws():
        db, scheduler = boto3.client("dynamodb", region_name="us-east-1"), boto3.client("scheduler", "us-east-1")
        table = f"fngate-{uuid4().hex[:8]}"
        create_table(db, table)
        scheduler.create_schedule_group(Name=GROUP)
        clock = FrozenClock()
        settings = Settings(data_dir=tmp_path, store="dynamodb", table_name=table, jobs="inline", region="us-east-1",
                            records="sync", scheduler="eventbridge", scheduler_target_arn=TARGET,
                            scheduler_role_arn=ROLE, scheduler_group=GROUP)
        svc = build_services(settings, store=DynamoStore(client=db, table_name=table), executor=FakeExecutor(),
                             clock=clock)
        yield Aws(svc, scheduler, clock)
        svc.close()


def deployed(svc: Services) -> str:
    fn = svc.functions.create(DEV, FunctionChanges(name=f"f{uuid4().hex[:6]}", description="d", code=NODE_CODE,
                                                   runtime="Node.js 20"))
    svc.deployments.deploy(DEV, fn.uuid)
    return fn.uuid


def test_create_update_disable_and_delete_keep_eventbridge_in_sync(aws: Aws):
    uuid = deployed(aws.svc)
    s = aws.svc.schedules.create(DEV, ScheduleChanges(function_uuid=uuid, cron="0 9 * * 1-5",
                                                      time_zone="Europe/Berlin"))
    remote = aws.remote(s.id)
    assert remote["ScheduleExpression"] == "cron(0 9 ? * MON-FRI *)"
    assert remote["ScheduleExpressionTimezone"] == "Europe/Berlin" and remote["State"] == "ENABLED"
    assert remote["Target"]["Arn"] == TARGET and remote["Target"]["RoleArn"] == ROLE
    assert json.loads(remote["Target"]["Input"])["detail"] == {"accountId": ACCOUNT, "scheduleId": s.id}
    assert remote["FlexibleTimeWindow"] == {"Mode": "OFF"}

    aws.svc.schedules.update(DEV, s.id, ScheduleChanges(cron="*/15 * * * *", is_active=False))
    remote = aws.remote(s.id)
    assert remote["ScheduleExpression"] == "cron(0/15 * * * ? *)" and remote["State"] == "DISABLED"

    aws.svc.schedules.delete(DEV, s.id)
    assert aws.remote(s.id) is None
    assert aws.svc.jobs.pending() == []


def test_a_failed_aws_call_is_retried_until_eventbridge_matches_the_store(aws: Aws):
    # GIVEN EventBridge refuses calls (the schedule group is gone)
    aws.scheduler.delete_schedule_group(Name=GROUP)
    uuid = deployed(aws.svc)
    # WHEN a schedule is created
    s = aws.svc.schedules.create(DEV, ScheduleChanges(function_uuid=uuid, cron="* * * * *"))
    # THEN the store has it, and the sync job waits for a retry with the error
    (job,) = aws.svc.jobs.pending()
    assert job.kind == "schedule-sync" and job.attempts == 1 and job.last_error  # moto's error for a missing group
    assert aws.svc.schedules.get(DEV, s.id).is_active and aws.remote(s.id) is None
    # WHEN EventBridge works again and the retry comes due
    aws.scheduler.create_schedule_group(Name=GROUP)
    aws.clock.advance(600)
    aws.svc.runner.drain()
    # THEN both agree; and a delete made while it failed ends with nothing left on either side
    assert aws.remote(s.id)["ScheduleExpression"] == "cron(* * * * ? *)"
    aws.scheduler.delete_schedule_group(Name=GROUP)
    aws.svc.schedules.delete(DEV, s.id)
    aws.scheduler.create_schedule_group(Name=GROUP)
    aws.clock.advance(600)
    aws.svc.runner.drain()
    assert aws.remote(s.id) is None and aws.svc.jobs.pending() == []


def test_sync_is_idempotent_whatever_eventbridge_already_has(aws: Aws):
    uuid = deployed(aws.svc)
    s = aws.svc.schedules.create(DEV, ScheduleChanges(function_uuid=uuid, cron="5 * * * *"))
    sync = aws.svc.schedules._sync
    sync.put(s), sync.put(s)  # already there: updated in place
    aws.scheduler.delete_schedule(Name=schedule_name(s.id), GroupName=GROUP)
    sync.put(s)  # gone behind our back: created again
    assert aws.remote(s.id)["ScheduleExpression"] == "cron(5 * * * ? *)"
    sync.remove(s.id), sync.remove(s.id)
    assert aws.remote(s.id) is None


def _delivered(s_input: dict[str, Any], due: float) -> dict[str, Any]:
    """The input as EventBridge Scheduler delivers it: its placeholders filled in."""
    event = json.loads(json.dumps(s_input))
    event.update(id=str(uuid4()), time=iso(due))
    return event


def test_the_eventbridge_target_runs_each_slot_once_however_often_it_is_delivered(aws: Aws):
    uuid = deployed(aws.svc)
    s = aws.svc.schedules.create(DEV, ScheduleChanges(function_uuid=uuid, cron="* * * * *", payload={"p": 1}))
    event = _delivered(target_input(s), s.next_due)
    aws.clock.t = s.next_due - 30
    aws.deliver(event)  # far too early: ignored
    assert aws.svc.executor.invocations == []
    aws.clock.t = s.next_due - 2  # a little early (clock skew): claimed, and its run waits for the slot
    aws.deliver(event)
    (job,) = aws.svc.jobs.pending()
    assert job.kind == "schedule-run" and job.run_at == s.next_due and aws.svc.executor.invocations == []
    aws.clock.t = s.next_due + 0.4
    aws.deliver(event)  # EventBridge delivers at least once: the slot is claimed already
    aws.svc.runner.drain()
    assert len(aws.svc.executor.invocations) == 1
    (run,) = aws.svc.schedules.runs(DEV, s.id)
    assert run.status == "SUCCEEDED" and run.due == s.next_due


def test_the_minute_sweep_runs_slots_eventbridge_did_not_deliver(aws: Aws):
    uuid = deployed(aws.svc)
    s = aws.svc.schedules.create(DEV, ScheduleChanges(function_uuid=uuid, cron="* * * * *"))
    aws.clock.t = s.next_due + 20
    with use_services(aws.svc), Client(app) as client:
        client.lambda_.invoke("fire_schedules", client.events.generate_cw_event(
            source="aws.events", detail_type="Scheduled Event", detail={}, resources=[]))
    assert len(aws.svc.executor.invocations) == 1
    assert aws.svc.schedules.get(DEV, s.id).next_due == s.next_due + 60


def test_scheduler_settings_choose_eventbridge_when_a_target_is_configured():
    settings = Settings.from_env({"FNGATE_SCHEDULER_TARGET_ARN": TARGET, "FNGATE_SCHEDULER_ROLE_ARN": ROLE})
    assert settings.scheduler == "eventbridge" and settings.scheduler_group == "default"
    assert Settings.from_env({}).scheduler == "local"
