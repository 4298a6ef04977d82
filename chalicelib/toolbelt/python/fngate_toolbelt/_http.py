"""Toolbelt.http_client(): HTTP(S) through the egress proxy, in Python naming."""

from __future__ import annotations

import json as jsonlib
import ssl
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from . import _transport
from ._transport import Response

_UNSET: Any = object()


class HTTPClient:
    """``request(method, url, ...)`` → Response (any status; ``response.ok`` tells 2xx). Network failures raise
    RequestError with an errno-like ``code`` (a proxy refusal is ``EPROXY`` with ``proxy_status``)."""

    def __init__(self, ssl_context: ssl.SSLContext | None = None) -> None:
        self._context = ssl_context

    def request(self, method: str, url: str, *, headers: dict[str, str] | None = None,
                body: bytes | str | None = None, json: Any = _UNSET, params: dict[str, Any] | None = None,
                form: dict[str, Any] | None = None, timeout: float = 30.0, follow_redirects: bool = True,
                max_redirects: int = 10, ssl_context: ssl.SSLContext | None = None) -> Response:
        """Send one request. ``json`` (any JSON value) or ``form`` (urlencoded) build the body; ``params`` the query."""
        out_headers = {k: str(v) for k, v in (headers or {}).items()}
        names = {k.lower() for k in out_headers}
        data = body.encode() if isinstance(body, str) else body
        if json is not _UNSET:
            data = jsonlib.dumps(json, separators=(",", ":")).encode()
            if "content-type" not in names:
                out_headers["Content-Type"] = "application/json"
        elif form is not None:
            data = urlencode(form, doseq=True).encode()
            if "content-type" not in names:
                out_headers["Content-Type"] = "application/x-www-form-urlencoded"
        return _transport.request(method, _with_query(url, params), out_headers, data, timeout=timeout,
                                  follow_redirects=follow_redirects, max_redirects=max_redirects,
                                  context=ssl_context or self._context)

    def get(self, url: str, **kwargs: Any) -> Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> Response:
        return self.request("POST", url, **kwargs)

    def put(self, url: str, **kwargs: Any) -> Response:
        return self.request("PUT", url, **kwargs)

    def patch(self, url: str, **kwargs: Any) -> Response:
        return self.request("PATCH", url, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> Response:
        return self.request("DELETE", url, **kwargs)


def _with_query(url: str, params: dict[str, Any] | None) -> str:
    if not params:
        return url
    parts = urlsplit(url)
    extra = urlencode(params, doseq=True)
    return urlunsplit(parts._replace(query=f"{parts.query}&{extra}" if parts.query else extra))
