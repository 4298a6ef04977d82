"""V1 management dialect: /lambdas and /runtimes (management-api.md §3)."""

from __future__ import annotations

from chalice import Blueprint, Response

from chalicelib.api._wire import authenticate, json_response, object_body, query_list, query_value, route
from chalicelib.api.parse import optional_int, v1_changes
from chalicelib.api.render import v1_lambda, v1_runtime
from chalicelib.domain.runtimes import RUNTIMES
from chalicelib.services.container import services

bp = Blueprint(__name__)
BASE = "/api/account/{account_id}"


@route(bp, BASE + "/lambdas", ["GET"], summary="List functions (V1); filters eventId, state (repeatable), name",
       tag="lambdas", responses={"200": "array of V1 lambda objects"})
def list_lambdas(account_id: str) -> Response:
    who = authenticate(bp.current_request, account_id)
    found = services().functions.list(who, event_id=query_value(bp.current_request, "eventId") or None,
                                      states=query_list(bp.current_request, "state"),
                                      name=query_value(bp.current_request, "name") or None)
    return json_response([v1_lambda(f) for f in found])


@route(bp, BASE + "/lambdas", ["POST"], summary="Create a function (V1 lambda object)", tag="lambdas",
       body="V1 lambda object", responses={"201": "the created lambda"})
def create_lambda(account_id: str) -> Response:
    who = authenticate(bp.current_request, account_id)
    fn = services().functions.create(who, v1_changes(object_body(bp.current_request)))
    return json_response(v1_lambda(fn), status=201)


@route(bp, BASE + "/lambdas/{uuid}", ["GET"], summary="One function as a one-item array (V1)", tag="lambdas")
def get_lambda(account_id: str, uuid: str) -> Response:
    who = authenticate(bp.current_request, account_id)
    return json_response([v1_lambda(services().functions.get(who, uuid))])


@route(bp, BASE + "/lambdas/{uuid}", ["PUT"], summary="Update a function; 304 when nothing changed", tag="lambdas",
       body="V1 lambda object", responses={"200": "the updated lambda", "304": "unchanged"})
def update_lambda(account_id: str, uuid: str) -> Response:
    who = authenticate(bp.current_request, account_id)
    body = object_body(bp.current_request)
    fn = services().functions.update(who, uuid, v1_changes(body), expected_version=optional_int(body, "version"))
    return json_response(v1_lambda(fn))


@route(bp, BASE + "/lambdas/{uuid}", ["DELETE"], summary="Delete an undeployed function", tag="lambdas")
def delete_lambda(account_id: str, uuid: str) -> Response:
    who = authenticate(bp.current_request, account_id)
    services().functions.delete(who, uuid)
    return json_response({"message": "Successfully deleted lambda"})


@route(bp, BASE + "/runtimes", ["GET"], summary="Available runtimes (V1 runtime objects)", tag="lambdas")
def list_runtimes(account_id: str) -> Response:
    authenticate(bp.current_request, account_id)
    return json_response([v1_runtime(rt.id) for rt in RUNTIMES])
