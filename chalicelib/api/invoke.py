"""The invocation gateway (external-invocation.md §4): by uuid, by event, isImplemented.

The result goes out as JSON exactly as the function returned it; failures of the function's own code are 901.
"""

from __future__ import annotations

from chalice import Blueprint, Response
from chalice.app import Request

from chalicelib.api._wire import (
    authenticate,
    json_body,
    json_response,
    query_value,
    request_id,
    route,
)
from chalicelib.services.container import services
from chalicelib.services.invocations import Call

bp = Blueprint(__name__)
BASE = "/api/account/{account_id}"
INVOKE, INVOKE_EVENT = BASE + "/lambdas/{uuid}/invoke", BASE + "/events/{event_id}/invoke"
# served on the server process's event loop: they wait for function workers, and nothing else that takes long
LOOP_ROUTES = (INVOKE, INVOKE_EVENT)


def _call(req: Request) -> Call:
    source = req.headers.get("lp-eventsource") or query_value(req, "externalSystem") or "unknown"
    return Call(body=json_body(req), source=source[:200], skill_id=query_value(req, "skillId")[:500],
                request_id=request_id(req))


@route(bp, INVOKE, ["POST"], tag="invoke",
       summary="Invoke a deployed function; V1 ?v=1&skillId=&externalSystem=, V2 LP-EventSource header",
       body="{timestamp, headers: [{key, value}], payload}",
       responses={"200": "the function's result as JSON", "404": "unknown or not deployed", "901": "function failed"})
def invoke(account_id: str, uuid: str) -> Response:
    req = bp.current_request
    who = authenticate(req, account_id)
    call = _call(req)
    outcome = services().invocations.invoke(who, uuid, call)
    if who.kind == "user" and query_value(req, "userId"):
        return json_response({"result": outcome.result, "logs": outcome.logs})
    return json_response(outcome.result)


@route(bp, INVOKE_EVENT, ["POST"], tag="invoke",
       summary="Invoke every Productive function bound to the event (optionally by skillId); array of results",
       body="{timestamp, headers, payload}")
def invoke_event(account_id: str, event_id: str) -> Response:
    req = bp.current_request
    who = authenticate(req, account_id)
    call = _call(req)
    results = services().invocations.invoke_event(who, event_id, call)
    return json_response(results)


@route(bp, BASE + "/events/{event_id}/isImplemented", ["GET"], tag="invoke",
       summary="Whether a Productive function is bound to the event (and skill)", responses={"200": "{implemented}"})
def is_implemented(account_id: str, event_id: str) -> Response:
    who = authenticate(bp.current_request, account_id)
    found = services().invocations.bound(who, event_id, query_value(bp.current_request, "skillId"))
    return json_response({"implemented": bool(found)})
