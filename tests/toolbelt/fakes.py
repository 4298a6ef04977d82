"""Local stand-ins for what the toolbelt talks to: HTTP(S) upstreams, a CONNECT proxy, certificates, a fake
LivePerson (sentinel token endpoint, faasGW invoke, other routes), and the gateway's real egress proxy + relay.

The stand-in proxy is a minimal CONNECT / absolute-form forward proxy with a deny list and Basic proxy auth, enough
to show that every byte of toolbelt traffic goes through it; ``real_egress_at`` runs chalicelib/runtime/egress.py.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import ipaddress
import json
import re
import select
import socket
import socketserver
import ssl
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

ACCOUNT = "le12345678"
PROXY_USER, PROXY_TOKEN = "fn", "tok-123"


class RpcFailure(Exception):
    """Raised by a fake RPC handler: becomes a failed RPC with this code and message."""

    def __init__(self, code: str, message: str = "") -> None:
        super().__init__(message)
        self.code, self.message = code, message


# -- certificates ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pki:
    """A CA, a server certificate for localhost/127.0.0.1 and a client certificate, all as PEM files."""

    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _issue(subject: str, issuer: x509.Name, issuer_key: Any, key: Any, *, ca: bool = False,
           sans: list[x509.GeneralName] | None = None, usage: Any = None) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    builder = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
               .issuer_name(issuer).public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=2))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    if usage:
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())





def make_pki(base: Path) -> Pki:
    """A fresh CA with a server (localhost, 127.0.0.1) and a client certificate, written under ``base``."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fngate test CA")])
    ca = _issue("fngate test CA", ca_name, ca_key, ca_key, ca=True)
    server_key, client_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    server = _issue("localhost", ca_name, ca_key, server_key, usage=ExtendedKeyUsageOID.SERVER_AUTH,
                    sans=[x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
    client = _issue("fngate-client", ca_name, ca_key, client_key, usage=ExtendedKeyUsageOID.CLIENT_AUTH)
    files = {"ca": ca.public_bytes(serialization.Encoding.PEM),
             "server_cert": server.public_bytes(serialization.Encoding.PEM), "server_key": _key_pem(server_key),
             "client_cert": client.public_bytes(serialization.Encoding.PEM), "client_key": _key_pem(client_key)}
    paths = {}
    for name, data in files.items():
        paths[name] = base / f"{name}.pem"
        paths[name].write_bytes(data)
    return Pki(**paths)


# -- upstream servers --------------------------------------------------------------------------------------------------


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    client_cert: dict[str, Any] | None = None

    def json(self) -> Any:
        return json.loads(self.body)


Answer = tuple[int, dict[str, str], bytes | str | Any]
Route = Callable[[Seen], Answer]


class Upstream:
    """An HTTP or HTTPS server whose answers come from ``route(seen)``; every request is recorded."""

    def __init__(self, route: Route, context: ssl.SSLContext | None = None) -> None:
        self.route, self.seen = route, []
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                peer = self.connection.getpeercert() if isinstance(self.connection, ssl.SSLSocket) else None
                seen = Seen(self.command, self.path, {k.lower(): v for k, v in self.headers.items()},
                            self.rfile.read(length) if length else b"", peer or None)
                upstream.seen.append(seen)
                status, headers, body = upstream.route(seen)
                data = body if isinstance(body, bytes) else (body.encode() if isinstance(body, str)
                                                              else json.dumps(body).encode())
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        if context is not None:
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.scheme = "https" if context else "http"
        self.port = self.server.server_address[1]
        self.host = f"127.0.0.1:{self.port}"
        self.url = f"{self.scheme}://{self.host}"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def paths(self) -> list[str]:
        return [s.path for s in self.seen]


def json_answer(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Answer:
    return status, {"Content-Type": "application/json", **(headers or {})}, json.dumps(body)





# -- the proxy ---------------------------------------------------------------------------------------------------------


@dataclass
class ProxyLog:
    requests: list[tuple[str, str, str]] = field(default_factory=list)  # (method, target, proxy auth user:pass)
    deny: set[str] = field(default_factory=set)  # host names refused with 403

    def targets(self) -> list[str]:
        return [target for _, target, _ in self.requests]


def _pipe(a: socket.socket, b: socket.socket) -> None:
    sockets = [a, b]
    while True:
        readable, _, _ = select.select(sockets, [], [], 10)
        if not readable:
            return
        for src in readable:
            data = src.recv(65536)
            if not data:
                return
            (b if src is a else a).sendall(data)


def _read_head(sock: socket.socket) -> tuple[bytes, bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    return head, rest


class _ProxyHandler(socketserver.BaseRequestHandler):
    log: ProxyLog

    def handle(self) -> None:
        head, rest = _read_head(self.request)
        if not head:
            return
        lines = head.decode("latin-1").split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        auth = headers.get("proxy-authorization", "")
        user = base64.b64decode(auth.split(" ", 1)[1]).decode() if auth.startswith("Basic ") else ""
        self.log.requests.append((method, target, user))
        host, port = self._destination(method, target)
        if user != f"{PROXY_USER}:{PROXY_TOKEN}" or host in self.log.deny:
            status = "407 Proxy Authentication Required" if user != f"{PROXY_USER}:{PROXY_TOKEN}" else "403 Forbidden"
            self.request.sendall(f"HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".encode())
            return
        with socket.create_connection((host, port), timeout=10) as upstream:
            if method == "CONNECT":
                self.request.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                if rest:
                    upstream.sendall(rest)
            else:
                parts = urlsplit(target)
                origin = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
                kept = [line for line in lines[1:] if not line.lower().startswith("proxy-")]
                upstream.sendall("\r\n".join([f"{method} {origin} HTTP/1.1", *kept]).encode("latin-1")
                                 + b"\r\n\r\n" + rest)
            _pipe(self.request, upstream)

    @staticmethod
    def _destination(method: str, target: str) -> tuple[str, int]:
        if method == "CONNECT":
            host, _, port = target.rpartition(":")
            return host.strip("[]"), int(port)
        parts = urlsplit(target)
        return parts.hostname or "", parts.port or 80


class ConnectProxy:
    """The stand-in egress proxy, on TCP 127.0.0.1 or on a unix socket."""

    def __init__(self, unix_path: str | None = None) -> None:
        self.log = ProxyLog()
        handler = type("Handler", (_ProxyHandler,), {"log": self.log})
        if unix_path:
            self.server: socketserver.BaseServer = socketserver.ThreadingUnixStreamServer(unix_path, handler)
            self.url = ""
        else:
            self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler)
            port = self.server.server_address[1]  # type: ignore[index]
            self.url = f"http://{PROXY_USER}:{PROXY_TOKEN}@127.0.0.1:{port}"
        self.server.daemon_threads = True  # type: ignore[attr-defined]
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def env(self) -> dict[str, str]:
        return {"HTTPS_PROXY": self.url, "HTTP_PROXY": self.url}

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()








# -- a fake LivePerson: sentinel token endpoint, faasGW invoke, and any other routes -----------------------------------
CLIENT_ID, CLIENT_SECRET = "app-id", "app-secret"
APP_KEY = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}


class FakeLivePerson:
    """Routes of one upstream: ``invocations[uuid](seen, n)`` answers the n-th (1-based) invoke of uuid;
    ``routes[prefix](seen)`` any other path; the token endpoint issues tok-1, tok-2, ..."""

    def __init__(self) -> None:
        self.tokens: list[dict[str, list[str]]] = []
        self.invocations: dict[str, Callable[[Seen, int], Answer]] = {}
        self.counts: dict[str, int] = {}
        self.routes: dict[str, Route] = {}

    def __call__(self, seen: Seen) -> Answer:
        path = seen.path
        if path.startswith(f"/sentinel/api/v2/account/{ACCOUNT}/app/token"):
            form = parse_qs(seen.body.decode())
            self.tokens.append(form)
            if form.get("client_secret") != [CLIENT_SECRET] or form.get("grant_type") != ["client_credentials"]:
                return json_answer({"error": "invalid_client"}, 401)
            return json_answer({"access_token": f"tok-{len(self.tokens)}", "token_type": "Bearer",
                                "expires_in": 3600})
        match = re.match(rf"^/api/account/{ACCOUNT}/lambdas/([^/?]+)/invoke", path)
        if match and match.group(1) in self.invocations:
            uuid = match.group(1)
            self.counts[uuid] = self.counts.get(uuid, 0) + 1
            return self.invocations[uuid](seen, self.counts[uuid])
        for prefix, route in self.routes.items():
            if path.startswith(prefix):
                return route(seen)
        return json_answer({"message": f"no route for {path}"}, 404)





def standard_rpc(server: Upstream, secrets: dict[str, Any] | None = None) -> Callable[[str, Any], Any]:
    """CSDS → ``server`` for every service; secrets from ``secrets`` (app keys by default)."""
    store = {"lp-faas-default-app-key": APP_KEY, "lp-faas-orchestrator-app-key": APP_KEY, **(secrets or {})}

    def rpc(method: str, params: Any) -> Any:
        if method == "csds.get":
            return {"service": params["service"], "host": server.host, "scheme": server.scheme}
        if method == "secret.read":
            if params["key"] not in store:
                raise RpcFailure("com.liveperson.faas.secret.not-found",
                                 f"There is no secret {params['key']} for this account")
            return {"key": params["key"], "value": store[params["key"]]}
        raise RpcFailure("com.liveperson.faas.handler.unknown-rpc", method)

    return rpc


# -- the gateway's real egress proxy, reached through the real relay ---------------------------------------------------
@dataclass
class RealEgress:
    url: str  # what the worker exports as HTTPS_PROXY / HTTP_PROXY: the relay, with the worker's token
    socket_path: str
    token: str
    allow: list[str]  # the account's allowlist, read live

    def env(self) -> dict[str, str]:
        return {"HTTPS_PROXY": self.url, "HTTP_PROXY": self.url}


@contextlib.contextmanager
def real_egress_at(socket_path: str) -> Iterator[RealEgress]:
    """EgressProxy on a unix socket, "localhost" dialled as 127.0.0.1 (the public-address rule would refuse it)."""
    from chalicelib.runtime.egress import AddressBlocked, EgressProxy
    from chalicelib.runtime.egress_relay import start_relay

    allow: list[str] = []

    def resolve(host: str, port: int) -> tuple[str, int]:
        if host != "localhost":
            raise AddressBlocked(host)
        return "127.0.0.1", port

    proxy = EgressProxy(lambda account: allow if account == ACCOUNT else [], socket_path=socket_path,
                        resolver=resolve, allowed_ports=range(1, 65536), allowlist_ttl_s=0).start()
    token = proxy.register(ACCOUNT, "fn-1")
    port = start_relay(proxy.socket_path)
    try:
        yield RealEgress(f"http://fn:{token}@127.0.0.1:{port}", proxy.socket_path, token, allow)
    finally:
        proxy.close()
