"""The Toolbelt's route for functions running on AWS Lambda (ours): the shim in a function's Lambda relays each of
its worker's RPCs (secret.read, context.*, csds.*) here, with the per-invocation token the executor minted.

Why a route and not the local pipe: on AWS the worker runs in another Lambda, far from the gateway's ToolbeltHost.
The answer is the pipe's ``rpc-result`` as JSON — ``{ok: true, result}`` or ``{ok: false, code, message}`` — from
the very same ToolbeltHost, so a function sees on AWS exactly what it sees locally, and nothing more. Only the
token of this function of this account is accepted (domain/permissions.require_function); the account comes
from the token, never from the body.
"""

from __future__ import annotations

from typing import Any

from chalice import Blueprint, Response

from chalicelib.api._wire import authenticate, json_response, object_body, route
from chalicelib.domain.errors import BadInput
from chalicelib.domain.permissions import require_function
from chalicelib.services.container import services
from chalicelib.services.toolbelt_host import ROUTE, RpcError

bp = Blueprint(__name__)
METHOD_MAX = 100


def _call(body: dict[str, Any]) -> tuple[str, Any]:
    method, params = body.get("method"), body.get("params")
    if not isinstance(method, str) or not method or len(method) > METHOD_MAX:
        raise BadInput(detail=f"'method' must be a string of 1 to {METHOD_MAX} characters")
    if params is not None and not isinstance(params, dict):
        raise BadInput(detail="'params' must be an object")
    return method, params


@route(bp, ROUTE, ["POST"], summary="One Toolbelt call of a function running on AWS Lambda, with its "
       "per-invocation token (ours)", tag="toolbelt", body="{method, params?}",
       responses={"200": "{ok: true, result} or {ok: false, code, message}", "403": "not this function's token"})
def toolbelt_call(account_id: str, uuid: str) -> Response:
    who = authenticate(bp.current_request, account_id, function_token=True)
    require_function(who, uuid)
    method, params = _call(object_body(bp.current_request))
    host = services().toolbelt
    try:
        result = host.call(who.account_id, uuid, method, params)
    except RpcError as err:
        return json_response({"ok": False, "code": err.code, "message": err.message}, headers={
            "Cache-Control": "no-store"})
    return json_response({"ok": True, "result": result}, headers={"Cache-Control": "no-store"})
