"""The one place HTTP meets the domain: dialects, body parsing, authentication, error rendering, route registry.

Every route is declared with ``route()``, which accepts any content type (curl's default form type included),
renders every FngateError in the caller's dialect and never lets a traceback out. The registry it fills feeds
/openapi.json, so the document cannot drift from the routes.
"""

from __future__ import annotations

import functools
import json
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from chalice import Blueprint, Response
from chalice.app import Request

from chalicelib.domain import jsondoc
from chalicelib.domain.errors import BadInput, FngateError, Forbidden, FunctionFailed, InvalidClient
from chalicelib.domain.permissions import FUNCTION_PRINCIPAL, Principal
from chalicelib.domain.validation import validate_account_id
from chalicelib.services.container import services

log = logging.getLogger("fngate.api")
JSON = "application/json"
REQUEST_ID = "X-Request-ID"


class Dialect(StrEnum):
    V1 = "v1"
    V2 = "v2"


def dialect_for(v: str | None, path: str, has_event_source: bool) -> Dialect:
    """V1 when the caller says ``v=1`` (every V1 client does) or uses a V1-only path; V2 otherwise."""
    if v == "1":
        return Dialect.V1
    if "/functions" in path or has_event_source:
        return Dialect.V2
    return Dialect.V1 if ("/lambdas" in path or "/proxy-settings" in path) else Dialect.V2


def dialect_of(request: Request | None) -> Dialect:
    if request is None:
        return Dialect.V2
    query: Any = request.query_params or {}
    path = request.context.get("resourcePath", "") if request.context else ""
    return dialect_for(query.get("v"), path, request.headers.get("lp-eventsource") is not None)


def error_body(err: FngateError, dialect: Dialect) -> dict[str, Any]:
    if dialect is Dialect.V1:
        body: dict[str, Any] = {"errorCode": err.v1_code, "errorMsg": err.message}
    else:
        body = {"code": err.v2_code, "message": err.message}
    if isinstance(err, FunctionFailed):
        body["errorLogs"] = err.logs
    return body


def error_response(err: FngateError, dialect: Dialect, request_id: str = "") -> Response:
    status = err.v1_status if dialect is Dialect.V1 and err.v1_status else err.status
    headers: dict[str, Any] = {"Content-Type": JSON}
    if err.retry_after is not None:
        headers["Retry-After"] = str(err.retry_after)
    if request_id:
        headers[REQUEST_ID] = request_id
    if isinstance(err, InvalidClient):  # OAuth2 token endpoint (RFC 6749 §5.2)
        return Response(body=json.dumps({"error": "invalid_client", "error_description": err.message}),
                        status_code=401, headers=headers)
    if status == 304:
        return Response(body="", status_code=304, headers={k: v for k, v in headers.items() if k != "Content-Type"})
    return Response(body=json.dumps(error_body(err, dialect)), status_code=status, headers=headers)


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """Always JSON-encoded, so a string result goes out as a JSON string (Chalice sends str bodies raw)."""
    return Response(body=json.dumps(body, separators=(",", ":")), status_code=status,
                    headers={"Content-Type": JSON, **(headers or {})})


def json_body(request: Request, *, required: bool = True) -> Any:
    raw = request.raw_body
    if not raw or not raw.strip():
        if required:
            raise BadInput(detail="request body must be a JSON document")
        return {}
    try:
        return jsondoc.parse(raw)
    except jsondoc.JsonRejected as exc:
        raise BadInput(detail=f"request body is not valid JSON: {exc}") from None


def object_body(request: Request, *, required: bool = True) -> dict[str, Any]:
    body = json_body(request, required=required)
    if not isinstance(body, dict):
        raise BadInput(detail="request body must be a JSON object")
    return body


def authenticate(request: Request, account_id: str, *, function_token: bool = False) -> Principal:
    """The caller, bound to ``account_id``. A function's per-invocation token is refused everywhere except where
    ``function_token`` is set (the Toolbelt route), whatever its scopes say."""
    validate_account_id(account_id)
    who = services().identity.authenticate(account_id, request.headers.get("authorization"))
    if who.kind == FUNCTION_PRINCIPAL and not function_token:
        raise Forbidden("A function's token is valid for its Toolbelt calls only")
    return who


_RANDOM = random.Random()  # request ids need to be unique, not secret: no system call per request


def new_request_id() -> str:
    """A random (version 4) UUID in its usual text form, as str(uuid.uuid4()) gives, at a fraction of its cost."""
    h = f"{_RANDOM.getrandbits(128) & _V4_CLEAR | _V4_SET:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


_V4_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))  # version nibble and variant bits
_V4_SET = (0x4000 << 64) | (0x8000 << 48)


def request_id(request: Request) -> str:
    """The caller's X-Request-ID, or one made up once per request (the middleware echoes it on every answer)."""
    context = request.context if request.context is not None else {}
    rid = context.get("fngate_request_id")
    if rid is None:
        given = request.headers.get("x-request-id", "")
        rid = context["fngate_request_id"] = given[:128] if given else new_request_id()
    return rid


def client_address(request: Request) -> str:
    """The caller's address as the edge saw it (API Gateway's sourceIp; the local server fills in the same field)."""
    identity = (request.context or {}).get("identity") or {}
    return str(identity.get("sourceIp") or "unknown")[:64]


def query_list(request: Request, key: str) -> list[str]:
    params = request.query_params
    if not params or key not in params:
        return []
    return [v for v in params.getlist(key) if v]


def query_value(request: Request, key: str, default: str = "") -> str:
    params: Any = request.query_params or {}
    return params.get(key) or default


@dataclass(frozen=True)
class RouteDoc:
    path: str
    methods: tuple[str, ...]
    summary: str
    tag: str
    auth: str  # "bearer" | "none" | "client-credentials"
    body: str = ""  # a short description of the request body, if any
    responses: dict[str, str] = field(default_factory=dict)


ROUTES: list[RouteDoc] = []


def route(bp: Blueprint, path: str, methods: list[str], *, summary: str, tag: str, auth: str = "bearer",
          body: str = "", responses: dict[str, str] | None = None) -> Callable[[Callable[..., Any]], Any]:
    """Register a Chalice route that renders domain errors in the caller's dialect."""
    ROUTES.append(RouteDoc(path, tuple(methods), summary, tag, auth, body, responses or {}))

    def decorate(view: Callable[..., Any]) -> Any:
        @functools.wraps(view)
        def wrapper(**params: str) -> Any:
            request = bp.current_request
            try:
                return view(**params)
            except FngateError as err:
                return error_response(err, dialect_of(request))
            except Exception:
                log.exception("unhandled error in %s", view.__name__)
                return error_response(FngateError(), dialect_of(request))

        return bp.route(path, methods=methods, content_types=["*/*"])(wrapper)

    return decorate
