"""Errors the HTTP edge answers before the app sees the request (unknown route, 405, 408, 411, 413, 400, 500)."""

from __future__ import annotations

import json
from typing import Any

from chalicelib.api._wire import REQUEST_ID, dialect_for, error_body, new_request_id
from chalicelib.api.middleware import security_headers
from chalicelib.domain.errors import (
    BadInput,
    BodyTimedOut,
    FngateError,
    MethodNotAllowed,
    PayloadTooLarge,
    RouteNotFound,
)
from chalicelib.services.container import services

_BY_STATUS = {
    404: lambda m, p: RouteNotFound(method=m, path=p),
    405: lambda m, p: MethodNotAllowed(method=m, path=p),
    413: lambda m, p: PayloadTooLarge(limit="the configured"),
    408: lambda m, p: BodyTimedOut(seconds=f"{services().settings.body_timeout_s:g}"),
    400: lambda m, p: BadInput(detail="malformed HTTP request"),
    411: lambda m, p: BadInput(detail="a request body needs a Content-Length (chunked bodies are refused)"),
}


def render_transport_error(status: int, method: str, path: str, headers: dict[str, Any],
                           query: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
    err = _BY_STATUS.get(status, lambda m, p: FngateError())(method, path)
    v = query.get("v")
    v = v[0] if isinstance(v, list) and v else v
    lowered = {k.lower() for k in headers}
    body = json.dumps(error_body(err, dialect_for(None if v is None else str(v), path, "lp-eventsource" in lowered))
                      ).encode()
    rid = next((v for k, v in headers.items() if k.lower() == "x-request-id"), "")[:128] or new_request_id()
    return status, {"Content-Type": "application/json", REQUEST_ID: rid, **security_headers()}, body
