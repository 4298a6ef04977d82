"""The egress proxy: the only way out for function code (runtime-and-toolbelt.md §3).

Workers have no network of their own; their relay (egress_relay.py) pipes every TCP connection to this forward
proxy's unix socket. Each connection carries ``Proxy-Authorization: Basic`` with the worker's token as password,
which names the (account, function). The proxy then applies, in order: known token (407), rate per function (429),
allowed port (403: 80 and 443 anywhere, the gateway's own port only on the gateway's own host), host allowlisted
for the account (403), address allowed (403), and dials.

The rate is counted in requests, tunnels included: opening a connection costs one, and inside a connection every
new exchange costs one — the function sending again after the upstream has answered, which is what a new request
on a kept-alive HTTP/1.1 connection (TLS or not) looks like from outside, with no decryption. The first exchange
of a tunnel is covered by its CONNECT (for TLS it carries the handshake's end and the first request). Requests
rather than bytes, because the limit is LivePerson's "requests per second", and a byte budget would either throttle
legitimate downloads or let a kept-alive tunnel send thousands of small requests. A tunnel over its rate waits for
the next token (it cannot be answered 429 inside TLS); one that waits past the idle timeout is closed.

``CONNECT host:port`` becomes a byte pipe (TLS stays end to end); an absolute-form ``GET http://host/path`` is
forwarded once, in origin form, with ``Connection: close``. Allowlists are cached per account for
``allowlist_ttl_s``; ``invalidate`` drops one at once, so a change is seen within seconds without a redeploy.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import ipaddress
import logging
import os
import secrets
import socket
import stat
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from chalicelib.domain.allowlist import host_allowed, normalize
from chalicelib.domain.limits import OUTBOUND_REQUESTS_PER_S
from chalicelib.runtime.egress_relay import HEAD_MAX, HeadTooLarge, pipe, read_head

log = logging.getLogger("fngate.egress")

Resolver = Callable[[str, int], tuple[str, int]]
_HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authorization", "proxy-connection", "proxy-authenticate",
                         "te", "trailer", "upgrade", "host"})
_ESTABLISHED = b"HTTP/1.1 200 Connection established\r\n\r\n"


class AddressBlocked(OSError):
    """A name resolved only to addresses a function must not reach (loopback, private, link-local, metadata)."""


class _Refusal(Exception):
    """Answer the function with this status and a short text, then close."""

    def __init__(self, status: int, reason: str, text: str, headers: tuple[str, ...] = ()) -> None:
        super().__init__(text)
        self.status, self.reason, self.text, self.headers = status, reason, text, headers


@dataclass(frozen=True)
class _Request:
    host: str
    port: int
    token: str
    forward_head: bytes | None  # None for CONNECT; else the rewritten origin-form head to send upstream


@dataclass(frozen=True)
class Grant:
    account_id: str
    function_uuid: str


def resolve_public(host: str, port: int) -> tuple[str, int]:
    """DNS, keeping only globally routable addresses: an allowlisted name must not lead into the gateway's network."""
    return public_resolver(())(host, port)


def public_resolver(opened: Iterable[str]) -> Resolver:
    """DNS keeping globally routable addresses and those in the networks the operator has ``opened`` (CIDRs,
    FNGATE_EGRESS_PRIVATE_CIDRS: internal APIs); a refusal names the address and the setting."""
    networks = tuple(ipaddress.ip_network(cidr, strict=False) for cidr in opened)

    def resolve(host: str, port: int) -> tuple[str, int]:
        refused = []
        for *_, addr in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
            ip = ipaddress.ip_address(str(addr[0]).split("%", 1)[0])
            if ip.is_global or any(ip in net for net in networks if net.version == ip.version):
                return str(addr[0]), port
            refused.append(str(ip))
        raise AddressBlocked(f"{host} resolves to {', '.join(dict.fromkeys(refused)) or 'nothing'}: not a public "
                             "address, and not in a network the operator has opened (FNGATE_EGRESS_PRIVATE_CIDRS)")

    return resolve


def mapped_resolver(routes: Mapping[str, str], fallback: Resolver | None = resolve_public) -> Resolver:
    """A resolver for the domain map: ``{"host" or "host:port": "addr:port"}``; others go to ``fallback``."""
    table = {normalize(key): value for key, value in routes.items()}

    def resolve(host: str, port: int) -> tuple[str, int]:
        target = table.get(f"{host}:{port}") or table.get(host)
        if target is not None:
            addr, _, dial_port = target.rpartition(":")
            return addr.strip("[]"), int(dial_port)
        if fallback is None:
            raise AddressBlocked(f"{host} is not in the domain map")
        return fallback(host, port)

    return resolve


class EgressProxy:
    """A threaded forward proxy on a unix socket; one thread per connection, at most ``max_connections``."""

    def __init__(self, allowlist_for: Callable[[str], Iterable[str]], *, socket_path: str,
                 rate_per_s: float = OUTBOUND_REQUESTS_PER_S, allowlist_ttl_s: float = 2.0,
                 resolver: Resolver | None = None, connect_timeout_s: float = 10,
                 allowed_ports: Iterable[int] = (80, 443), host_ports: Mapping[str, Iterable[int]] | None = None,
                 max_connections: int = 256, head_timeout_s: float = 10, idle_timeout_s: float = 60,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> None:
        self._allowlist_for, self._path = allowlist_for, socket_path
        self._rate, self._ttl, self._clock = float(rate_per_s), allowlist_ttl_s, clock
        self._resolve = resolver or resolve_public
        self._connect_timeout, self._head_timeout, self._idle = connect_timeout_s, head_timeout_s, idle_timeout_s
        self._ports = frozenset(allowed_ports)
        # further ports allowed on one host only (the gateway's own port on the gateway's own name)
        self._host_ports = {normalize(host): frozenset(ports) for host, ports in (host_ports or {}).items()}
        self._sleep = sleep
        self._slots = threading.BoundedSemaphore(max_connections)
        self._lock = threading.Lock()
        self._grants: dict[str, Grant] = {}
        self._buckets: dict[Grant, list[float]] = {}  # [tokens, last refill]
        self._cache: dict[str, tuple[float, frozenset[str]]] = {}
        self._generation: dict[str, int] = {}
        self._open: set[socket.socket] = set()
        self._server: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._closed = False

    @property
    def socket_path(self) -> str:
        return self._path

    # -- lifecycle ---------------------------------------------------------------------------------------------------
    def start(self) -> EgressProxy:
        """Bind the socket (mode 0666: workers run as other uids; the token is what admits them) and serve."""
        self._server = self._bind()
        self._thread = threading.Thread(target=self._accept_loop, name="egress-proxy", daemon=True)
        self._thread.start()
        return self

    def _bind(self) -> socket.socket:
        os.makedirs(os.path.dirname(self._path) or ".", mode=0o755, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            if stat.S_ISSOCK(os.lstat(self._path).st_mode):
                os.unlink(self._path)  # a stale socket from an earlier run
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        server.bind(self._path)
        os.chmod(self._path, 0o666)
        server.listen(128)
        return server

    def close(self) -> None:
        """Stop accepting, cut every open connection, remove the socket file."""
        self._closed = True
        if self._server is not None:
            with contextlib.suppress(OSError):
                self._server.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
            self._server.close()
        if self._thread is not None:
            self._thread.join(timeout=2)
        with self._lock:
            conns = list(self._open)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        if self._path:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._path)

    # -- workers and allowlists ----------------------------------------------------------------------------------------
    def register(self, account_id: str, function_uuid: str) -> str:
        """A fresh token for one worker of this function; it is the worker's proxy password."""
        token = secrets.token_urlsafe(24)
        with self._lock:
            self._grants[token] = Grant(account_id, function_uuid)
        return token

    def unregister(self, token: str) -> None:
        """Retire a worker's token; its function's rate bucket goes with its last token."""
        with self._lock:
            grant = self._grants.pop(token, None)
            if grant is not None and grant not in self._grants.values():
                self._buckets.pop(grant, None)

    def invalidate(self, account_id: str) -> None:
        """Forget the account's cached allowlist now (wire it to the domain service's change hook)."""
        with self._lock:
            self._cache.pop(account_id, None)
            self._generation[account_id] = self._generation.get(account_id, 0) + 1

    def _allowlist(self, account_id: str) -> frozenset[str]:
        now = self._clock()
        with self._lock:
            hit = self._cache.get(account_id)
            if hit is not None and hit[0] > now:
                return hit[1]
            generation = self._generation.get(account_id, 0)
        entries = frozenset(normalize(entry) for entry in self._allowlist_for(account_id))
        with self._lock:  # an invalidate() during the read means the list read may be old: do not cache it
            if self._generation.get(account_id, 0) == generation:
                self._cache[account_id] = (now + self._ttl, entries)
        return entries

    def _take(self, grant: Grant) -> bool:
        """Token bucket per function: ``rate_per_s`` refills per second, bursts up to ``rate_per_s``."""
        now = self._clock()
        with self._lock:
            bucket = self._buckets.setdefault(grant, [self._rate, now])
            tokens = min(self._rate, bucket[0] + (now - bucket[1]) * self._rate)
            allowed = tokens >= 1
            bucket[0], bucket[1] = tokens - 1 if allowed else tokens, now
        return allowed

    # -- serving -------------------------------------------------------------------------------------------------------
    def _accept_loop(self) -> None:
        assert self._server is not None
        while not self._closed:
            try:
                conn, _ = self._server.accept()
            except OSError:
                if self._closed:
                    return
                time.sleep(0.05)  # e.g. EMFILE: back off instead of spinning
                continue
            if not self._slots.acquire(blocking=False):
                conn.settimeout(1)
                _reply(conn, _Refusal(503, "Service Unavailable", "egress proxy busy"))
                continue
            with self._lock:
                self._open.add(conn)
            threading.Thread(target=self._serve, args=(conn,), name="egress-conn", daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        upstream: socket.socket | None = None
        try:
            conn.settimeout(self._head_timeout)
            head, rest = _read_head(conn)
            request = _parse(head)
            grant = self._admit(request)
            upstream = self._dial(grant, request)
            if request.forward_head is None:
                conn.sendall(_ESTABLISHED)
            else:
                upstream.sendall(request.forward_head)
            if rest:
                upstream.sendall(rest)
            conn.settimeout(self._idle)
            upstream.settimeout(self._idle)
            pipe(conn, upstream, idle_timeout_s=self._idle, on_exchange=self._exchange_gate(grant, request))
        except _Refusal as refusal:
            _reply(conn, refusal)
        except OSError:
            pass  # the peer went away or stalled past its timeout
        except Exception:
            log.exception("egress connection failed")
        finally:
            if upstream is not None:
                upstream.close()
            conn.close()
            with self._lock:
                self._open.discard(conn)
            self._slots.release()

    def _grant_for(self, token: str) -> Grant | None:
        """Who a proxy password stands for: a registered worker's token (the AWS service verifies signed ones)."""
        with self._lock:
            return self._grants.get(token)

    def _admit(self, request: _Request) -> Grant:
        """Every check before dialing, in the order the module docstring lists; raises _Refusal."""
        grant = self._grant_for(request.token)
        if grant is None:
            log.info("egress denied: unknown proxy token (host %s)", request.host)
            raise _Refusal(407, "Proxy Authentication Required", "unknown proxy token",
                           ('Proxy-Authenticate: Basic realm="fngate-egress"',))
        if not self._take(grant):
            _deny(grant, request, "rate limit")
            raise _Refusal(429, "Too Many Requests",
                           f"more than {self._rate:g} outbound requests per second", ("Retry-After: 1",))
        if request.port not in self._ports and request.port not in self._host_ports.get(request.host, ()):
            _deny(grant, request, "port not allowed")
            raise _Refusal(403, "Port Not Allowed", f"port {request.port} is not allowed (open: "
                           f"{', '.join(map(str, sorted(self._ports)))}; the operator opens more with "
                           "FNGATE_EGRESS_PORTS)")
        try:
            allowlist = self._allowlist(grant.account_id)
        except Exception:
            log.exception("allowlist lookup failed for account %s", grant.account_id)
            raise _Refusal(503, "Service Unavailable", "allowlist unavailable") from None
        if not host_allowed(request.host, allowlist):
            _deny(grant, request, "not allowlisted")
            raise _Refusal(403, "Not Allowlisted", f"{request.host} is not on the account's domain allowlist")
        return grant

    def _exchange_gate(self, grant: Grant, request: _Request) -> Callable[[], bool]:
        """pipe()'s on_exchange: one token per new exchange (a tunnel's first one rides on its CONNECT)."""
        free = [request.forward_head is None]

        def gate() -> bool:
            if free[0]:
                free[0] = False
                return True
            return self._wait_for_token(grant, request)

        return gate

    def _wait_for_token(self, grant: Grant, request: _Request) -> bool:
        step = 1.0 / self._rate
        for _ in range(max(1, int(self._idle / step))):
            if self._take(grant):
                return True
            if self._closed:
                return False
            self._sleep(step)
        _deny(grant, request, "rate limit (inside a connection)")
        return False

    def _dial(self, grant: Grant, request: _Request) -> socket.socket:
        try:
            address = self._resolve(request.host, request.port)
            return socket.create_connection(address, timeout=self._connect_timeout)
        except AddressBlocked as blocked:
            _deny(grant, request, "address blocked")
            raise _Refusal(403, "Address Not Allowed", str(blocked) if "resolves to" in str(blocked)
                           else f"{request.host} resolves to a non-public address") from None
        except TimeoutError:
            raise _Refusal(504, "Gateway Timeout", f"connecting to {request.host} timed out") from None
        except OSError as exc:
            log.info("egress dial failed account=%s function=%s host=%s: %s", grant.account_id,
                     grant.function_uuid, request.host, exc.strerror or type(exc).__name__)
            raise _Refusal(502, "Bad Gateway", f"cannot connect to {request.host}") from None


def _deny(grant: Grant, request: _Request, reason: str) -> None:
    log.info("egress denied (%s) account=%s function=%s host=%s:%d", reason, grant.account_id,
             grant.function_uuid, request.host, request.port)


def _reply(conn: socket.socket, refusal: _Refusal) -> None:
    body = (refusal.text + "\n").encode()
    lines = [f"HTTP/1.1 {refusal.status} {refusal.reason}", "Content-Type: text/plain; charset=utf-8",
             f"Content-Length: {len(body)}", "Connection: close", *refusal.headers]
    with contextlib.suppress(OSError):
        conn.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
    with contextlib.suppress(OSError):
        conn.close()


def _read_head(conn: socket.socket) -> tuple[bytes, bytes]:
    try:
        return read_head(conn, HEAD_MAX)
    except HeadTooLarge:
        raise _Refusal(431, "Request Header Fields Too Large", "request head too large") from None


def _parse(head: bytes) -> _Request:
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/"):
        raise _Refusal(400, "Bad Request", "malformed request line")
    method, target, version = parts
    headers = [_header(line) for line in lines[1:] if line]
    token = _token(headers)
    if method.upper() == "CONNECT":
        host, port = _authority(target, default_port=None)
        return _Request(host, port, token, None)
    url = urlsplit(target)
    if url.scheme.lower() != "http" or not url.netloc:
        raise _Refusal(400, "Bad Request", "only CONNECT and absolute http:// URLs are proxied")
    host, port = _authority(url.netloc.rpartition("@")[2], default_port=80)
    path = (url.path or "/") + (f"?{url.query}" if url.query else "")
    return _Request(host, port, token, _forward_head(method, path, version, url.netloc, headers))


def _header(line: str) -> tuple[str, str]:
    name, sep, value = line.partition(":")
    if not sep or not name.strip() or name != name.strip():
        raise _Refusal(400, "Bad Request", "malformed header line")
    return name, value.strip()


def _token(headers: list[tuple[str, str]]) -> str:
    """The password of Proxy-Authorization: Basic (the user name is ignored); "" when missing or malformed."""
    for name, value in headers:
        scheme, _, encoded = value.partition(" ")
        if name.lower() == "proxy-authorization" and scheme.lower() == "basic":
            try:
                return base64.b64decode(encoded.strip(), validate=True).decode("utf-8").partition(":")[2]
            except (binascii.Error, UnicodeDecodeError):
                return ""
    return ""


def _authority(authority: str, default_port: int | None) -> tuple[str, int]:
    """``host[:port]`` or ``[v6]:port`` → (lower-case host, port); CONNECT needs an explicit port."""
    host, port_text = authority, ""
    if authority.startswith("["):
        host, _, tail = authority[1:].partition("]")
        port_text = tail[1:] if tail.startswith(":") else ""
    elif ":" in authority:
        host, _, port_text = authority.rpartition(":")
    if not host or (not port_text and default_port is None):
        raise _Refusal(400, "Bad Request", "target must be host:port")
    try:
        port = int(port_text) if port_text else default_port
    except ValueError:
        raise _Refusal(400, "Bad Request", "bad port") from None
    if port is None or not 0 < port < 65536:
        raise _Refusal(400, "Bad Request", "bad port")
    return normalize(host), port


def _forward_head(method: str, path: str, version: str, netloc: str, headers: list[tuple[str, str]]) -> bytes:
    """The origin-form head for the upstream: hop-by-hop and proxy headers dropped, one request, then close."""
    connection = ",".join(value for name, value in headers if name.lower() == "connection")
    named = {item.strip().lower() for item in connection.split(",")}
    kept = [f"{name}: {value}" for name, value in headers if name.lower() not in _HOP_BY_HOP | named]
    lines = [f"{method} {path} {version}", f"Host: {netloc.rpartition('@')[2]}", *kept, "Connection: close"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
