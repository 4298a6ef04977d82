"""Deploy (POST), redeploy (PATCH), undeploy (DELETE), history and rollback (management-api.md §3–4).

Answers carry only ``message`` — the lpf CLI treats a ``uuid`` field as a failure — and clients poll the state.
"""

from __future__ import annotations

from chalice import Blueprint, Response

from chalicelib.api._wire import authenticate, json_response, route
from chalicelib.api.render import v2_deployment
from chalicelib.domain.errors import BadInput
from chalicelib.services.container import services

bp = Blueprint(__name__)
BASE = "/api/account/{account_id}/deployments"


@route(bp, BASE + "/{uuid}", ["POST"], summary="Deploy a function", tag="deployments",
       responses={"200": "{message}"})
def deploy(account_id: str, uuid: str) -> Response:
    who = authenticate(bp.current_request, account_id)
    services().deployments.deploy(who, uuid)
    return json_response({"message": "Successfully started deployment"})


@route(bp, BASE + "/{uuid}", ["PATCH"], summary="Redeploy a Modified function", tag="deployments")
def redeploy(account_id: str, uuid: str) -> Response:
    who = authenticate(bp.current_request, account_id)
    services().deployments.deploy(who, uuid)
    return json_response({"message": "Successfully started redeployment"})


@route(bp, BASE + "/{uuid}", ["DELETE"], summary="Undeploy a function", tag="deployments")
def undeploy(account_id: str, uuid: str) -> Response:
    who = authenticate(bp.current_request, account_id)
    services().deployments.undeploy(who, uuid)
    return json_response({"message": "Successfully started undeployment"})


@route(bp, BASE, ["GET"], summary="Latest deployment of every function", tag="deployments")
def list_deployments(account_id: str) -> Response:
    who = authenticate(bp.current_request, account_id)
    fns = services().functions.list(who, with_code=False)
    return json_response([v2_deployment(f.last_deployment, f) for f in fns if f.last_deployment])


@route(bp, BASE + "/count", ["GET"], summary="Number of deployed functions", tag="deployments")
def count_deployments(account_id: str) -> Response:
    who = authenticate(bp.current_request, account_id)
    return json_response(sum(1 for f in services().functions.list(who, with_code=False) if f.live))


@route(bp, "/api/account/{account_id}/functions/{uuid}/deployments", ["GET"],
       summary="Deployment history of a function (newest first, last 20 kept)", tag="deployments")
def history(account_id: str, uuid: str) -> Response:
    who = authenticate(bp.current_request, account_id)
    fn = services().functions.get(who, uuid)
    return json_response([v2_deployment(d, fn) for d in services().deployments.history(who, uuid)])


@route(bp, "/api/account/{account_id}/functions/{uuid}/deployments/{deployment_id}/rollback", ["POST"],
       summary="Restore an earlier deployment (code and state)", tag="deployments")
def rollback(account_id: str, uuid: str, deployment_id: str) -> Response:
    who = authenticate(bp.current_request, account_id)
    if not deployment_id.isdigit():
        raise BadInput(detail="deployment id must be a number")
    dep = services().deployments.rollback(who, uuid, int(deployment_id))
    fn = services().functions.get(who, uuid)
    return json_response({"message": "Successfully restored deployment", "deployment": v2_deployment(dep, fn)})
