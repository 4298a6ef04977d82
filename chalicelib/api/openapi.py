"""/openapi.json, generated from the route registry in _wire.py so it lists exactly the routes that exist."""

from __future__ import annotations

import re
from typing import Any

from chalice import Blueprint, Response

from chalicelib.api._wire import ROUTES, RouteDoc, json_response, route

bp = Blueprint(__name__)
_PARAM = re.compile(r"{([^}]+)}")
_ERROR = {"type": "object", "description": "V1 {errorCode, errorMsg[, errorLogs]} or V2 {code, message[, errorLogs]}"}


def _operation(doc: RouteDoc, method: str) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": doc.summary, "tags": [doc.tag], "operationId": f"{method.lower()}_{doc.path}",
        "parameters": [{"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
                       for p in _PARAM.findall(doc.path)],
        "responses": {code: {"description": text} for code, text in (doc.responses or {"200": "OK"}).items()},
    }
    op["responses"].setdefault("4XX", {"description": "error", "content": {"application/json": {"schema": _ERROR}}})
    if doc.auth == "bearer":
        op["security"] = [{"bearer": []}]
    if doc.body:
        op["requestBody"] = {"description": doc.body, "required": True,
                             "content": {"application/json": {"schema": {"type": "object"}}}}
    return op


def document() -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for doc in ROUTES:
        for method in doc.methods:
            paths.setdefault(doc.path, {})[method.lower()] = _operation(doc, method)
    return {"openapi": "3.0.3",
            "info": {"title": "fngate", "version": "0.1.0",
                     "description": "Functions gateway wire-compatible with LivePerson Functions"},
            "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}},
            "paths": paths}


@route(bp, "/openapi.json", ["GET"], summary="This document", tag="meta", auth="none")
def openapi() -> Response:
    return json_response(document())
