"""The local HTTP edge: granian serves the Chalice app through a thin WSGI adapter, in one or several processes.

granian (Rust; hyper parses HTTP/1.1 and HTTP/2) owns the sockets: keep-alive, TLS, header timeouts, malformed
requests, and N worker processes on one listening socket, each replaced when it dies. ``ChaliceWSGI`` turns a WSGI
call into the API Gateway proxy event that Chalice's Lambda entry takes (``app(event, context)``) and its answer
back, and refuses what the app must never see — bodies over the limit (before reading them), unknown routes, wrong
methods, chunked request bodies, a missing Host — with the app's own JSON error bodies. It uses Chalice's public surface
only: ``app.routes``, ``app.api.binary_types``, ``app(event, context)`` and ``chalice.local.LocalChalice``.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import socket
from collections.abc import Callable, Iterable
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from chalice import Chalice
from chalice.local import LocalChalice

log = logging.getLogger(__name__)

ErrorRenderer = Callable[[int, str, str, dict[str, str], dict[str, str]], tuple[int, dict[str, str], bytes]]
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

GRACE_SECONDS = 10  # how long a stopping process may take to finish its in-flight requests
HEADER_TIMEOUT_MS = 10_000  # a request's line and headers must arrive within this (slowloris)
MAX_HEAD_BYTES = 64 * 1024  # request line plus headers (hyper answers 431 or closes beyond)
THREADS_PER_PROCESS = 256  # Python threads that run requests in each process (each function call blocks one)
MAX_CONNECTIONS = 4096  # open connections per process (idle keep-alive ones are cheap: no thread each)
_CHALICE_500 = b'{"Code":"InternalServerError","Message":"An internal server error occurred."}'
_PHRASES = {status.value: status.phrase for status in HTTPStatus}
_PHRASES[901] = "Lambda Execution Failed"  # LivePerson's status for failures of the function's own code
_NOT_HEADERS = frozenset({"HTTP_PROXY"})  # "Proxy:" is never a real request header (httpoxy)
_NAMES: dict[str, str] = {}  # environ key → header name, e.g. HTTP_X_REQUEST_ID → x-request-id


class Refused(Exception):
    """An answer decided before the app runs: a routing miss (404/405) or a refused request (400/411/413)."""

    def __init__(self, status: int, *, allow: str = "", close: bool = False) -> None:
        super().__init__(status)
        self.status, self.allow, self.close = status, allow, close


def default_error_renderer(
    status: int, method: str, path: str, headers: dict[str, str], query: dict[str, str]
) -> tuple[int, dict[str, str], bytes]:
    """API Gateway's own error shape, for apps that do not render their errors."""
    return status, {"Content-Type": "application/json"}, json.dumps({"message": _PHRASES.get(status, "Error")}).encode()


def thread_local_requests(app: Chalice) -> None:
    """Chalice keeps current_request on the app; with several threads it must be per thread. Chalice's own
    ``LocalChalice`` does that, and ``chalice local`` turns the app into one the same way."""
    if not isinstance(app, LocalChalice):
        app.__class__ = type(f"Local{type(app).__name__}", (LocalChalice, type(app)), {})


class _Routes:
    """Chalice's routes (``app.routes``), compiled once for matching: the routes with as many segments as the path
    are grouped by where their literal segments are, each group a dict from those literals to its first route in
    sorted order, so a match is a few dict lookups; the candidate first in sorted order wins (as in Chalice's
    local RouteMatcher)."""

    def __init__(self, routes: Iterable[str]) -> None:
        Group = tuple[tuple[int, ...], dict[tuple[str, ...], tuple[int, str, tuple[tuple[int, str], ...]]]]
        self._by_length: dict[int, list[Group]] = {}
        for rank, route in enumerate(sorted(routes)):
            parts = route.split("/")
            is_capture = [p.startswith("{") and p.endswith("}") for p in parts]
            where = tuple(i for i, capture in enumerate(is_capture) if not capture)
            captures = tuple((i, p[1:-1]) for i, p in enumerate(parts) if is_capture[i])
            groups = self._by_length.setdefault(len(parts), [])
            table = next((t for w, t in groups if w == where), None)
            if table is None:
                table = {}
                groups.append((where, table))
            table.setdefault(tuple(parts[i] for i in where), (rank, route, captures))

    def match(self, path: str) -> tuple[str, dict[str, str]] | None:
        """(route, captured segments) for a decoded path, or None."""
        if path != "/" and path.endswith("/"):
            path = path[:-1]  # API Gateway drops a trailing slash
            if path == "/":
                return None  # "//" is not the root (as Chalice's matcher has it)
        parts = path.split("/")
        best = None
        for where, table in self._by_length.get(len(parts), ()):
            found = table.get(tuple([parts[i] for i in where]))
            if found is not None and (best is None or found[0] < best[0]):
                best = found
        if best is None:
            return None
        return best[1], {name: parts[i] for i, name in best[2]}


def _query(query: str) -> dict[str, list[str]]:
    """parse_qs(query, keep_blank_values=True), directly when nothing in it needs decoding."""
    if "%" in query or "+" in query:
        return parse_qs(query, keep_blank_values=True)
    params: dict[str, list[str]] = {}
    for pair in query.split("&"):
        if pair:
            name, _, value = pair.partition("=")
            params.setdefault(name, []).append(value)
    return params


def _headers(environ: dict[str, Any], inherited: frozenset[tuple[str, str]],
             process_keys: frozenset[str]) -> dict[str, str]:
    """The request's headers, lower-cased, from the environ (which also holds the process environment)."""
    headers: dict[str, str] = {}
    for key in environ.keys() - process_keys:
        if key.startswith("HTTP_") and key not in _NOT_HEADERS and (key, value := environ[key]) not in inherited:
            name = _NAMES.get(key)
            if name is None:
                name = key[5:].replace("_", "-").lower()
                if len(_NAMES) < 4096:  # bounded: clients choose the names
                    _NAMES[key] = name
            headers[name] = value
    if "CONTENT_TYPE" in environ:
        headers["content-type"] = environ["CONTENT_TYPE"]
    if "CONTENT_LENGTH" in environ:
        headers["content-length"] = environ["CONTENT_LENGTH"]
    return headers


class ChaliceWSGI:
    """A Chalice app as a WSGI callable (see the module docstring)."""

    def __init__(self, app: Chalice, *, max_body: int = 1_048_576,
                 error_renderer: ErrorRenderer | None = None) -> None:
        thread_local_requests(app)
        self._app, self._max_body = app, max_body
        self._routes = _Routes(app.routes)
        self._binary_types = frozenset(app.api.binary_types)
        self._render_error = error_renderer or default_error_renderer
        self._inherited = frozenset((k, v) for k, v in os.environ.items() if k.startswith("HTTP_"))
        self._process_keys = frozenset(k for k in os.environ if not k.startswith("HTTP_"))  # never headers

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        method, path = environ["REQUEST_METHOD"], environ["PATH_INFO"]
        if not path.isascii():  # WSGI hands the decoded path over as latin-1; URLs are UTF-8
            path = path.encode("latin-1").decode("utf-8", "replace")
        headers = _headers(environ, self._inherited, self._process_keys)
        try:
            status, out_headers, body = self._respond(environ, method, path, headers)
        except Refused as refused:
            status, out_headers, body = self._error(refused.status, method, path, headers, environ)
            if refused.allow:
                out_headers.append(("Allow", refused.allow))
            if refused.close:  # the body is unread: do not read it to keep the connection
                out_headers.append(("Connection", "close"))
        except Exception:
            log.exception("unhandled error serving %s %s", method, path)
            status, out_headers, body = self._error(500, method, path, headers, environ)
        start_response(f"{status} {_PHRASES.get(status, 'Unknown')}", out_headers)
        return [body]  # hyper sends no body for HEAD, with the GET body's length

    def _respond(self, environ: dict[str, Any], method: str, path: str,
                 headers: dict[str, str]) -> tuple[int, list[tuple[str, str]], bytes]:
        if not headers.get("host") and environ.get("SERVER_PROTOCOL") == "HTTP/1.1":
            raise Refused(400, close=True)  # RFC 9112 §3.2: a request without Host is refused
        matched = self._routes.match(path)
        if matched is None:
            raise Refused(404)
        route, captured = matched
        methods = self._app.routes[route]
        effective = method
        if method == "HEAD" and "HEAD" not in methods and "GET" in methods:
            effective = "GET"
        elif method not in methods:
            raise Refused(405, allow=", ".join(methods))
        body = self._read_body(environ, headers)
        event: dict[str, Any] = {
            "requestContext": {"httpMethod": effective, "resourcePath": route, "path": path,
                               "identity": {"sourceIp": environ.get("REMOTE_ADDR", "")}},
            "headers": headers,
            "pathParameters": captured or None,
            "stageVariables": None,
            "multiValueQueryStringParameters": _query(environ.get("QUERY_STRING", "")) or None,
        }
        if body is not None and headers.get("content-type", "") in self._binary_types:
            event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode("ascii"), True
        else:
            event["body"] = body
        answer = self._app(event, None)
        status, out_headers, data = _from_chalice(answer)
        if status == 500 and (data == _CHALICE_500 or data.startswith(b"Traceback")):
            status, out_headers, data = self._error(500, method, path, headers, environ)  # Chalice's own 500
        return status, out_headers, data

    def _read_body(self, environ: dict[str, Any], headers: dict[str, str]) -> bytes | None:
        length = environ.get("CONTENT_LENGTH")
        if "transfer-encoding" in headers:
            # granian hands over a chunked body whose encoding broke off as if it had ended, so the app could act
            # on a truncated body: such bodies are refused (every client we serve sends Content-Length)
            raise Refused(411, close=True)
        if length is None:
            if environ.get("SERVER_PROTOCOL") != "HTTP/2":
                return None  # HTTP/1: no framing header, no body
            data = environ["wsgi.input"].read(self._max_body + 1)  # HTTP/2 frames the body itself
            if len(data) > self._max_body:
                raise Refused(413, close=True)
            return data or None
        if not (length.isascii() and length.isdigit()):
            raise Refused(400, close=True)
        size = int(length)
        if size > self._max_body:
            raise Refused(413, close=True)  # before reading a byte of it
        if size == 0:
            return None
        data = environ["wsgi.input"].read(size)
        if len(data) != size:
            raise Refused(400, close=True)  # the client went away mid-body
        return data

    def _error(self, status: int, method: str, path: str, headers: dict[str, str],
               environ: dict[str, Any]) -> tuple[int, list[tuple[str, str]], bytes]:
        query = {k: v[0] for k, v in _query(environ.get("QUERY_STRING", "")).items()}
        try:
            status, out, body = self._render_error(status, method, path, headers, query)
        except Exception:
            log.exception("error renderer failed for status %d", status)
            status, out, body = default_error_renderer(status, method, path, headers, query)
        return status, list(out.items()), body


def _from_chalice(response: dict[str, Any]) -> tuple[int, list[tuple[str, str]], bytes]:
    headers = [(k, str(v)) for k, v in response.get("headers", {}).items()]
    headers += [(k, str(v)) for k, values in (response.get("multiValueHeaders") or {}).items() for v in values]
    body = response.get("body") or b""
    if response.get("isBase64Encoded"):
        body = base64.b64decode(body)
    flat = "".join(k + v for k, v in headers)
    if "\r" in flat or "\n" in flat:
        log.error("response header with CR or LF refused")
        return 500, [("Content-Type", "application/json")], b'{"message": "Internal Server Error"}'
    if body and not any(k.lower() == "content-type" for k, _ in headers):
        headers.append(("Content-Type", "application/json"))  # API Gateway's default
    return response["statusCode"], headers, body if isinstance(body, bytes) else body.encode()


def serve(load_app: Callable[[], WSGIApp], host: str, port: int, *, processes: int = 1,
          tls_cert: str | None = None, tls_key: str | None = None,
          on_ready: Callable[[str], None] | None = None, access_log: bool = False) -> None:
    """Serves until SIGTERM or SIGINT on ``processes`` worker processes sharing one socket. ``load_app`` runs in
    each worker process (after fork) and returns its WSGI app; a worker that dies is replaced."""
    try:
        from granian.constants import Interfaces, SSLProtocols
        from granian.http import HTTP1Settings
        from granian.log import LogLevels
        from granian.server import MPServer
    except ImportError:
        raise SystemExit("fngate serve needs granian: pip install -r requirements-server.txt") from None

    if (tls_cert is None) != (tls_key is None):
        raise ValueError("tls_cert and tls_key go together")
    for path in (tls_cert, tls_key):
        if path is not None and not os.access(path, os.R_OK):
            raise SystemExit(f"fngate: cannot read {path}")
    _check_address(host, port)
    server = MPServer(
        target="fngate", address=host, port=port, interface=Interfaces.WSGI, workers=max(1, processes),
        blocking_threads=THREADS_PER_PROCESS, backpressure=MAX_CONNECTIONS,
        http1_settings=HTTP1Settings(header_read_timeout=HEADER_TIMEOUT_MS, max_buffer_size=MAX_HEAD_BYTES),
        ssl_cert=Path(tls_cert) if tls_cert else None, ssl_key=Path(tls_key) if tls_key else None,
        ssl_protocol_min=SSLProtocols.tls12, respawn_failed_workers=True, respawn_interval=0.0,
        workers_kill_timeout=GRACE_SECONDS, log_level=LogLevels.error, log_access=access_log,
        websockets=False)
    if on_ready is not None:
        shown = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)
        url = f"{'https' if tls_cert else 'http'}://{f'[{shown}]' if ':' in shown else shown}:{port}"
        server.on_startup(lambda: on_ready(url))
    server.serve(target_loader=load_app, wrap_loader=False)


def _check_address(host: str, port: int) -> None:
    """One clear line when the address is taken or not ours (granian would panic with a Rust backtrace)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as err:
            raise SystemExit(f"fngate: cannot listen on {host}:{port}: {err.strerror}") from None
