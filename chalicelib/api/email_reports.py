"""Email reports (ours; seed 001 Settings → email reports): settings, recipients, deliveries, a test send, and on
AWS the scheduled tick that enqueues due reports (locally a thread of `fngate serve` does it)."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint, Rate, Response

from chalicelib.api._wire import authenticate, json_response, object_body, route
from chalicelib.services.container import services

bp = Blueprint(__name__)
BASE = "/api/account/{account_id}/emailReports"


@route(bp, BASE, ["GET"], tag="emailReports", summary="Email report settings and recipients (ours)",
       responses={"200": "{settings: {enabled, frequency, lastError, ...}, recipients: [{email, addedAt, addedBy}]}"})
def get_email_reports(account_id: str) -> Response:
    who = authenticate(bp.current_request, account_id)
    return json_response(services().email_reports.get(who))


@route(bp, BASE + "/settings", ["PUT"], tag="emailReports", summary="Turn email reports on or off (ours; admins)",
       body="{enabled: bool, frequency: daily | weekly}")
def put_settings(account_id: str) -> Response:
    who = authenticate(bp.current_request, account_id)
    body = object_body(bp.current_request)
    return json_response(services().email_reports.update_settings(who, body.get("enabled"),
                                                                   body.get("frequency", "daily")))


@route(bp, BASE + "/recipients", ["POST"], tag="emailReports", summary="Add a recipient (ours)", body="{email}",
       responses={"201": "{email, addedAt, addedBy}"})
def add_recipient(account_id: str) -> Response:
    who = authenticate(bp.current_request, account_id)
    body = object_body(bp.current_request)
    return json_response(services().email_reports.add_recipient(who, body.get("email")), status=201)


@route(bp, BASE + "/recipients/{email}", ["DELETE"], tag="emailReports", summary="Remove a recipient (ours)")
def remove_recipient(account_id: str, email: str) -> Response:
    who = authenticate(bp.current_request, account_id)
    services().email_reports.remove_recipient(who, email)
    return json_response({"message": "Recipient removed"})


@route(bp, BASE + "/deliveries", ["GET"], tag="emailReports",
       summary="Reports sent, retrying, failed or skipped, newest first (ours)",
       responses={"200": "[{delivery, period, state, attempts, errors, messageId, recipients, ...}]"})
def deliveries(account_id: str) -> Response:
    who = authenticate(bp.current_request, account_id)
    return json_response(services().email_reports.deliveries(who))


@route(bp, BASE + "/send", ["POST"], tag="emailReports",
       summary="Send the last complete period's report now (ours; admins)", responses={"202": "the delivery, queued"})
def send_now(account_id: str) -> Response:
    who = authenticate(bp.current_request, account_id)
    return json_response(services().email_reports.send_now(who), status=202)


@bp.schedule(Rate(15, unit=Rate.MINUTES))
def email_report_tick(event: Any) -> None:
    """AWS: enqueue the reports that are due (each period once, whoever ticks)."""
    services().email_reports.tick()
