"""Every answer carries X-Request-ID and the security headers; the few errors Chalice produces itself get the
spec's error body."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from chalice.app import Request, Response

from chalicelib.api._wire import REQUEST_ID, dialect_of, error_response, request_id
from chalicelib.domain.errors import BadInput, FngateError, MethodNotAllowed
from chalicelib.services.container import services

# The API answers JSON to programs: nothing is to be sniffed, framed, referred or cached (answers carry tokens,
# secrets and function code). A route may set its own value first (setdefault).
SECURITY_HEADERS = (("X-Content-Type-Options", "nosniff"), ("X-Frame-Options", "DENY"),
                    ("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"),
                    ("Referrer-Policy", "no-referrer"), ("Cache-Control", "no-store"))
HSTS = "max-age=31536000; includeSubDomains"  # only when clients reach this gateway over TLS (Settings.tls)

_CHALICE_ERRORS: dict[int, Callable[[Request], FngateError]] = {
    405: lambda r: MethodNotAllowed(method=r.method, path=r.path),
    415: lambda r: BadInput(detail="unsupported media type"),
    400: lambda r: BadInput(detail="malformed request"),
    500: lambda r: FngateError(),
}


def _is_chalice_error(response: Response) -> bool:
    body = response.body
    if isinstance(body, str):
        try:
            body = json.loads(body)
        except ValueError:
            return False
    return isinstance(body, dict) and set(body) == {"Code", "Message"}


def spec_errors(request: Request, get_response: Callable[[Request], Response]) -> Any:
    rid = request_id(request)
    response = get_response(request)
    make = _CHALICE_ERRORS.get(response.status_code)
    if make is not None and _is_chalice_error(response):
        fixed = error_response(make(request), dialect_of(request))
        if "Allow" in response.headers:
            fixed.headers["Allow"] = response.headers["Allow"]
        response = fixed
    response.headers.setdefault(REQUEST_ID, rid)
    for name, value in security_headers().items():
        response.headers.setdefault(name, value)
    return response


def security_headers() -> dict[str, str]:
    """What every answer carries (the app's, and the errors the HTTP host renders itself)."""
    headers = dict(SECURITY_HEADERS)
    if services().settings.tls:
        headers["Strict-Transport-Security"] = HSTS
    return headers
