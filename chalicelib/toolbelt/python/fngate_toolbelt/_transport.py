"""HTTP(S) through the egress proxy, on http.client (stdlib), with redirects where every hop is a new exchange.

Proxy choice (the same rule as the Node toolbelt): HTTPS_PROXY / HTTP_PROXY (either serves both schemes; the worker
sets both to ``http://fn:<token>@127.0.0.1:<port>``), else FNGATE_EGRESS_SOCKET (the proxy's unix socket, password
FNGATE_EGRESS_TOKEN), else a direct connection (local use). https targets go through a CONNECT tunnel with TLS end
to end; http targets are sent to the proxy in absolute form. http.client rather than urllib: it lets the same code
speak to a unix-socket proxy and keeps non-2xx answers as plain responses.
"""

from __future__ import annotations

import base64
import errno
import http.client
import json as jsonlib
import os
import socket
import ssl
import time
import zlib
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

from ._errors import RequestError

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
MAX_RESPONSE_BYTES = 64 * 1024 * 1024
_REFUSALS = {403: "the host is not allowed for this function", 407: "the proxy credentials were not accepted",
             429: "too many outbound requests from this function"}  # when the proxy's own reason is missing


@dataclass(frozen=True)
class Proxy:
    host: str = ""
    port: int = 0
    socket_path: str = ""
    auth: str = ""  # "user:password"

    def authorization(self) -> dict[str, str]:
        if not self.auth:
            return {}
        return {"Proxy-Authorization": "Basic " + base64.b64encode(self.auth.encode()).decode()}


@dataclass
class Response:
    """A complete answer: ``status``, lower-case ``headers``, ``body`` bytes, the final ``url``."""

    status: int
    reason: str
    headers: dict[str, str]
    body: bytes
    url: str
    redirects: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def text(self, encoding: str = "utf-8") -> str:
        return self.body.decode(encoding, "replace")

    def json(self) -> Any:
        return jsonlib.loads(self.body) if self.body else None


def proxy_from_env(env: dict[str, str] | os._Environ[str] | None = None) -> Proxy | None:
    env = os.environ if env is None else env
    raw = env.get("HTTPS_PROXY") or env.get("https_proxy") or env.get("HTTP_PROXY") or env.get("http_proxy")
    if raw:
        parts = urlsplit(raw if "://" in raw else f"http://{raw}")
        auth = f"{unquote(parts.username)}:{unquote(parts.password or '')}" if parts.username else ""
        return Proxy(host=parts.hostname or "127.0.0.1", port=parts.port or 80, auth=auth)
    if env.get("FNGATE_EGRESS_SOCKET"):
        token = env.get("FNGATE_EGRESS_TOKEN", "")
        return Proxy(socket_path=env["FNGATE_EGRESS_SOCKET"], auth=f"fn:{token}" if token else "")
    return None


class _UnixConnection(http.client.HTTPConnection):
    """Plain HTTP to a proxy listening on a unix socket (tunnels via set_tunnel)."""

    def __init__(self, path: str, timeout: float | None) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self._path)
        self.sock = sock
        if self._tunnel_host:  # type: ignore[attr-defined]  # http.client's CONNECT state (private, stable)
            self._tunnel()  # type: ignore[attr-defined]


class _UnixTLSConnection(http.client.HTTPSConnection):
    """TLS to the target inside a CONNECT tunnel opened over the proxy's unix socket."""

    def __init__(self, path: str, timeout: float | None, context: ssl.SSLContext) -> None:
        super().__init__("localhost", timeout=timeout, context=context)
        self._path = path

    def connect(self) -> None:
        _UnixConnection.connect(self)  # type: ignore[arg-type]
        self.sock = self._context.wrap_socket(  # type: ignore[attr-defined]
            self.sock, server_hostname=self._tunnel_host or self.host)  # type: ignore[attr-defined]


def _connection(url: str, timeout: float, context: ssl.SSLContext | None) -> tuple[http.client.HTTPConnection, str]:
    """A connection for ``url`` and the request target to send on it."""
    parts = urlsplit(url)
    host, secure = parts.hostname or "", parts.scheme == "https"
    port = parts.port or (443 if secure else 80)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    proxy = proxy_from_env()
    ctx = context or ssl.create_default_context()
    if proxy is None:
        if secure:
            return http.client.HTTPSConnection(host, port, timeout=timeout, context=ctx), path
        return http.client.HTTPConnection(host, port, timeout=timeout), path
    conn: http.client.HTTPConnection
    if secure:
        if proxy.socket_path:
            conn = _UnixTLSConnection(proxy.socket_path, timeout, ctx)
        else:
            conn = http.client.HTTPSConnection(proxy.host, proxy.port, timeout=timeout, context=ctx)
        conn.set_tunnel(host, port, headers=proxy.authorization())
        return conn, path
    if proxy.socket_path:
        conn = _UnixConnection(proxy.socket_path, timeout)
    else:
        conn = http.client.HTTPConnection(proxy.host, proxy.port, timeout=timeout)
    return conn, parts._replace(fragment="").geturl()


def _decode(body: bytes, encoding: str) -> bytes:
    """The decoded body, at most MAX_RESPONSE_BYTES of it: a small compressed answer may not expand without bound."""
    encoding = encoding.strip().lower()
    if encoding in ("gzip", "x-gzip"):
        return _inflate(body, 16 + zlib.MAX_WBITS)
    if encoding == "deflate":
        return _inflate(body, zlib.MAX_WBITS)
    return body


def _inflate(body: bytes, wbits: int) -> bytes:
    inflater = zlib.decompressobj(wbits)
    try:
        out = inflater.decompress(body, MAX_RESPONSE_BYTES + 1)
    except zlib.error as exc:
        raise RequestError("EDECOMPRESS", f"The response body cannot be decoded: {exc}") from None
    if len(out) > MAX_RESPONSE_BYTES or inflater.unconsumed_tail:
        raise RequestError("E2BIG", f"The decompressed response exceeds {MAX_RESPONSE_BYTES} bytes")
    return out


def _failure(err: BaseException, url: str) -> RequestError:
    if isinstance(err, TimeoutError | socket.timeout):
        return RequestError("ETIMEDOUT", f"The request to {url} timed out")
    text = str(err)
    if text.startswith("Tunnel connection failed:"):
        words = text.split(":", 1)[1].split()
        status = int(words[0]) if words and words[0].isdigit() else 0
        reason = " ".join(words[1:])  # the proxy's reason phrase says which rule refused (Port Not Allowed, ...)
        hint = reason if reason and reason != "Forbidden" else _REFUSALS.get(status, "Socket is closed")
        return RequestError("EPROXY", f"The egress proxy refused {urlsplit(url).netloc} (HTTP {status}): {hint}",
                            proxy_status=status)
    if isinstance(err, ConnectionRefusedError):
        return RequestError("ECONNREFUSED", text)
    if isinstance(err, ConnectionResetError | BrokenPipeError | http.client.RemoteDisconnected):
        return RequestError("ECONNRESET", text)
    if isinstance(err, ssl.SSLError):
        return RequestError("ETLS", text)
    number = getattr(err, "errno", None)
    return RequestError(errno.errorcode.get(number, type(err).__name__) if number else type(err).__name__, text)


def send(method: str, url: str, headers: dict[str, str], body: bytes | None, *, timeout: float,
         context: ssl.SSLContext | None = None) -> Response:
    """One exchange, fully read; ``timeout`` bounds each socket operation."""
    try:
        conn, target = _connection(url, timeout, context)
    except ValueError as err:
        raise RequestError("EINVAL", str(err)) from None
    try:
        proxy = proxy_from_env()
        all_headers = dict(headers)
        if proxy and not url.startswith("https:"):
            all_headers.update(proxy.authorization())
        conn.request(method, target, body=body, headers=all_headers)
        res = conn.getresponse()
        raw = res.read(MAX_RESPONSE_BYTES + 1)
        if len(raw) > MAX_RESPONSE_BYTES:
            raise RequestError("E2BIG", f"The response exceeds {MAX_RESPONSE_BYTES} bytes")
        lower: dict[str, str] = {}
        for name, value in res.getheaders():
            key = name.lower()
            lower[key] = f"{lower[key]}, {value}" if key in lower else value
        return Response(res.status, res.reason, lower, raw, url)
    except RequestError:
        raise
    except (OSError, http.client.HTTPException) as err:
        raise _failure(err, url) from None
    finally:
        conn.close()


def _next_hop(method: str, url: str, headers: dict[str, str], body: bytes | None,
              res: Response) -> tuple[str, str, dict[str, str], bytes | None]:
    new_url = urljoin(url, res.headers["location"])
    if urlsplit(new_url).scheme not in ("http", "https"):
        raise RequestError("EPROTO", f"Redirect to an unsupported URL {new_url}")
    headers = dict(headers)
    if (res.status == 303 and method != "HEAD") or (res.status in (301, 302) and method == "POST"):
        method, body = "GET", None
        headers = {k: v for k, v in headers.items() if k.lower() not in ("content-type", "content-length")}
    old, new = urlsplit(url), urlsplit(new_url)
    if (old.scheme, old.netloc) != (new.scheme, new.netloc):
        headers = {k: v for k, v in headers.items() if k.lower() not in ("authorization", "cookie")}
    return method, new_url, headers, body


def request(method: str, url: str, headers: dict[str, str] | None = None, body: bytes | None = None, *,
            timeout: float = 30.0, follow_redirects: bool = True, max_redirects: int = 10,
            context: ssl.SSLContext | None = None, decompress: bool = True) -> Response:
    """Send and follow redirects (each hop goes through the proxy again); the whole chain must end in ``timeout``."""
    deadline = time.monotonic() + timeout
    method, headers = method.upper(), dict(headers or {})
    if decompress:
        headers.setdefault("Accept-Encoding", "gzip, deflate")
    for hop in range(max_redirects + 1):
        left = deadline - time.monotonic()
        if left <= 0:
            raise RequestError("ETIMEDOUT", f"The request to {url} timed out")
        res = send(method, url, headers, body, timeout=left, context=context)
        res.redirects = hop
        if not (follow_redirects and res.status in REDIRECT_STATUSES and "location" in res.headers):
            if decompress and res.headers.get("content-encoding"):
                res.body = _decode(res.body, res.headers["content-encoding"])
            return res
        method, url, headers, body = _next_hop(method, url, headers, body, res)
    raise RequestError("EREDIRECTS", f"Exceeded {max_redirects} redirects")
