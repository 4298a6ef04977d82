"""Schedules on AWS: one EventBridge Scheduler schedule per fngate schedule, targeting the app's scheduled handler.

Why EventBridge Scheduler rather than EventBridge rules: rules evaluate cron in UTC only, so a schedule in
Europe/Berlin would drift by an hour twice a year; Scheduler takes the IANA zone (``ScheduleExpressionTimezone``)
and applies the same daylight-saving rules as the local scheduler (domain/schedules.py). It also holds a million
schedules per account where rules stop at 300 per bus. The target gets a CloudWatch-event-shaped input (what
Chalice's scheduled handler reads) naming the schedule; the handler claims the slot in the store, so a delivery
repeated by EventBridge runs nothing twice. Calls are idempotent (update, else create; delete ignores "not found"),
so the schedule-sync job that makes them can be retried until EventBridge matches the store.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

from chalicelib.domain.schedules import Schedule, aws_cron

DETAIL_TYPE, SOURCE = "fngate.schedule", "fngate.scheduler"


def schedule_name(schedule_id: str) -> str:
    return f"fngate-{schedule_id}"  # ≤ 64 characters of [0-9a-zA-Z-_.]: a uuid is 36


def target_input(schedule: Schedule) -> dict[str, Any]:
    """What the app's scheduled handler receives; ``<aws.scheduler.*>`` are filled in by EventBridge."""
    return {"version": "0", "id": "<aws.scheduler.execution-id>", "detail-type": DETAIL_TYPE, "source": SOURCE,
            "account": "", "time": "<aws.scheduler.scheduled-time>", "region": "", "resources": [],
            "detail": {"accountId": schedule.account_id, "scheduleId": schedule.id}}


class EventBridgeSync:
    def __init__(self, target_arn: str, role_arn: str, group: str = "default", client: Any = None,
                 region_name: str | None = None) -> None:
        if client is None:
            import boto3

            client = boto3.client("scheduler", region_name=region_name)
        self._client, self._target, self._role, self._group = client, target_arn, role_arn, group

    def describe(self, schedule: Schedule) -> dict[str, Any]:
        """The CreateSchedule / UpdateSchedule parameters for ``schedule``."""
        return {"Name": schedule_name(schedule.id), "GroupName": self._group,
                "ScheduleExpression": aws_cron(schedule.cron), "ScheduleExpressionTimezone": schedule.time_zone,
                "State": "ENABLED" if schedule.is_active else "DISABLED", "FlexibleTimeWindow": {"Mode": "OFF"},
                "Description": f"fngate {schedule.account_id} {schedule.function_uuid}"[:512],
                "Target": {"Arn": self._target, "RoleArn": self._role,
                           "Input": json.dumps(target_input(schedule)),
                           "RetryPolicy": {"MaximumRetryAttempts": 5, "MaximumEventAgeInSeconds": 300}}}

    def put(self, schedule: Schedule) -> None:
        params = self.describe(schedule)
        try:
            self._client.update_schedule(**params)
        except self._client.exceptions.ResourceNotFoundException:
            try:
                self._client.create_schedule(**params)
            except self._client.exceptions.ConflictException:  # created meanwhile by a retry of this job
                self._client.update_schedule(**params)

    def remove(self, schedule_id: str) -> None:
        with contextlib.suppress(self._client.exceptions.ResourceNotFoundException):
            self._client.delete_schedule(Name=schedule_name(schedule_id), GroupName=self._group)
