"""/openapi.json, generated from the route registry in _wire.py so it lists exactly the routes that exist."""

from __future__ import annotations

import re
from typing import Any

from chalice import Blueprint, Response

from chalicelib.api._wire import ROUTES, RouteDoc, json_response, route
from chalicelib.api.schemas import COMPONENTS, OPERATIONS, ref

bp = Blueprint(__name__)
_PARAM = re.compile(r"{([^}]+)}")
_ERRORS = {"4XX": {"description": "V1 {errorCode, errorMsg[, errorLogs]}, V2 {code, message[, errorLogs]} or, on the "
                                  "token endpoint, OAuth2 {error, error_description}",
                   "content": {"application/json": {"schema": ref("Error")}}}}


def _operation(doc: RouteDoc, method: str) -> dict[str, Any]:
    body, responses = OPERATIONS[(method, doc.path)]
    texts = doc.responses or {}
    op: dict[str, Any] = {
        "summary": doc.summary, "tags": [doc.tag], "operationId": f"{method.lower()}_{doc.path}",
        "parameters": [{"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
                       for p in _PARAM.findall(doc.path)],
        "responses": {code: {**answer, "description": texts.get(code, answer["description"])}
                      for code, answer in {**responses, **_ERRORS}.items()},
    }
    if doc.auth == "bearer":
        op["security"] = [{"bearer": []}]
    if body is not None:
        op["requestBody"] = {**body, "description": doc.body} if doc.body else body
    return op


def document() -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for doc in ROUTES:
        for method in doc.methods:
            paths.setdefault(doc.path, {})[method.lower()] = _operation(doc, method)
    return {"openapi": "3.0.3",
            "info": {"title": "fngate", "version": "0.1.0",
                     "description": "Functions gateway wire-compatible with LivePerson Functions"},
            "components": {"schemas": COMPONENTS,
                           "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}},
            "paths": paths}


@route(bp, "/openapi.json", ["GET"], summary="This document", tag="meta", auth="none")
def openapi() -> Response:
    return json_response(document())
