"""Invocation replay (ours): a function's opt-in to keep inputs for 7 days, its kept invocations, and a replay."""

from __future__ import annotations

from chalice import Blueprint, Response

from chalicelib.api._wire import authenticate, json_response, object_body, route
from chalicelib.services.container import services

bp = Blueprint(__name__)
BASE = "/api/account/{account_id}/functions/{uuid}"


@route(bp, BASE + "/replay", ["GET"], tag="replay", summary="Whether the function keeps its inputs (ours)",
       responses={"200": "{keepInputs, keptForSeconds}"})
def get_replay(account_id: str, uuid: str) -> Response:
    who = authenticate(bp.current_request, account_id)
    return json_response(services().replay.settings(who, uuid))


@route(bp, BASE + "/replay", ["PUT"], tag="replay", body="{keepInputs: bool}",
       summary="Keep the function's invocation inputs and results, encrypted, for 7 days, to replay them (ours)")
def put_replay(account_id: str, uuid: str) -> Response:
    who = authenticate(bp.current_request, account_id)
    keep = object_body(bp.current_request).get("keepInputs")
    return json_response(services().replay.configure(who, uuid, keep))


@route(bp, BASE + "/invocations", ["GET"], tag="replay", summary="Kept invocations, newest first (ours)",
       responses={"200": "[{requestId, at, status}]"})
def kept_invocations(account_id: str, uuid: str) -> Response:
    who = authenticate(bp.current_request, account_id)
    return json_response(services().replay.kept(who, uuid))


@route(bp, BASE + "/invocations/{request_id}/replay", ["POST"], tag="replay",
       summary="Run a kept invocation again as a test invocation and compare (ours)",
       responses={"200": "{requestId, replayRequestId, same, original: {status, result, errorCode}, "
                         "replay: {status, result, logs, errorCode}}", "404": "not kept (or older than 7 days)"})
def replay_invocation(account_id: str, uuid: str, request_id: str) -> Response:
    who = authenticate(bp.current_request, account_id)
    return json_response(services().replay.replay(who, uuid, request_id))
