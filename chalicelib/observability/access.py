"""The access line: one structured log line per request, written by a Chalice middleware so it holds whatever
HTTP host runs the app. It binds the request id and account to every line logged while the request runs."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any

from chalice.app import Request, Response

from chalicelib.api._wire import request_id
from chalicelib.observability.logger import LOGGER, write_line
from chalicelib.observability.metrics import GATEWAY_METRICS

_LEVELS = {"info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}


def outcome_of(status: int) -> str:
    if status == 901:
        return "function_failed"
    if status >= 500:
        return "server_error"
    if status in (401, 403):
        return "denied"
    if status == 429:
        return "throttled"
    return "client_error" if status >= 400 else "ok"


def _error_code(response: Response) -> str:
    """The spec's error code of an error answer (never anything else of the body)."""
    body = response.body
    try:
        data = json.loads(body) if isinstance(body, str | bytes) else body
    except ValueError:
        return ""
    if not isinstance(data, dict):
        return ""
    code = data.get("errorCode") or data.get("code") or data.get("error") or ""
    return code if isinstance(code, str) else ""


def access_log(request: Request, get_response: Callable[[Request], Response]) -> Any:
    started = time.perf_counter()
    rid = request_id(request)
    params: dict[str, str] = request.uri_params or {}
    account = params.get("account_id", "")
    LOGGER.thread_safe_append_keys(request_id=rid, account=account)
    try:
        response = get_response(request)
        status = response.status_code
        duration = round((time.perf_counter() - started) * 1000, 3)
        outcome = outcome_of(status)
        context: dict[str, Any] = request.context or {}
        fields: dict[str, Any] = {"route": context.get("resourcePath", ""), "method": request.method,
                                  "status": status, "duration_ms": duration, "outcome": outcome}
        query: Any = request.query_params or {}
        function = params.get("uuid") or query.get("lambdaUUID", "")
        if function:
            fields["function"] = function
        if status >= 400:
            fields["error_code"] = _error_code(response)
        level = "error" if status >= 500 and status != 901 else "warning" if status == 901 else "info"
        if not write_line(_LEVELS[level], "request", fields):
            getattr(LOGGER, level)("request", extra=fields)
        GATEWAY_METRICS.record(account, outcome, duration)
        return response
    finally:
        LOGGER.thread_safe_clear_keys()
