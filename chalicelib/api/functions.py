"""V2 management dialect: /functions, manifests and test runs (management-api.md §4)."""

from __future__ import annotations

from chalice import Blueprint, Response

from chalicelib.api._wire import authenticate, json_response, object_body, query_list, query_value, route
from chalicelib.api.parse import optional_int, v2_changes
from chalicelib.api.render import v2_function, v2_history, v2_meta
from chalicelib.services.container import services
from chalicelib.services.invocations import Call

bp = Blueprint(__name__)
BASE = "/api/account/{account_id}/functions"


@route(bp, BASE, ["GET"], summary="List function metas (V2); filters eventId, state (repeatable), functionName",
       tag="functions")
def list_functions(account_id: str) -> Response:
    who = authenticate(bp.current_request, account_id)
    req = bp.current_request
    found = services().functions.list(who, event_id=query_value(req, "eventId") or None,
                                      states=query_list(req, "state"),
                                      name=query_value(req, "functionName") or query_value(req, "name") or None,
                                      with_code=False)  # v2_meta shows no code
    return json_response([v2_meta(f) for f in found])


@route(bp, BASE + "/count", ["GET"], summary="Number of functions on the account", tag="functions")
def count_functions(account_id: str) -> Response:
    who = authenticate(bp.current_request, account_id)
    return json_response(services().functions.count(who))


@route(bp, BASE, ["POST"], summary="Create a function (meta; optional runtime, code, environment)", tag="functions",
       body="{name, eventId?, description, skills?, runtime?, code?, environment?}",
       responses={"201": "LPFunction (meta + manifest)"})
def create_function(account_id: str) -> Response:
    who = authenticate(bp.current_request, account_id)
    fn = services().functions.create(who, v2_changes(object_body(bp.current_request)))
    return json_response(v2_function(fn), status=201)


@route(bp, BASE + "/{uuid}", ["GET"], summary="Function meta, manifest and versions (LPFnHistory)", tag="functions")
def get_function(account_id: str, uuid: str) -> Response:
    who = authenticate(bp.current_request, account_id)
    fn, versions = services().functions.versions(who, uuid)
    return json_response(v2_history(fn, versions))


@route(bp, BASE + "/{uuid}", ["PUT"], summary="Update description, skills (and name)", tag="functions",
       body="{description?, skills?, name?}", responses={"200": "LPFunction", "409": "unchanged"})
def update_function(account_id: str, uuid: str) -> Response:
    who = authenticate(bp.current_request, account_id)
    body = object_body(bp.current_request)
    fn = services().functions.update(who, uuid, v2_changes(body, {"description", "skills", "name", "eventId",
                                                                   "samplePayload"}))
    return json_response(v2_function(fn))


@route(bp, BASE + "/{uuid}/manifest", ["PUT"], summary="Update code, environment or runtime (new manifest version)",
       tag="functions", body="{version, id, code?, environment?, runtime?}")
def update_manifest(account_id: str, uuid: str) -> Response:
    who = authenticate(bp.current_request, account_id)
    body = object_body(bp.current_request)
    changes = v2_changes(body, {"code", "environment", "runtime", "customDependencies", "timeoutSeconds", "memoryMB"})
    fn = services().functions.update(who, uuid, changes,
                                     expected_manifest_version=optional_int(body, "version"))
    return json_response(v2_function(fn))


@route(bp, BASE + "/{uuid}", ["DELETE"], summary="Delete an undeployed function", tag="functions")
def delete_function(account_id: str, uuid: str) -> Response:
    who = authenticate(bp.current_request, account_id)
    services().functions.delete(who, uuid)
    return json_response({"message": "Successfully deleted function"})


@route(bp, BASE + "/{uuid}/test", ["POST"], summary="Test-invoke the deployed function; {result, logs}",
       tag="functions", body="{headers, payload}")
def test_function(account_id: str, uuid: str) -> Response:
    who = authenticate(bp.current_request, account_id)
    body = object_body(bp.current_request)
    outcome = services().invocations.invoke(who, uuid, Call(body=body, source="test"))
    return json_response({"result": outcome.result, "logs": outcome.logs})
