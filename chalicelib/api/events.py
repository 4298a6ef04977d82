"""The event catalogue and templates (events-and-bots.md §1)."""

from __future__ import annotations

from chalice import Blueprint, Response

from chalicelib.api._wire import authenticate, json_response, query_value, route
from chalicelib.domain.errors import NotFound
from chalicelib.domain.events import EVENTS, EVENTS_BY_ID, template
from chalicelib.domain.runtimes import find_runtime

bp = Blueprint(__name__)


@route(bp, "/api/account/{account_id}/events", ["GET"], summary="Event catalogue", tag="events")
def list_events(account_id: str) -> Response:
    authenticate(bp.current_request, account_id)
    return json_response([e.to_wire() for e in EVENTS])


@route(bp, "/api/account/{account_id}/events/{event_id}/template", ["GET"],
       summary="Runnable template for an event (?runtime=nodejs20|python3.11; event 'none' = no event)",
       tag="events")
def event_template(account_id: str, event_id: str) -> Response:
    authenticate(bp.current_request, account_id)
    event = EVENTS_BY_ID.get(event_id)
    if event is None and event_id != "none":
        raise NotFound(what="Event", key=event_id)
    runtime = find_runtime(query_value(bp.current_request, "runtime") or None)
    if runtime is None:
        raise NotFound(what="Runtime", key=query_value(bp.current_request, "runtime"))
    return json_response({"eventId": event_id, "runtime": runtime.id, "code": template(event, runtime)})
