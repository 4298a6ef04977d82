"""Fast local HTTP host for a Chalice app: keep-alive, TCP_NODELAY, one thread per connection.

`chalice local` writes headers and body separately with Nagle on, so each keep-alive request waits ~40 ms for a
delayed ACK. This host keeps Chalice's own LocalGateway (routing, authorizers, CORS, binary bodies) and replaces only
the HTTP layer: bounded bodies, timeouts, TLS handshakes off the accept loop, and a graceful drain on shutdown.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import json
import logging
import re
import signal
import socket
import ssl
import sys
import threading
import time
import uuid
from collections.abc import Callable
from email.utils import formatdate
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, parse_qsl, unquote, urlparse, urlsplit

from chalice import Chalice
from chalice import app as chalice_app
from chalice.config import Config
from chalice.local import LambdaContext, LocalGateway, LocalGatewayException

log = logging.getLogger(__name__)
access_log = logging.getLogger("fngate.access")

ErrorRenderer = Callable[[int, str, str, dict[str, str], dict[str, str]], tuple[int, dict[str, str], bytes]]
Reply = tuple[int, list[tuple[str, str]], bytes]

GRACE_SECONDS = 10.0  # how long shutdown waits for in-flight requests
_FRAMING = frozenset({"content-length", "transfer-encoding", "connection", "keep-alive"})  # ours to set, not the app's
_CHALICE_500 = b'{"Code":"InternalServerError","Message":"An internal server error occurred."}'
_CHUNK_SIZE = re.compile(rb"[0-9A-Fa-f]{1,8}")
_LINGER_SECONDS = 2.0  # after refusing a body, how long we discard the rest of it so the client can read our answer
_PHRASES = {status.value: status.phrase for status in HTTPStatus}
_PHRASES[901] = "Lambda Execution Failed"  # LivePerson's status for failures of the function's own code
_REQUEST = threading.local()  # per-request facts LocalGateway has no parameter for (the client IP)
_MAX_LINE = 65536  # request line and each header line, as http.server / http.client bound them
_MAX_HEADER_LINES = 100
_HEADER_NAME = re.compile(r"[!-9;-~]+")  # visible ASCII except ':' (what the email parser took for a name)


class _Early(Exception):
    """An answer decided before the app runs: a routing miss (404/405), or a refused request (400/408/413)."""

    def __init__(self, status: int, *, allow: str = "", refused: bool = False) -> None:
        super().__init__(status)
        self.status, self.allow, self.refused = status, allow, refused


def default_error_renderer(
    status: int, method: str, path: str, headers: dict[str, str], query: dict[str, str]
) -> tuple[int, dict[str, str], bytes]:
    """API Gateway's own error shape, for apps that do not render their errors."""
    return status, {"Content-Type": "application/json"}, json.dumps({"message": _PHRASES.get(status, "Error")}).encode()


def _memoize_content_type_matching() -> None:
    """Chalice matches content types up to four times a request (the route's types, the response's type and the
    request's Accept against the binary types), lower-casing and splitting the same few strings every time. The
    matcher is a pure function of two strings' worth of input, so its answers are kept (bounded)."""
    original = chalice_app._matches_content_type
    if getattr(original, "fngate_memoized", False):
        return

    @functools.lru_cache(maxsize=512)
    def cached(content_type: str, valid: tuple[str, ...]) -> bool:
        return original(content_type, list(valid))

    def matches(content_type: str, valid_content_types: list[str]) -> bool:
        return cached(content_type, tuple(valid_content_types))

    matches.fngate_memoized = True  # type: ignore[attr-defined]
    chalice_app._matches_content_type = matches


def _make_thread_safe(app: Chalice) -> None:
    """Chalice keeps current_request on the app; with threads it must be per thread (as `chalice local` does)."""
    cls = type(app)
    if getattr(cls, "_fngate_thread_local", False):
        return
    state = threading.local()

    def per_thread(name: str) -> property:
        return property(lambda _self: getattr(state, name, None), lambda _self, value: setattr(state, name, value))

    attrs = {"_fngate_thread_local": True, "current_request": per_thread("current_request"),
             "lambda_context": per_thread("lambda_context")}
    app.__class__ = type(cls.__name__, (cls,), attrs)


class _EventBuilder:
    """Wraps LocalGateway's event converter: misses become 404/405, and the event gets what API Gateway sends."""

    def __init__(self, app: Chalice, inner: Any) -> None:
        self._routes, self._inner = app.routes, inner

    def create_lambda_event(self, method: str, path: str, headers: dict[str, str], body: bytes | None = None) -> dict:
        try:
            event = self._inner.create_lambda_event(method=method, path=path, headers=headers, body=body)
        except ValueError:
            raise _Early(404) from None  # instead of API Gateway's 403 "Missing Authentication Token"
        context = event["requestContext"]
        methods = self._routes[context["resourcePath"]]
        if method == "HEAD" and "HEAD" not in methods and "GET" in methods:
            context["httpMethod"] = "GET"  # the handler drops the body
        elif method not in methods and method != "OPTIONS":  # OPTIONS: LocalGateway answers CORS preflights
            raise _Early(405, allow=", ".join(methods))
        context["identity"]["sourceIp"] = getattr(_REQUEST, "client_ip", context["identity"]["sourceIp"])
        event["pathParameters"] = {k: unquote(v) for k, v in event["pathParameters"].items()}  # API Gateway decodes
        return event


class _Headers:
    """The request's header fields in arrival order, looked up case-insensitively (first value wins), as the
    email.message.Message that http.server builds is, without the cost of the email parser."""

    __slots__ = ("_first", "_items")

    def __init__(self, items: list[tuple[str, str]]) -> None:
        self._items = items
        self._first: dict[str, str] = {}
        for name, value in items:
            self._first.setdefault(name.lower(), value)

    def get(self, name: str, default: Any = None) -> Any:
        return self._first.get(name.lower(), default)

    def __getitem__(self, name: str) -> str | None:
        return self._first.get(name.lower())

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._first

    def get_all(self, name: str, failobj: Any = None) -> Any:
        name = name.lower()
        found = [value for key, value in self._items if key.lower() == name]
        return found or failobj

    def items(self) -> list[tuple[str, str]]:
        return list(self._items)


class _Routes:
    """LocalGateway's RouteMatcher, compiled once. RouteMatcher tries every route in sorted order and takes the first
    whose segments match (literals equal, {captures} anything); here the routes with as many segments as the path are
    grouped by where their literal segments are, each group a dict from those literals to its first route in sorted
    order, so a match is a few dict lookups: the candidate that comes first in sorted order wins, as there."""

    def __init__(self, routes: Any) -> None:
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

    def match(self, url: str) -> tuple[str, dict[str, str], dict[str, list[str]]] | None:
        """(route, captured segments, query parameters) as RouteMatcher.match_route gives them, or None."""
        if url.startswith("/") and not url.startswith("//") and ";" not in url and "#" not in url:
            path, _, query = url.partition("?")  # what urlparse returns for such a url, for less
        else:
            parsed = urlparse(url)
            path, query = parsed.path, parsed.query
        if path != "/" and path.endswith("/"):
            path = path[:-1]  # API Gateway drops a trailing slash
        parts = path.split("/")
        best = None
        for where, table in self._by_length.get(len(parts), ()):
            found = table.get(tuple([parts[i] for i in where]))
            if found is not None and (best is None or found[0] < best[0]):
                best = found
        if best is None:
            return None
        return best[1], {name: parts[i] for i, name in best[2]}, _query(query)


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


class _Context(LambdaContext):
    """LocalGateway's LambdaContext with its request id made on first use (nothing on our path reads it)."""

    function_version = "$LATEST"
    invoked_function_arn = log_group_name = log_stream_name = ""
    identity = client_context = None

    def __init__(self, function_name: str, memory_size: int, max_runtime_ms: int) -> None:
        self._time_source = _CLOCK
        self._start_time = time.time() * 1000
        self._max_runtime = max_runtime_ms
        self.function_name, self.memory_limit_in_mb = function_name, memory_size
        self._request_id: str | None = None

    @property
    def aws_request_id(self) -> str:
        if self._request_id is None:
            self._request_id = str(uuid.uuid4())
        return self._request_id

    @aws_request_id.setter
    def aws_request_id(self, value: str) -> None:
        self._request_id = value


class _Clock:
    def time(self) -> float:
        return time.time()


_CLOCK = _Clock()


class _Gateway:
    """LocalGateway.handle_request with what does not change between requests computed once: the routes, the
    context's settings, which views have authorizers. Answers exactly as LocalGateway wrapped in _EventBuilder does;
    CORS preflights (OPTIONS) and routes with an authorizer are handed to that LocalGateway itself."""

    def __init__(self, app: Chalice, local: LocalGateway) -> None:
        self._app, self._local = app, local
        self._routes = _Routes(app.routes)
        self._binary_types = app.api.binary_types
        context = local._generate_lambda_context()
        self._context_args = (context.function_name, context.memory_limit_in_mb, context._max_runtime)

    def handle_request(self, method: str, path: str, headers: dict[str, str], body: bytes | None,
                       client_ip: str) -> dict[str, Any]:
        if method == "OPTIONS":
            return self._local.handle_request(method, path, headers, body)
        matched = self._routes.match(path)
        if matched is None:
            raise _Early(404)  # instead of API Gateway's 403 "Missing Authentication Token"
        route, captured, query = matched
        methods = self._app.routes[route]
        effective = method
        if method == "HEAD" and "HEAD" not in methods and "GET" in methods:
            effective = "GET"  # the handler drops the body
        elif method not in methods:
            raise _Early(405, allow=", ".join(methods))
        if methods[effective].authorizer is not None:
            return self._local.handle_request(method, path, headers, body)
        event: dict[str, Any] = {
            "requestContext": {"httpMethod": effective, "resourcePath": route, "identity": {"sourceIp": client_ip},
                               "path": path.split("?")[0]},
            "headers": {k.lower(): v for k, v in headers.items()},
            "pathParameters": {k: unquote(v) for k, v in captured.items()},  # API Gateway decodes them
            "stageVariables": {},
            "multiValueQueryStringParameters": query or None,
        }
        if body is not None and headers.get("content-type", "") in self._binary_types:  # LocalGateway's test
            event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode("ascii"), True
        else:
            event["body"] = body
        return self._app(event, _Context(*self._context_args))


def _from_chalice(response: dict[str, Any]) -> Reply:
    headers = [(k, str(v)) for k, v in response.get("headers", {}).items()]
    headers += [(k, str(v)) for k, values in (response.get("multiValueHeaders") or {}).items() for v in values]
    body = response.get("body") or b""
    if response.get("isBase64Encoded"):
        body = base64.b64decode(body)
    return response["statusCode"], headers, body if isinstance(body, bytes) else body.encode()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _Server

    def setup(self) -> None:
        self.timeout = self.server.conn_timeout  # idle keep-alive and slow-body bound
        super().setup()

    def handle_expect_100(self) -> bool:
        return True  # "100 Continue" is sent after the size check, so a refused body is never invited

    def parse_request(self) -> bool:
        """BaseHTTPRequestHandler.parse_request's answers (400, 414 via the caller, 431, 505, keep-alive rules),
        with the header block read by _read_headers instead of the much slower email parser."""
        self.command = None  # type: ignore[assignment]
        self.request_version = version = self.default_request_version
        self.close_connection = True
        self.requestline = requestline = str(self.raw_requestline, "iso-8859-1").rstrip("\r\n")
        words = requestline.split()
        if not words:
            return False
        if len(words) >= 3:
            version = words[-1]
            number = _http_version(version)
            if number is None:
                self.send_error(HTTPStatus.BAD_REQUEST, f"Bad request version ({version!r})")
                return False
            if number >= (2, 0):
                self.send_error(HTTPStatus.HTTP_VERSION_NOT_SUPPORTED, f"Invalid HTTP version ({version[5:]})")
                return False
            if number >= (1, 1):
                self.close_connection = False
        self.request_version = version
        if not 2 <= len(words) <= 3:
            self.send_error(HTTPStatus.BAD_REQUEST, f"Bad request syntax ({requestline!r})")
            return False
        command, path = words[:2]
        if len(words) == 2:
            self.close_connection = True
            if command != "GET":
                self.send_error(HTTPStatus.BAD_REQUEST, f"Bad HTTP/0.9 request type ({command!r})")
                return False
        self.command, self.path = command, "/" + path.lstrip("/") if path.startswith("//") else path
        headers = self._read_headers()
        if headers is None:
            return False
        self.headers = headers  # type: ignore[assignment]
        connection = (headers.get("Connection") or "").lower()
        if connection == "close":
            self.close_connection = True
        elif connection == "keep-alive":
            self.close_connection = False
        return True

    def _read_headers(self) -> _Headers | None:
        """The header block up to the empty line; folded lines are kept as the email parser (compat32) keeps them."""
        lines: list[list[str]] = []
        count = 0
        while True:
            raw = self.rfile.readline(_MAX_LINE + 1)
            if len(raw) > _MAX_LINE:
                self.send_error(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "Line too long", "header line")
                return None
            if raw in (b"\r\n", b"\n", b""):
                break
            count += 1
            if count > _MAX_HEADER_LINES:
                self.send_error(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "Too many headers",
                                f"got more than {_MAX_HEADER_LINES} headers")
                return None
            line = raw.decode("iso-8859-1")
            if line[0] in " \t" and lines:
                lines[-1].append(line)  # obsolete line folding
                continue
            name, colon, value = line.partition(":")
            if not colon or not _HEADER_NAME.fullmatch(name):
                self.send_error(HTTPStatus.BAD_REQUEST, "Bad header line")
                return None
            lines.append([name, value.lstrip(" \t")])
        return _Headers([(name, "".join(parts).rstrip("\r\n")) for name, *parts in lines])

    def date_time_string(self, timestamp: float | None = None) -> str:
        if timestamp is not None:
            return super().date_time_string(timestamp)
        now = int(time.time())
        cached = _DATE.get(now)
        if cached is None:
            _DATE.clear()
            cached = _DATE[now] = formatdate(now, usegmt=True)
        return cached

    def _dispatch(self) -> None:
        self._refused = False
        if self.server.mark(self.connection, busy=True):
            self.close_connection = True
        try:
            status, out = self._encode(*self._respond())
            self.wfile.write(out)
            if self._refused:
                self._linger()
            if not self.server.quiet:
                access_log.info('%s "%s" %d %d', self.client_address[0], self.requestline, status, len(out))
        finally:
            if self.server.mark(self.connection, busy=False):
                self.close_connection = True

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _dispatch

    def _respond(self) -> Reply:
        try:
            return self._call_app(self._read_body())
        except _Early as early:
            if early.refused:  # the body is unread or half read: this connection is done
                self.close_connection = self._refused = True
            status, headers, body = self._render(early.status)
            return status, [*headers, ("Allow", early.allow)] if early.allow else headers, body
        except LocalGatewayException as err:  # authorizer said no: API Gateway's own answer
            return err.CODE, list(err.headers.items()), err.body or b""
        except Exception:
            log.exception("unhandled error serving %s %s", self.command, self.path)
            return self._render(500)

    def _call_app(self, body: bytes | None) -> Reply:
        _REQUEST.client_ip = client_ip = self.client_address[0]
        headers = dict(self.headers.items())
        reply = _from_chalice(self.server.gateway.handle_request(self.command, self.path, headers, body, client_ip))
        if reply[0] == 500 and (reply[2] == _CHALICE_500 or reply[2].startswith(b"Traceback")):
            return self._render(500)  # Chalice caught and logged a view exception; answer in the app's format
        return reply

    def _render(self, status: int) -> Reply:
        parts = urlsplit(self.path)
        args = (status, self.command, parts.path, dict(self.headers.items()), dict(parse_qsl(parts.query, True)))
        try:
            status, headers, body = self.server.error_renderer(*args)
        except Exception:
            log.exception("error_renderer failed for status %d", status)
            status, headers, body = default_error_renderer(*args)
        return status, list(headers.items()), body

    def _encode(self, status: int, headers: list[tuple[str, str]], body: bytes) -> tuple[int, bytes]:
        try:
            return status, self._serialize(status, headers, body)
        except ValueError:  # CR/LF or non-latin-1 in a header the app set
            log.exception("invalid response headers for %s %s", self.command, self.path)
            status, headers, body = self._render(500)
            return status, self._serialize(status, headers, body)

    def _serialize(self, status: int, headers: list[tuple[str, str]], body: bytes) -> bytes:
        """The whole response in one buffer, so it leaves in one send (no delayed-ACK stall)."""
        lines = [f"HTTP/1.1 {status} {_PHRASES.get(status, 'Unknown')}", f"Date: {self.date_time_string()}"]
        lines += [f"{name}: {value}" for name, value in headers if name.lower() not in _FRAMING]
        if any("\r" in line or "\n" in line for line in lines):
            raise ValueError("header contains CR or LF")
        if body and not any(name.lower() == "content-type" for name, _ in headers):
            lines.append("Content-Type: application/json")
        if status >= 200 and status not in (204, 304):
            lines.append(f"Content-Length: {len(body)}")
        else:
            body = b""
        if self.close_connection:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        return head if self.command == "HEAD" else head + body

    def _read_body(self) -> bytes | None:
        try:
            if "Transfer-Encoding" in self.headers:
                return self._read_chunked()
            lengths = set(self.headers.get_all("Content-Length") or [])
            if not lengths:
                return None  # no framing: a request without a body
            length = lengths.pop().strip()
            if lengths or not (length.isascii() and length.isdigit()):
                raise _Early(400, refused=True)
            if int(length) > self.server.max_body:
                raise _Early(413, refused=True)  # before reading a byte of it
            self._continue()
            return self._read_exact(int(length)) or None
        except TimeoutError:
            raise _Early(408, refused=True) from None

    def _read_chunked(self) -> bytes:
        if self.headers["Transfer-Encoding"].strip().lower() != "chunked" or "Content-Length" in self.headers:
            raise _Early(400, refused=True)  # ambiguous framing invites request smuggling
        self._continue()
        parts: list[bytes] = []
        total = 0
        while True:
            token = self.rfile.readline(1024).split(b";", 1)[0].strip()
            if not _CHUNK_SIZE.fullmatch(token):
                raise _Early(400, refused=True)
            size = int(token, 16)
            total += size
            if total > self.server.max_body:
                raise _Early(413, refused=True)
            if size == 0:
                break
            parts.append(self._read_exact(size))
            if self.rfile.readline(3) not in (b"\r\n", b"\n"):
                raise _Early(400, refused=True)
        for _ in range(64):  # trailers, ignored
            if self.rfile.readline(8192) in (b"\r\n", b"\n", b""):
                return b"".join(parts)
        raise _Early(400, refused=True)

    def _read_exact(self, size: int) -> bytes:
        data = self.rfile.read(size)
        if len(data) < size:
            raise _Early(400, refused=True)  # the client went away mid-body
        return data

    def _continue(self) -> None:
        if self.headers.get("Expect", "").lower() == "100-continue" and self.request_version >= "HTTP/1.1":
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def _linger(self) -> None:
        """Closing with unread input sends an RST that can destroy our answer at the client, so drain a while first."""
        deadline = time.monotonic() + _LINGER_SECONDS
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_WR)
            while (left := deadline - time.monotonic()) > 0:
                self.connection.settimeout(left)
                if not self.connection.recv(65536):
                    break

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s: " + format, self.address_string(), *args)


class _Server(ThreadingHTTPServer):
    """Tracks connections so shutdown can close the idle ones and wait for the busy ones."""

    daemon_threads = True
    request_queue_size = 128
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], gateway: _Gateway, *, max_body: int, conn_timeout: float,
                 quiet: bool, error_renderer: ErrorRenderer) -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.gateway, self.max_body, self.conn_timeout = gateway, max_body, conn_timeout
        self.quiet, self.error_renderer = quiet, error_renderer
        self._cond = threading.Condition()
        self._busy: dict[socket.socket, bool] = {}
        self._stopping = False
        super().__init__(address, _Handler)

    def finish_request(self, request: Any, client_address: Any) -> None:
        with self._cond:
            if self._stopping:
                return
            self._busy[request] = False
        try:
            if isinstance(request, ssl.SSLSocket):  # handshake here, in the connection's thread, not in accept()
                request.settimeout(self.conn_timeout)
                request.do_handshake()
            super().finish_request(request, client_address)
        finally:
            with self._cond:
                del self._busy[request]
                self._cond.notify_all()

    def mark(self, conn: socket.socket, *, busy: bool) -> bool:
        """Records whether conn is inside a request; True means shutdown has begun, so close after this one."""
        with self._cond:
            self._busy[conn] = busy
            if self._stopping:  # only drain() waits on this
                self._cond.notify_all()
            return self._stopping

    def drain(self, grace: float) -> None:
        """Closes idle keep-alive connections now and busy ones when they finish or grace runs out."""
        deadline = time.monotonic() + grace
        with self._cond:
            self._stopping = True
            _hang_up(conn for conn, busy in self._busy.items() if not busy)
            while any(self._busy.values()) and (left := deadline - time.monotonic()) > 0:
                self._cond.wait(left)
            _hang_up(list(self._busy))

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], OSError):  # resets, broken pipes, TLS alerts: the client's doing
            log.debug("connection from %s dropped", client_address, exc_info=True)
        else:
            log.exception("unhandled error on connection from %s", client_address)


_DATE: dict[int, str] = {}  # the Date header of the current second


def _http_version(version: str) -> tuple[int, int] | None:
    """(major, minor) of "HTTP/x.y", or None when malformed (the rules of http.server)."""
    if not version.startswith("HTTP/"):
        return None
    numbers = version[5:].split(".")
    if len(numbers) != 2 or not all(n.isdigit() and n.isascii() and len(n) <= 10 for n in numbers):
        return None
    return int(numbers[0]), int(numbers[1])


def _hang_up(conns: Any) -> None:
    for conn in conns:  # socket.socket's shutdown, not SSLSocket's: that one drops the TLS state under a reader
        with contextlib.suppress(OSError):
            socket.socket.shutdown(conn, socket.SHUT_RDWR)


def _tls_context(cert: str, key: str) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert, key)
    return context


class GatewayServer:
    """A Chalice app on a real socket, bound on construction; start() serves from a background thread."""

    def __init__(self, app: Chalice, host: str = "127.0.0.1", port: int = 0, *, tls_cert: str | None = None,
                 tls_key: str | None = None, max_body: int = 1_048_576, timeout: float = 30.0, quiet: bool = True,
                 error_renderer: ErrorRenderer | None = None) -> None:
        if (tls_cert is None) != (tls_key is None):
            raise ValueError("tls_cert and tls_key go together")
        _make_thread_safe(app)
        _memoize_content_type_matching()
        local = LocalGateway(app, Config())
        local.event_converter = _EventBuilder(app, local.event_converter)  # type: ignore[assignment]
        self._httpd = _Server((host, port), _Gateway(app, local), max_body=max_body, conn_timeout=timeout, quiet=quiet,
                              error_renderer=error_renderer or default_error_renderer)
        if tls_cert and tls_key:
            self._httpd.socket = _tls_context(tls_cert, tls_key).wrap_socket(
                self._httpd.socket, server_side=True, do_handshake_on_connect=False)
        self._scheme = "https" if tls_cert else "http"
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        host = self._httpd.server_address[0]
        host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)
        return f"{self._scheme}://{f'[{host}]' if ':' in host else host}:{self.port}"

    def start(self) -> GatewayServer:
        if self._thread is not None:  # already serving (e.g. started by `with`): one accept loop only
            return self
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                        name=f"fngate-accept-{self.port}", daemon=True)
        self._thread.start()
        return self

    def shutdown(self, grace: float = GRACE_SECONDS) -> None:
        """Stops accepting, closes idle connections, and waits up to `grace` seconds for in-flight requests."""
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join()
            self._thread = None
        self._httpd.server_close()
        self._httpd.drain(grace)

    def __enter__(self) -> GatewayServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.shutdown()


def serve(app: Chalice, host: str, port: int, *, tls_cert: str | None = None, tls_key: str | None = None,
          max_body: int = 1_048_576, on_ready: Callable[[str], None] | None = None,
          error_renderer: ErrorRenderer | None = None, timeout: float = 30.0, quiet: bool = True) -> None:
    """Serves until SIGTERM or SIGINT, then drains in-flight requests. Call it from the main thread."""
    server = GatewayServer(app, host, port, tls_cert=tls_cert, tls_key=tls_key, max_body=max_body,
                           timeout=timeout, quiet=quiet, error_renderer=error_renderer)
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        server.start()
        if on_ready is not None:
            on_ready(server.url)
        while not stop.wait(1.0):
            pass
    finally:
        server.shutdown()
        for sig, handler in previous.items():
            signal.signal(sig, handler if handler is not None else signal.SIG_DFL)
