"""Schedules in both dialects (management-api.md §3.2 V1 schedule object, §4.4 V2 ``LPSchedule``), fngate's run-now
and run history, and the scheduled handler that fires them on AWS (EventBridge Scheduler target + minute sweep)."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint, Rate, Response

from chalicelib.api._wire import Dialect, authenticate, dialect_of, json_response, object_body, route
from chalicelib.api.schemas import (
    ANY,
    BOOL,
    COMPONENTS,
    INT,
    MESSAGE,
    NSTR,
    OPERATIONS,
    STR,
    arr,
    json_body,
    obj,
    ok,
    ref,
)
from chalicelib.domain.schedules import Run, Schedule, iso
from chalicelib.services.container import services
from chalicelib.services.schedules import ScheduleChanges

bp = Blueprint(__name__)
BASE = "/api/account/{account_id}/schedules"
_V2_BODY = "{functionUuid (or lambdaUUID), cronExpression, isActive?, description?, timeZone?, " \
           "invocationBody?: {headers?, payload?}}"

# The routes' JSON Schemas, registered beside the others of api/schemas.py (what /openapi.json publishes).
_NULLABLE_OBJ = {"type": "object", "nullable": True}
COMPONENTS.update({
    "ScheduleV1": obj(("uuid", "lambdaUUID", "cronExpression", "isActive"), uuid=STR, lambdaUUID=STR,
                      cronExpression=STR, isActive=BOOL, didLastExecutionFail=BOOL, lastExecution=NSTR,
                      nextExecution=NSTR, createdBy=STR),
    "ScheduleV2": obj(("id", "functionUuid", "cronExpression", "isActive"), id=STR, functionUuid=STR,
                      cronExpression=STR, isActive=BOOL, description=STR, timeZone=STR,
                      invocationBody=obj(headers=ANY, payload=ANY), nextExecution=NSTR, lastExecution=NSTR,
                      didLastExecutionFail=BOOL),
    "Schedule": {"anyOf": [ref("ScheduleV1"), ref("ScheduleV2")]},
    "ScheduleRequest": obj(lambdaUUID=NSTR, functionUuid=NSTR, cronExpression=STR, isActive=BOOL, description=NSTR,
                           timeZone=NSTR, invocationBody={**_NULLABLE_OBJ, "properties": {"headers": ANY,
                                                                                           "payload": ANY}},
                           uuid=ANY, timestamp=ANY),
    "SchedulePreviewRequest": obj(cronExpression=ANY, timeZone=ANY, count=ANY),
    "SchedulePreview": obj(("cronExpression", "timeZone", "nextRuns"), cronExpression=STR, timeZone=STR,
                           nextRuns=arr(STR), awsCron=STR),
    "ScheduleRun": obj(("dueAt", "status", "trigger"), dueAt=NSTR, startedAt=NSTR,
                       durationMs={"type": "number", "nullable": True}, status=STR, trigger=STR, missed=INT,
                       requestId=NSTR, errorCode=NSTR, errorMessage=NSTR),
})
_S, _ONE = "/api/account/{account_id}/schedules", "/api/account/{account_id}/schedules/{schedule_id}"
OPERATIONS.update({
    ("GET", _S): (None, ok(arr(ref("Schedule")))),
    ("POST", _S): (json_body("ScheduleRequest"), ok(ref("Schedule"), "201")),
    ("POST", _S + "/preview"): (json_body("SchedulePreviewRequest"), ok(ref("SchedulePreview"))),
    ("GET", _ONE): (None, ok(ref("Schedule"))),
    ("PUT", _ONE): (json_body("ScheduleRequest"), ok(ref("Schedule"))),
    ("DELETE", _ONE): (None, MESSAGE),
    ("POST", _ONE + "/run"): (None, ok(ref("ScheduleRun"), "202")),
    ("GET", _ONE + "/runs"): (None, ok(arr(ref("ScheduleRun")))),
})


def v1_schedule(s: Schedule) -> dict[str, Any]:
    return {"uuid": s.id, "lambdaUUID": s.function_uuid, "cronExpression": s.cron, "isActive": s.is_active,
            "didLastExecutionFail": s.did_last_execution_fail, "lastExecution": s.last_execution or None,
            "nextExecution": iso(s.next_due), "createdBy": s.created_by}


def v2_schedule(s: Schedule) -> dict[str, Any]:
    return {"id": s.id, "functionUuid": s.function_uuid, "cronExpression": s.cron, "isActive": s.is_active,
            "description": s.description, "timeZone": s.time_zone,
            "invocationBody": {"headers": s.headers, "payload": s.payload}, "nextExecution": iso(s.next_due),
            "lastExecution": s.last_execution or None, "didLastExecutionFail": s.did_last_execution_fail}


def render(s: Schedule, dialect: Dialect) -> dict[str, Any]:
    return v1_schedule(s) if dialect is Dialect.V1 else v2_schedule(s)


def render_run(run: Run, dialect: Dialect) -> dict[str, Any]:
    return {"dueAt": iso(run.due), "startedAt": iso(run.started), "durationMs": run.duration_ms,
            "status": run.status, "trigger": run.trigger, "missed": run.missed, "requestId": run.request_id or None,
            "errorCode": (run.error_code if dialect is Dialect.V1 else run.error_v2_code) or None,
            "errorMessage": run.error_message or None}


def changes(body: dict[str, Any]) -> ScheduleChanges:
    """Either dialect's body: V1 names the function ``lambdaUUID``, V2 ``functionUuid`` (both accepted)."""
    fields: dict[str, Any] = {}
    for wire, name in (("cronExpression", "cron"), ("isActive", "is_active"), ("description", "description"),
                       ("timeZone", "time_zone")):
        if wire in body:
            fields[name] = body[wire]
    function = body.get("functionUuid") or body.get("lambdaUUID")
    if function is not None:
        fields["function_uuid"] = function
    invocation = body.get("invocationBody")
    if isinstance(invocation, dict):
        if "headers" in invocation:
            fields["headers"] = invocation["headers"]
        if "payload" in invocation:
            fields["payload"] = invocation["payload"]
    elif invocation is not None:
        fields["headers"] = invocation  # not an object: the headers check names the field
    return ScheduleChanges(**fields)


@route(bp, BASE, ["GET"], summary="List the account's schedules (V1 schedule objects with v=1, else LPSchedule)",
       tag="schedules")
def list_schedules(account_id: str) -> Response:
    who = authenticate(bp.current_request, account_id)
    dialect = dialect_of(bp.current_request)
    return json_response([render(s, dialect) for s in services().schedules.list_schedules(who)])


@route(bp, BASE, ["POST"], summary="Create a schedule", tag="schedules",
       body="V1 {lambdaUUID, cronExpression, isActive, uuid: ''} | V2 " + _V2_BODY,
       responses={"201": "the schedule (V1 object or LPSchedule)", "400": "invalid field (named)",
                  "409": "limit reached"})
def create_schedule(account_id: str) -> Response:
    who = authenticate(bp.current_request, account_id)
    dialect = dialect_of(bp.current_request)
    schedule = services().schedules.create(who, changes(object_body(bp.current_request)), v1=dialect is Dialect.V1)
    return json_response(render(schedule, dialect), status=201)


@route(bp, BASE + "/preview", ["POST"], tag="schedules", body="{cronExpression, timeZone?, count?: 1-20 (5)}",
       summary="The next runs of a cron expression in a time zone, as the scheduler computes them (ours; the web "
               "UI's cron helper)", responses={"200": "{cronExpression, timeZone, nextRuns: [ISO times], awsCron}",
                                               "400": "invalid field (named)"})
def preview_schedule(account_id: str) -> Response:
    who = authenticate(bp.current_request, account_id)
    body = object_body(bp.current_request)
    count = {"count": body["count"]} if "count" in body else {}
    return json_response(services().schedules.preview(who, body.get("cronExpression"), body.get("timeZone"), **count))


@route(bp, BASE + "/{schedule_id}", ["GET"], summary="One schedule", tag="schedules")
def get_schedule(account_id: str, schedule_id: str) -> Response:
    who = authenticate(bp.current_request, account_id)
    return json_response(render(services().schedules.get(who, schedule_id), dialect_of(bp.current_request)))


@route(bp, BASE + "/{schedule_id}", ["PUT"], summary="Update a schedule (any subset of its fields; isActive "
       "enables or disables it)", tag="schedules", body=_V2_BODY)
def update_schedule(account_id: str, schedule_id: str) -> Response:
    who = authenticate(bp.current_request, account_id)
    schedule = services().schedules.update(who, schedule_id, changes(object_body(bp.current_request)))
    return json_response(render(schedule, dialect_of(bp.current_request)))


@route(bp, BASE + "/{schedule_id}", ["DELETE"], summary="Delete a schedule", tag="schedules")
def delete_schedule(account_id: str, schedule_id: str) -> Response:
    who = authenticate(bp.current_request, account_id)
    services().schedules.delete(who, schedule_id)
    return json_response({"message": "Successfully deleted schedule"})


@route(bp, BASE + "/{schedule_id}/run", ["POST"], summary="Run a schedule's function now, outside its schedule "
       "(ours)", tag="schedules", responses={"202": "the queued run"})
def run_schedule(account_id: str, schedule_id: str) -> Response:
    who = authenticate(bp.current_request, account_id)
    run = services().schedules.run_now(who, schedule_id)
    return json_response(render_run(run, dialect_of(bp.current_request)), status=202)


@route(bp, BASE + "/{schedule_id}/runs", ["GET"], summary="The schedule's last 50 runs, newest first: due time, "
       "start, duration, status, error code, request id (ours)", tag="schedules")
def schedule_runs(account_id: str, schedule_id: str) -> Response:
    who = authenticate(bp.current_request, account_id)
    dialect = dialect_of(bp.current_request)
    return json_response([render_run(r, dialect) for r in services().schedules.runs(who, schedule_id)])


@bp.schedule(Rate(1, unit=Rate.MINUTES))
def fire_schedules(event: Any) -> None:
    """AWS: the EventBridge Scheduler target (the input names one schedule: claim its due slot) and, every minute,
    the sweep that claims any slot still due (a delivery EventBridge lost, or a catch-up)."""
    detail = event.detail if isinstance(event.detail, dict) else {}
    if detail.get("scheduleId") and detail.get("accountId"):
        services().schedules.fire(str(detail["accountId"]), str(detail["scheduleId"]))
    else:
        services().schedules.fire_due()
