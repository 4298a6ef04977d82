"""The egress path: allowlist rules, the forward proxy on its unix socket, and the relays a sandboxed worker runs.

Upstreams are local fake servers; the proxy reaches them through a resolver that maps the fake host names to
127.0.0.1 ports (the same hook the gateway's domain map uses).
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import os
import shutil
import socket
import ssl
import stat
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from chalicelib.domain.allowlist import host_allowed, validate_domain
from chalicelib.domain.errors import ValidationFailed
from chalicelib.runtime import egress_relay
from chalicelib.runtime.egress import EgressProxy, mapped_resolver, public_resolver
from tests.runtime.conftest import Upstream

ROOT = Path(__file__).resolve().parents[2]
ACC, OTHER_ACC, FN, FN2 = "le100", "le200", "fn-1", "fn-2"
CLONE_NEWNET = 0x40000000


# -- allowlist rules ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("raw", "stored"), [
    ("api.example.com", "api.example.com"), ("API.Example.COM.", "api.example.com"), ("*.example.com", "*.example.com"),
    ("x-1.b2.example.io", "x-1.b2.example.io"), ("localhost", "localhost"), ("a" * 63 + ".com", "a" * 63 + ".com"),
    ("123.example.com", "123.example.com"),
])
def test_valid_domains_are_stored_lower_case_without_trailing_dot(raw, stored):
    assert validate_domain(raw) == stored


@pytest.mark.parametrize("raw", [
    "*", "*.com", "*.*.example.com", "a.*.example.com", "*example.com", "example", "1.2.3.4", "[::1]", "::1",
    "https://api.example.com", "api.example.com:443", "api.example.com/path", "-a.example.com", "a-.example.com",
    "a..example.com", "a_b.example.com", "bad_domain!.com", "a" * 64 + ".com", ".".join(["a" * 60] * 5), "",
    "  ", None, 5, "exämple.com",
])
def test_invalid_domains_are_rejected(raw):
    with pytest.raises(ValidationFailed) as exc:
        validate_domain(raw)
    assert exc.value.v2_code == "com.liveperson.faas.fm.validation.invalid"


@pytest.mark.parametrize(("host", "allowed"), [
    ("api.example.com", True), ("API.EXAMPLE.COM.", True), ("a.wild.test", True), ("a.b.wild.test", True),
    ("wild.test", False), ("evilwild.test", False), ("other.example.com", False), ("example.com", False),
    ("api.example.com.evil.test", False), (".wild.test", False), ("a..wild.test", False), ("*.wild.test", False),
    ("", False), ("127.0.0.1", False),
])
def test_host_matching(host, allowed):
    assert host_allowed(host, ["api.example.com", "*.wild.test"]) is allowed


# -- fakes ------------------------------------------------------------------------------------------------------
class Echo(Upstream):
    """Answers every GET with what it received, so tests can see what the proxy forwarded."""

    def do_GET(self) -> None:
        body = json.dumps({"line": self.requestline, "headers": dict(self.headers)}).encode()
        self.answer(body)


class Tick:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def upstreams() -> Iterator[dict[str, int]]:
    """Ports of a plain HTTP echo server, a TLS one (when openssl is here) and one that accepts and never answers."""
    servers, ports, held = [], {}, []
    plain = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    servers.append(plain)
    ports["http"] = plain.server_address[1]
    certdir = tempfile.mkdtemp(prefix="fge-cert")
    if shutil.which("openssl"):
        _make_cert(certdir)
        tls = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(f"{certdir}/cert.pem", f"{certdir}/key.pem")
        tls.socket = ctx.wrap_socket(tls.socket, server_side=True)
        servers.append(tls)
        ports["https"], ports["cafile"] = tls.server_address[1], f"{certdir}/cert.pem"
    hung = socket.create_server(("127.0.0.1", 0))
    ports["hung"] = hung.getsockname()[1]
    threading.Thread(target=_hold_forever, args=(hung, held), daemon=True).start()
    for server in servers:
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
    yield ports
    for server in servers:
        server.shutdown()
        server.server_close()
    hung.close()
    shutil.rmtree(certdir, ignore_errors=True)


def _hold_forever(server: socket.socket, held: list[Any]) -> None:
    with contextlib.suppress(OSError):
        while True:
            held.append(server.accept())


def _make_cert(certdir: str) -> None:
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-subj", "/CN=api.fake.test", "-addext", "subjectAltName=DNS:api.fake.test", "-days", "1",
                    "-keyout", f"{certdir}/key.pem", "-out", f"{certdir}/cert.pem"], check=True, capture_output=True)


@pytest.fixture
def allow() -> dict[str, list[str]]:
    return {ACC: ["api.fake.test", "*.wild.test", "hung.fake.test"], OTHER_ACC: []}


@pytest.fixture
def tick() -> Tick:
    return Tick()


@pytest.fixture
def make_proxy(upstreams, allow, tick) -> Iterator[Any]:
    made: list[EgressProxy] = []
    sockdir = tempfile.mkdtemp(prefix="fge", dir="/tmp")  # short: unix socket paths are limited to 107 bytes
    routes = {"api.fake.test:80": f"127.0.0.1:{upstreams['http']}", "a.wild.test": f"127.0.0.1:{upstreams['http']}",
              "hung.fake.test": f"127.0.0.1:{upstreams['hung']}"}
    if "https" in upstreams:
        routes["api.fake.test:443"] = f"127.0.0.1:{upstreams['https']}"

    def make(**kwargs: Any) -> EgressProxy:
        options = {"resolver": mapped_resolver(routes, fallback=None), "clock": tick, **kwargs}
        proxy = EgressProxy(lambda acc: list(allow[acc]), socket_path=f"{sockdir}/{len(made)}/egress.sock", **options)
        made.append(proxy.start())
        return proxy

    yield make
    for proxy in made:
        proxy.close()
    shutil.rmtree(sockdir, ignore_errors=True)


@pytest.fixture
def proxy(make_proxy) -> EgressProxy:
    return make_proxy()


def auth(token: str) -> str:
    return "Basic " + base64.b64encode(f"fn:{token}".encode()).decode()


def exchange(proxy: EgressProxy, data: bytes, *, half_close: bool = True) -> bytes:
    """Send raw bytes to the proxy's unix socket, signal the end of sending, and read until it closes."""
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(5)
        sock.connect(proxy.socket_path)
        sock.sendall(data)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        return _read_all(sock)


def _read_all(sock: socket.socket) -> bytes:
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def tunnel(token: str, target: str, request: bytes = b"") -> bytes:
    head = f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\nProxy-Authorization: {auth(token)}\r\n\r\n"
    return head.encode() + request


def get(host: str, path: str = "/") -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode()


def status(reply: bytes) -> int:
    return int(reply.split(b" ", 2)[1])


def echoed(reply: bytes) -> dict[str, Any]:
    return json.loads(reply.rpartition(b"\r\n\r\n")[2])


# -- the proxy ----------------------------------------------------------------------------------------------------
def test_socket_is_world_writable_and_removed_on_close(make_proxy):
    proxy = make_proxy()
    assert stat.S_IMODE(os.stat(proxy.socket_path).st_mode) == 0o666
    proxy.close()
    assert not os.path.exists(proxy.socket_path)


def test_connect_to_an_allowlisted_host_is_a_byte_pipe_to_it(proxy):
    token = proxy.register(ACC, FN)
    reply = exchange(proxy, tunnel(token, "a.wild.test:80", get("a.wild.test", "/via-tunnel")), half_close=False)
    assert reply.startswith(b"HTTP/1.1 200 Connection established\r\n\r\nHTTP/1.0 200")
    assert echoed(reply)["line"] == "GET /via-tunnel HTTP/1.1"


def test_host_not_allowlisted_is_403_and_logged(proxy, caplog):
    token = proxy.register(ACC, FN)
    with caplog.at_level(logging.INFO, logger="fngate.egress"):
        reply = exchange(proxy, tunnel(token, "evil.test:443"))
    assert status(reply) == 403 and b"evil.test is not on the account's domain allowlist" in reply
    assert "account=le100 function=fn-1 host=evil.test:443" in caplog.text


def test_allowlist_is_per_account(proxy):
    token = proxy.register(OTHER_ACC, FN)
    assert status(exchange(proxy, tunnel(token, "api.fake.test:443"))) == 403


@pytest.mark.parametrize("header", ["Proxy-Authorization: Basic Zm46bm9wZQ==\r\n", "", "Proxy-Authorization: x\r\n"])
def test_unknown_or_missing_token_is_407(proxy, header):
    reply = exchange(proxy, f"CONNECT api.fake.test:443 HTTP/1.1\r\n{header}\r\n".encode())
    assert status(reply) == 407 and b'Proxy-Authenticate: Basic realm="fngate-egress"' in reply


def test_unregistered_token_is_refused(proxy):
    token = proxy.register(ACC, FN)
    proxy.unregister(token)
    assert status(exchange(proxy, tunnel(token, "api.fake.test:443"))) == 407


def test_only_ports_80_and_443_by_default(proxy):
    token = proxy.register(ACC, FN)
    assert status(exchange(proxy, tunnel(token, "api.fake.test:22"))) == 403


def test_the_21st_request_within_a_second_is_429(proxy, tick):
    token, other = proxy.register(ACC, FN), proxy.register(ACC, FN2)
    codes = [status(exchange(proxy, tunnel(token, "a.wild.test:80"))) for _ in range(21)]
    assert codes == [200] * 20 + [429]
    assert status(exchange(proxy, tunnel(other, "a.wild.test:80"))) == 200  # per function, not per account
    tick.now += 1.0
    assert status(exchange(proxy, tunnel(token, "a.wild.test:80"))) == 200


def test_allowlist_change_is_seen_after_the_ttl(proxy, allow, tick):
    token = proxy.register(ACC, FN)
    allow[ACC] = ["other.test"]
    assert status(exchange(proxy, tunnel(token, "a.wild.test:80"))) == 403
    allow[ACC] = ["a.wild.test"]
    tick.now += 1.9
    assert status(exchange(proxy, tunnel(token, "a.wild.test:80"))) == 403  # still cached
    tick.now += 0.2
    assert status(exchange(proxy, tunnel(token, "a.wild.test:80"))) == 200


def test_invalidate_applies_a_change_at_once(proxy, allow):
    token = proxy.register(ACC, FN)
    assert status(exchange(proxy, tunnel(token, "a.wild.test:80"))) == 200
    allow[ACC] = []
    proxy.invalidate(ACC)
    assert status(exchange(proxy, tunnel(token, "a.wild.test:80"))) == 403


def test_plain_http_is_forwarded_in_origin_form_without_proxy_headers(proxy):
    token = proxy.register(ACC, FN)
    request = (f"GET http://api.fake.test/p?q=1 HTTP/1.1\r\nHost: api.fake.test\r\nProxy-Authorization: {auth(token)}"
               "\r\nProxy-Connection: keep-alive\r\nX-Mine: yes\r\n\r\n").encode()
    reply = echoed(exchange(proxy, request))
    assert reply["line"] == "GET /p?q=1 HTTP/1.1"
    assert reply["headers"]["X-Mine"] == "yes" and reply["headers"]["Connection"] == "close"
    assert not {"Proxy-Authorization", "Proxy-Connection"} & set(reply["headers"])


def test_absolute_https_urls_must_use_connect(proxy):
    token = proxy.register(ACC, FN)
    request = f"GET https://api.fake.test/ HTTP/1.1\r\nProxy-Authorization: {auth(token)}\r\n\r\n"
    reply = exchange(proxy, request.encode())
    assert status(reply) == 400


def test_dns_names_leading_to_private_addresses_are_refused(make_proxy, allow):
    proxy = make_proxy(resolver=None)  # the default resolver: real DNS, public addresses only
    allow[ACC] = ["localhost"]
    reply = exchange(proxy, tunnel(proxy.register(ACC, FN), "localhost:80"))
    assert status(reply) == 403 and b"localhost resolves to 127.0.0.1" in reply and b"not a public address" in reply


def test_a_private_network_the_operator_opened_is_reachable_on_an_opened_port(make_proxy, allow, upstreams):
    port = upstreams["http"]
    proxy = make_proxy(resolver=public_resolver(["127.0.0.0/8"]), allowed_ports=(80, 443, port))
    allow[ACC] = ["localhost"]
    token = proxy.register(ACC, FN)
    reply = exchange(proxy, tunnel(token, f"localhost:{port}", get("localhost", "/internal")), half_close=False)
    assert reply.startswith(b"HTTP/1.1 200 Connection established")
    assert echoed(reply)["line"].startswith("GET /internal")
    plain = f"GET http://localhost:{port}/plain HTTP/1.1\r\nProxy-Authorization: {auth(token)}\r\n\r\n"
    assert echoed(exchange(proxy, plain.encode()))["line"].startswith("GET /plain")


@pytest.mark.parametrize("connect", [True, False], ids=["CONNECT", "plain HTTP"])
@pytest.mark.parametrize(("target", "allowlist", "reason", "text"), [
    ("localhost:8443", ["localhost"], b"Port Not Allowed", b"port 8443 is not allowed (open: 80, 443"),
    ("evil.test:80", ["localhost"], b"Not Allowlisted", b"evil.test is not on the account's domain allowlist"),
    ("localhost:80", ["localhost"], b"Address Not Allowed", b"localhost resolves to 127.0.0.1"),
])
def test_a_refusal_says_exactly_why_over_connect_and_http(make_proxy, allow, connect, target, allowlist, reason,
                                                         text):
    proxy = make_proxy(resolver=public_resolver([]))
    allow[ACC] = allowlist
    token = proxy.register(ACC, FN)
    request = tunnel(token, target) if connect else \
        f"GET http://{target}/ HTTP/1.1\r\nProxy-Authorization: {auth(token)}\r\n\r\n".encode()
    reply = exchange(proxy, request)
    assert reply.startswith(b"HTTP/1.1 403 " + reason) and text in reply, reply


def test_a_hung_upstream_blocks_nobody_and_is_cut_when_idle(make_proxy):
    proxy = make_proxy(idle_timeout_s=3)
    token = proxy.register(ACC, FN)
    with socket.socket(socket.AF_UNIX) as hung:
        hung.settimeout(10)
        hung.connect(proxy.socket_path)
        hung.sendall(tunnel(token, "hung.fake.test:443", get("hung.fake.test")))
        assert hung.recv(100).startswith(b"HTTP/1.1 200")
        reply = exchange(proxy, tunnel(token, "a.wild.test:80", get("a.wild.test", "/meanwhile")))
        assert echoed(reply)["line"] == "GET /meanwhile HTTP/1.1"
        hung.setblocking(False)
        with pytest.raises(BlockingIOError):  # answered while the hung tunnel is still open: it blocked nobody
            hung.recv(1)
        hung.settimeout(10)
        assert _read_all(hung) == b""  # then closed by the idle timeout, thread released


def test_a_client_that_never_finishes_its_head_is_dropped(make_proxy):
    proxy = make_proxy(head_timeout_s=0.3)
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(5)
        sock.connect(proxy.socket_path)
        sock.sendall(b"CONNECT api.fake.test:443 HTTP/1.1\r\n")
        assert _read_all(sock) == b""


def test_beyond_max_connections_is_503(make_proxy):
    proxy = make_proxy(max_connections=1)
    with socket.socket(socket.AF_UNIX) as first:
        first.connect(proxy.socket_path)  # holds the only slot while it dawdles over its head
        time.sleep(0.05)
        with socket.socket(socket.AF_UNIX) as second:
            second.settimeout(5)
            second.connect(proxy.socket_path)
            assert status(_read_all(second)) == 503


def test_an_unreadable_allowlist_is_503_not_a_pass(proxy):
    token = proxy.register("le-unknown", FN)  # the fake allowlist source raises KeyError for it
    assert status(exchange(proxy, tunnel(token, "api.fake.test:443"))) == 503


# -- relays -------------------------------------------------------------------------------------------------------
def test_relay_forwards_http_proxy_requests(proxy):
    token = proxy.register(ACC, FN)
    env: dict[str, str] = {egress_relay.ENV_SOCKET: proxy.socket_path, egress_relay.ENV_TOKEN: token}
    exported = egress_relay.start_from_env(env)
    assert exported["HTTPS_PROXY"] == env["http_proxy"] and exported["HTTP_PROXY"].startswith(f"http://fn:{token}@")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({"http": exported["HTTP_PROXY"]}))
    with opener.open("http://api.fake.test/relayed", timeout=5) as res:
        assert json.loads(res.read())["line"] == "GET /relayed HTTP/1.1"
    with pytest.raises(urllib.error.HTTPError) as exc:
        opener.open("http://evil.test/", timeout=5)
    exc.value.close()
    assert exc.value.code == 403


def test_no_egress_variables_means_no_relay():
    assert egress_relay.start_from_env({}) == {}


NETNS_CHILD = r"""
import ctypes, json, socket, ssl, sys, urllib.error, urllib.request
from chalicelib.runtime import egress_relay
sock_path, token, host_port, cafile = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
if ctypes.CDLL(None, use_errno=True).unshare(0x40000000) != 0:
    sys.exit("unshare failed")
out = {}
def direct(key):
    try:
        socket.create_connection(("127.0.0.1", host_port), timeout=1).close()
        out[key] = "connected"
    except OSError as exc:
        out[key] = type(exc).__name__
direct("direct_lo_down")
egress_relay.bring_loopback_up()
direct("direct_lo_up")
proxy = egress_relay.start_from_env({"FNGATE_EGRESS_SOCKET": sock_path, "FNGATE_EGRESS_TOKEN": token})["HTTPS_PROXY"]
handlers = [urllib.request.ProxyHandler({"http": proxy, "https": proxy})]
if cafile:
    handlers.append(urllib.request.HTTPSHandler(context=ssl.create_default_context(cafile=cafile)))
opener = urllib.request.build_opener(*handlers)
out["http"] = opener.open("http://api.fake.test/from-netns", timeout=5).read().decode()
if cafile:
    out["https"] = opener.open("https://api.fake.test/tls-from-netns", timeout=5).read().decode()
try:
    opener.open("http://evil.test/", timeout=5)
except urllib.error.HTTPError as exc:
    out["denied"] = exc.code
print(json.dumps(out))
"""


def need_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("a network namespace needs root (unshare(CLONE_NEWNET) and CAP_NET_ADMIN to bring lo up)")


def test_a_worker_in_its_own_netns_reaches_allowlisted_hosts_only_through_the_relay(proxy, upstreams):
    need_root()
    token = proxy.register(ACC, FN)
    args = [proxy.socket_path, token, str(upstreams["http"]), upstreams.get("cafile", "")]
    done = subprocess.run([sys.executable, "-c", NETNS_CHILD, *args], capture_output=True, text=True, timeout=15,
                          cwd=ROOT, env={"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["direct_lo_down"] == "OSError" and out["direct_lo_up"] == "ConnectionRefusedError"
    assert json.loads(out["http"])["line"] == "GET /from-netns HTTP/1.1"
    assert out["denied"] == 403
    if "cafile" in upstreams:  # TLS end to end: the certificate for api.fake.test was checked inside the netns
        assert json.loads(out["https"])["line"] == "GET /tls-from-netns HTTP/1.1"


NODE_CHILD = r"""
const net = require('net');
const relay = require(process.argv[1]);
(async () => {
  const out = {};
  const env = { FNGATE_EGRESS_SOCKET: process.argv[2], FNGATE_EGRESS_TOKEN: process.argv[3] };
  const url = new URL((await relay.startFromEnv(env)).HTTPS_PROXY);
  out.direct = await new Promise((resolve) => {
    net.connect(Number(process.argv[4]), '127.0.0.1').on('connect', () => resolve('connected'))
      .on('error', (e) => resolve(e.code));
  });
  const auth = Buffer.from(`${url.username}:${url.password}`).toString('base64');
  out.reply = await new Promise((resolve, reject) => {
    const chunks = [];
    const sock = net.connect(Number(url.port), '127.0.0.1', () => sock.write(
      `CONNECT a.wild.test:80 HTTP/1.1\r\nProxy-Authorization: Basic ${auth}\r\n\r\n` +
      'GET /node HTTP/1.1\r\nHost: a.wild.test\r\nConnection: close\r\n\r\n'));
    sock.on('data', (c) => chunks.push(c)).on('end', () => resolve(Buffer.concat(chunks).toString()));
    sock.on('error', reject);
  });
  console.log(JSON.stringify(out));
})().catch((e) => { console.error(e); process.exit(1); });
"""


def _into_new_netns() -> None:
    import ctypes

    if ctypes.CDLL(None, use_errno=True).unshare(CLONE_NEWNET) != 0:
        raise OSError(ctypes.get_errno(), "unshare")
    egress_relay.bring_loopback_up()


def test_node_relay_in_its_own_netns(proxy, upstreams):
    need_root()
    if not shutil.which("node"):
        pytest.skip("node is not installed")
    token = proxy.register(ACC, FN)
    relay_js = str(ROOT / "chalicelib/runtime/egress_relay.js")
    done = subprocess.run(["node", "-e", NODE_CHILD, relay_js, proxy.socket_path, token, str(upstreams["http"])],
                          capture_output=True, text=True, timeout=15, preexec_fn=_into_new_netns)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["direct"] == "ECONNREFUSED"
    head, _, body = out["reply"].partition("\r\n\r\n")
    assert head == "HTTP/1.1 200 Connection established"
    assert json.loads(body.partition("\r\n\r\n")[2])["line"] == "GET /node HTTP/1.1"




# -- the rate inside kept-alive connections, and the gateway's own port --------------------------------------------
class KeepAliveEcho(Echo):
    protocol_version = "HTTP/1.1"


@pytest.fixture
def keep_alive_upstream() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), KeepAliveEcho)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def _read_response(sock: socket.socket, buf: bytes) -> bytes:
    """One HTTP/1.1 response with Content-Length from ``sock``; returns what was read beyond it."""
    while b"\r\n\r\n" not in buf:
        buf += sock.recv(65536)
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    length = int(next(line.split(b":")[1] for line in lines if line.lower().startswith(b"content-length")))
    while len(rest) < length:
        rest += sock.recv(65536)
    return rest[length:]


def test_requests_inside_one_kept_alive_tunnel_count_against_the_rate(make_proxy, allow, tick, keep_alive_upstream):
    # GIVEN a proxy whose waits are recorded (and move the clock), and a kept-alive upstream
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        tick.now += seconds

    allow[ACC].append("ka.fake.test")
    proxy = make_proxy(resolver=mapped_resolver({"ka.fake.test": f"127.0.0.1:{keep_alive_upstream}"}, fallback=None),
                       sleep=sleep)
    token = proxy.register(ACC, FN)
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(5)
        sock.connect(proxy.socket_path)
        sock.sendall(tunnel(token, "ka.fake.test:80"))
        rest = b""
        while _ESTABLISHED_LINE not in rest:
            rest += sock.recv(4096)
        rest = rest.partition(_ESTABLISHED_LINE)[2]
        request = b"GET / HTTP/1.1\r\nHost: ka.fake.test\r\n\r\n"
        # WHEN the function sends 21 requests one after another on the one tunnel (its CONNECT took 1 of 20)
        for _ in range(21):
            sock.sendall(request)
            rest = _read_response(sock, rest)
        # THEN none waited: the CONNECT covers the first two exchanges, the other 19 took the bucket's tokens
        assert waits == []
        # AND the 22nd waits for the next token instead of going out at once
        sock.sendall(request)
        _read_response(sock, rest)
        assert waits and sum(waits) <= 1.0


_ESTABLISHED_LINE = b"HTTP/1.1 200 Connection established\r\n\r\n"


def test_the_gateways_own_port_is_allowed_on_its_own_host_only(make_proxy):
    proxy = make_proxy(host_ports={"api.fake.test": [8080]})
    token = proxy.register(ACC, FN)
    elsewhere = exchange(proxy, tunnel(token, "a.wild.test:8080"))
    assert status(elsewhere) == 403 and b"port 8080 is not allowed" in elsewhere
    own = exchange(proxy, tunnel(token, "api.fake.test:8080"))
    assert b"port 8080 is not allowed" not in own  # past the port check (this test's resolver has no route for it)
