"""The local HTTP edge: granian serves the Chalice app through a thin RSGI adapter, in one or several processes.

granian (Rust; hyper parses HTTP/1.1 and HTTP/2) owns the sockets: keep-alive, TLS, header timeouts, malformed
requests, and N worker processes on one listening socket, each replaced when it dies. ``ChaliceRSGI`` reads the
request body on the process's event loop (asynchronously, under a time limit and the size limit), so a client that
stalls mid-body holds no thread; only a complete request reaches Chalice's Lambda entry (``app(event, context)``),
on the API Gateway proxy event built from it: an invocation on the loop's own thread (in a greenlet, see
``runtime/waits.py``), any other route on a bounded thread pool. What the app must never see —
bodies over the limit (before reading them), bodies not received in time, unknown routes, wrong methods, chunked
request bodies, a missing Host — is answered with the app's own JSON error bodies. It uses Chalice's public surface
only: ``app.routes``, ``app.api.binary_types``, ``app(event, context)`` and ``app.current_request``.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import contextlib
import contextvars
import gc
import json
import logging
import os
import socket
import threading
from collections.abc import Callable, Iterable
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from chalice import Chalice

from chalicelib.runtime.waits import run_on_loop

log = logging.getLogger(__name__)

ErrorRenderer = Callable[[int, str, str, dict[str, str], dict[str, str]], tuple[int, dict[str, str], bytes]]
Answer = tuple[int, list[tuple[str, str]], bytes]

GRACE_SECONDS = 10  # how long a stopping process may take to finish its in-flight requests
HEADER_TIMEOUT_MS = 10_000  # a request's line and headers must arrive within this (slowloris)
BODY_TIMEOUT_S = 30.0  # a request's body must arrive within this after its headers, or 408 (FNGATE_BODY_TIMEOUT_S)
MAX_HEAD_BYTES = 64 * 1024  # request line plus headers (hyper answers 431 or closes beyond)
THREADS_PER_PROCESS = 256  # threads that run the app in each process (each function call blocks one)
MAX_CONNECTIONS = 4096  # requests in flight per process (idle keep-alive connections cost no thread, no task)
_CHALICE_500 = b'{"Code":"InternalServerError","Message":"An internal server error occurred."}'
_PHRASES = {status.value: status.phrase for status in HTTPStatus}
_PHRASES[901] = "Lambda Execution Failed"  # LivePerson's status for failures of the function's own code


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


class _ContextRequest(Chalice):
    """Chalice keeps ``current_request`` on the app; here it is per thread and per loop call (a context variable:
    each thread and each greenlet has its own), where ``chalice local``'s ``LocalChalice`` keeps it per thread."""

    @property  # type: ignore[override]
    def current_request(self) -> Any:  # type: ignore[override]
        return _CURRENT_REQUEST.get()

    @current_request.setter
    def current_request(self, value: Any) -> None:
        _CURRENT_REQUEST.set(value)


_CURRENT_REQUEST: contextvars.ContextVar[Any] = contextvars.ContextVar("fngate_current_request", default=None)


def context_local_requests(app: Chalice) -> None:
    """Makes the app keep its current request per thread and per loop call (as ``chalice local`` turns the app
    into a ``LocalChalice``, by class)."""
    if not isinstance(app, _ContextRequest):
        app.__class__ = type(f"Local{type(app).__name__}", (_ContextRequest, type(app)), {})


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


def _headers(items: Iterable[tuple[str, str]]) -> dict[str, str]:
    """The request's headers as API Gateway's ``headers`` has them: lower-cased names (hyper's), repeated ones
    joined with ", " (RFC 9110 §5.3)."""
    headers: dict[str, str] = {}
    for name, value in items:
        if name in headers:
            headers[name] += ", " + value
        else:
            headers[name] = value
    return headers


def _source_ip(client: str) -> str:
    """"127.0.0.1:5000" → "127.0.0.1", "[::1]:5000" → "::1"."""
    host = client.rsplit(":", 1)[0]
    return host[1:-1] if host.startswith("[") else host


class Target:
    """A request the app will serve: its route, captured path segments and the method the route runs."""

    __slots__ = ("captured", "method", "route")

    def __init__(self, method: str, route: str, captured: dict[str, str]) -> None:
        self.method, self.route, self.captured = method, route, captured


class ChaliceAdapter:
    """A Chalice app behind an HTTP server: routing, the refusals decided before the app runs, the event built
    for Chalice's Lambda entry and its answer. Synchronous; ``ChaliceRSGI`` puts it on granian's interface."""

    def __init__(self, app: Chalice, *, max_body: int = 1_048_576,
                 error_renderer: ErrorRenderer | None = None) -> None:
        context_local_requests(app)
        self._app, self.max_body = app, max_body
        self._routes = _Routes(app.routes)
        self._binary_types = frozenset(app.api.binary_types)
        self._render_error = error_renderer or default_error_renderer

    def target(self, method: str, path: str, headers: dict[str, str], http_version: str) -> Target:
        """Where the request goes, or Refused: no Host (HTTP/1.1), no route (404), a method it lacks (405)."""
        if http_version == "1.1" and not headers.get("host"):
            raise Refused(400, close=True)  # RFC 9112 §3.2: a request without Host is refused
        matched = self._routes.match(path)
        if matched is None:
            raise Refused(404)
        route, captured = matched
        methods = self._app.routes[route]
        if method not in methods:
            if method == "HEAD" and "GET" in methods:
                return Target("GET", route, captured)
            raise Refused(405, allow=", ".join(methods))
        return Target(method, route, captured)

    def body_size(self, headers: dict[str, str], http_version: str) -> int | None:
        """The body's declared length (0: none), None for an HTTP/2 body framed without one; Refused for chunked
        bodies (411), a malformed length (400) or one over the limit (413, before a byte of it is read)."""
        if "transfer-encoding" in headers:
            # granian hands over a chunked body whose encoding broke off as if it had ended, so the app could act
            # on a truncated body: such bodies are refused (every client we serve sends Content-Length)
            raise Refused(411, close=True)
        length = headers.get("content-length")
        if length is None:
            return None if http_version == "2" else 0  # HTTP/1: no framing header, no body
        if not (length.isascii() and length.isdigit()):
            raise Refused(400, close=True)
        size = int(length)
        if size > self.max_body:
            raise Refused(413, close=True)
        return size

    def respond(self, target: Target, path: str, query: str, headers: dict[str, str], source_ip: str,
                body: bytes | None) -> Answer:
        """Runs the app on the request (blocking: a function call waits for its worker) and renders its answer."""
        event: dict[str, Any] = {
            "requestContext": {"httpMethod": target.method, "resourcePath": target.route, "path": path,
                               "identity": {"sourceIp": source_ip}},
            "headers": headers,
            "pathParameters": target.captured or None,
            "stageVariables": None,
            "multiValueQueryStringParameters": _query(query) or None,
        }
        if body is not None and headers.get("content-type", "") in self._binary_types:
            event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode("ascii"), True
        else:
            event["body"] = body
        try:
            status, out_headers, data = _from_chalice(self._app(event, None))
        except ValueError as err:
            log.error("%s (%s %s)", err, target.method, path)
            return self.error(500, target.method, path, headers, query)
        if status == 500 and (data == _CHALICE_500 or data.startswith(b"Traceback")):
            return self.error(500, target.method, path, headers, query)  # Chalice's own 500
        return status, out_headers, data

    def refusal(self, refused: Refused, method: str, path: str, headers: dict[str, str], query: str) -> Answer:
        status, out_headers, body = self.error(refused.status, method, path, headers, query)
        if refused.allow:
            out_headers.append(("Allow", refused.allow))
        if refused.close:  # the body is unread: do not read it to keep the connection
            out_headers.append(("Connection", "close"))
        return status, out_headers, body

    def error(self, status: int, method: str, path: str, headers: dict[str, str], query: str) -> Answer:
        params = {k: v[0] for k, v in _query(query).items()}
        try:
            status, out, body = self._render_error(status, method, path, headers, params)
        except Exception:
            log.exception("error renderer failed for status %d", status)
            status, out, body = default_error_renderer(status, method, path, headers, params)
        return status, list(out.items()), body


class RequestThreads:
    """At most ``size`` threads that run requests, started as they are needed and then kept. A job goes to the
    thread that went idle last (a stack, not a queue): under light load one warm thread serves request after
    request with its stack and caches hot, instead of every request waking the next of many threads in turn
    (bench/results.md). Leaner than ``ThreadPoolExecutor`` (no futures: a job delivers its own result)."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._idle: list[_Slot] = []  # last idle on top
        self._backlog: collections.deque[Callable[[], None]] = collections.deque()  # when every thread is busy
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._stopping = False

    def submit(self, job: Callable[[], None]) -> None:
        with self._lock:
            if self._idle:
                slot = self._idle.pop()
                slot.job = job
                slot.wake.release()
                return
            if len(self._threads) >= self._size:
                self._backlog.append(job)
                return
            thread = threading.Thread(target=self._work, args=(_Slot(job),), daemon=True,
                                      name=f"fngate-request-{len(self._threads)}")
            self._threads.append(thread)
        thread.start()

    def _work(self, slot: _Slot) -> None:
        job: Callable[[], None] | None = slot.job
        while job is not None:
            try:
                job()
            except BaseException:  # a job handles its own errors; this keeps the thread whatever slips through
                log.exception("request thread job failed")
            with self._lock:
                if self._backlog:
                    job = self._backlog.popleft()
                    continue
                if self._stopping:
                    return
                slot.job = None
                self._idle.append(slot)
            slot.wake.acquire()
            job = slot.job

    def shutdown(self) -> None:
        """Waits for the jobs queued and running to finish, then stops the threads."""
        with self._lock:
            self._stopping = True
            threads, idle = list(self._threads), list(self._idle)
            self._idle.clear()
        for slot in idle:
            slot.job = None
            slot.wake.release()
        for thread in threads:
            thread.join()


class _Slot:
    """An idle request thread: the job handed to it and the lock it sleeps on until then."""

    __slots__ = ("job", "wake")

    def __init__(self, job: Callable[[], None]) -> None:
        self.job: Callable[[], None] | None = job
        self.wake = threading.Lock()
        self.wake.acquire()


class ChaliceRSGI:
    """A Chalice app as an RSGI application (granian's own interface; see the module docstring).

    The body is read on the event loop, so a stalled upload costs a connection and a timer, never a thread; the
    app then runs on the loop for ``loop_routes`` (their waits are the loop's, their slow steps go to the threads),
    else on one of at most ``threads`` threads of this process, which also sends the answer. A body not complete
    within ``body_timeout_s`` is answered 408 and the connection closed."""

    def __init__(self, app: Chalice, *, max_body: int = 1_048_576, error_renderer: ErrorRenderer | None = None,
                 body_timeout_s: float = BODY_TIMEOUT_S, threads: int = THREADS_PER_PROCESS,
                 loop_routes: Iterable[str] = ()) -> None:
        self.adapter = ChaliceAdapter(app, max_body=max_body, error_renderer=error_renderer)
        self._body_timeout_s = body_timeout_s
        self._threads = RequestThreads(threads)
        self._loop_routes = frozenset(loop_routes)
        self._loop: asyncio.AbstractEventLoop | None = None

    def __rsgi_init__(self, loop: asyncio.AbstractEventLoop) -> None:
        """In the server process, once the app and its services are built. What they made at start-up is moved out
        of the collector's sight (gc.freeze): a full collection then pauses a request ~0.05 ms instead of 3–5 ms
        (bench/results.md)."""
        self._loop = loop
        gc.collect()
        gc.freeze()

    def __rsgi_del__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._threads.shutdown()  # requests still running finish (granian has stopped taking new ones)

    async def __rsgi__(self, scope: Any, protocol: Any) -> None:
        adapter, method, path, query = self.adapter, scope.method, scope.path, scope.query_string
        headers = _headers(scope.headers.items())
        try:
            try:
                target = adapter.target(method, path, headers, scope.http_version)
                size = adapter.body_size(headers, scope.http_version)
                body = None if size == 0 else await self._read_body(protocol, size)
            except Refused as refused:
                return _send(protocol, adapter.refusal(refused, method, path, headers, query), method, path)
        except Exception:
            log.exception("unhandled error serving %s %s", method, path)
            return _send(protocol, adapter.error(500, method, path, headers, query), method, path)
        loop = self._loop
        assert loop is not None, "__rsgi_init__ runs first"
        source_ip = _source_ip(scope.client)

        def answer() -> Answer:
            try:
                return adapter.respond(target, path, query, headers, source_ip, body)
            except Exception:
                log.exception("unhandled error serving %s %s", method, path)
                return adapter.error(500, method, path, headers, query)

        if target.route in self._loop_routes:  # on this loop, in a greenlet (chalicelib/runtime/waits.py)
            return _send(protocol, await run_on_loop(answer, loop, self._threads.submit), method, path)
        sent = loop.create_future()  # granian answers 500 to a request whose callable returns unanswered

        def run() -> None:
            try:
                _send(protocol, answer(), method, path)
            finally:  # the request ends whatever happened (unanswered, granian answers an empty 500)
                with contextlib.suppress(RuntimeError):  # the loop has closed (the process is stopping)
                    loop.call_soon_threadsafe(sent.set_result, None)

        self._threads.submit(run)
        await sent

    async def _read_body(self, protocol: Any, size: int | None) -> bytes | None:
        """The whole body (hyper holds it to its Content-Length), or Refused: not in time (408), cut short (400),
        an HTTP/2 body without a length that grows past the limit (413)."""
        try:
            async with asyncio.timeout(self._body_timeout_s):
                if size is not None:
                    data = await protocol()
                else:  # HTTP/2 frames the body itself: read it in chunks, up to the limit
                    chunks, received = [], 0
                    async for chunk in protocol:
                        received += len(chunk)
                        if received > self.adapter.max_body:
                            raise Refused(413, close=True)
                        chunks.append(chunk)
                    data = b"".join(chunks)
        except TimeoutError:
            raise Refused(408, close=True) from None
        except Refused:
            raise
        except Exception:  # granian's ProtocolClosed or ProtocolError: the connection broke mid-body
            raise Refused(400, close=True) from None
        if size is not None and len(data) != size:
            raise Refused(400, close=True)  # the client went away mid-body
        return data or None


def _send(protocol: Any, answer: Answer, method: str, path: str) -> None:
    status, headers, data = answer
    try:
        protocol.response_bytes(status, headers, data)  # hyper sends no body for HEAD, with GET's length
    except Exception:  # granian's ProtocolClosed: the client has gone
        log.debug("client gone before the answer to %s %s", method, path)
    except BaseException:  # pyo3's PanicException (not an Exception): hyper refused the status or a header
        log.exception("answer to %s %s refused by the server (it answers an empty 500)", method, path)


def _from_chalice(response: dict[str, Any]) -> tuple[int, list[tuple[str, str]], bytes]:
    headers = [(k, str(v)) for k, v in response.get("headers", {}).items()]
    headers += [(k, str(v)) for k, values in (response.get("multiValueHeaders") or {}).items() for v in values]
    body = response.get("body") or b""
    if response.get("isBase64Encoded"):
        body = base64.b64decode(body)
    flat = "".join(k + v for k, v in headers)
    if not (flat.isascii() and flat.isprintable()):  # CR/LF would split the answer; hyper refuses the rest
        raise ValueError("response header with a character outside visible ASCII refused")
    if body and not any(k.lower() == "content-type" for k, _ in headers):
        headers.append(("Content-Type", "application/json"))  # API Gateway's default
    return response["statusCode"], headers, body if isinstance(body, bytes) else body.encode()


def serve(load_app: Callable[[], ChaliceRSGI], host: str, port: int, *, processes: int = 1,
          tls_cert: str | None = None, tls_key: str | None = None,
          on_ready: Callable[[str], None] | None = None, access_log: bool = False) -> None:
    """Serves until SIGTERM or SIGINT on ``processes`` worker processes sharing one socket. ``load_app`` runs in
    each worker process (after fork) and returns its RSGI app; a worker that dies is replaced."""
    try:
        from granian.constants import Interfaces, Loops, SSLProtocols
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
        target="fngate", address=host, port=port, interface=Interfaces.RSGI, workers=max(1, processes),
        loop=_loop(Loops), backpressure=MAX_CONNECTIONS,
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


def _loop(loops: Any) -> Any:
    """uvloop when installed (requirements-server.txt): its loop costs the request path ~20 µs less CPU than
    asyncio's (bench/results.md); asyncio's otherwise."""
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return loops.asyncio
    return loops.uvloop


def _check_address(host: str, port: int) -> None:
    """One clear line when the address is taken or not ours (granian would panic with a Rust backtrace)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as err:
            raise SystemExit(f"fngate: cannot listen on {host}:{port}: {err.strerror}") from None
