"""chalicelib.server over real sockets on 127.0.0.1, with a throwaway Chalice app."""

from __future__ import annotations

import datetime
import http.client
import ipaddress
import json
import os
import signal
import socket
import ssl
import statistics
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from chalice import Chalice, Response

from chalicelib.server import GatewayServer, serve

pytestmark = pytest.mark.slow

MAX_BODY = 4096
slow_view_entered = threading.Event()
slow_view_release = threading.Event()


def make_app() -> Chalice:
    app = Chalice(app_name="server-under-test")

    @app.route("/echo", methods=["POST"])
    def echo() -> dict:
        body = app.current_request.json_body
        time.sleep(0.001)  # lets other threads run: a shared current_request would now belong to someone else
        return {"got": body, "again": app.current_request.json_body,
                "ip": app.current_request.context["identity"]["sourceIp"]}

    @app.route("/items/{name}")
    def item(name: str) -> dict:
        return {"name": name}

    @app.route("/cookies")
    def cookies() -> Response:
        return Response(body="", headers={"Set-Cookie": ["a=1", "b=2"]}, status_code=204)

    @app.route("/boom")
    def boom() -> dict:
        raise RuntimeError("secret detail")

    @app.route("/slow")
    def slow() -> dict:
        slow_view_entered.set()
        slow_view_release.wait(5)
        return {"slow": True}

    return app


def render_error(status: int, method: str, path: str, headers: dict, query: dict) -> tuple[int, dict, bytes]:
    body = {"code": f"test.{status}", "method": method, "path": path, "query": query}
    return status, {"Content-Type": "application/json"}, json.dumps(body).encode()


@pytest.fixture
def server() -> Iterator[GatewayServer]:
    with GatewayServer(make_app(), port=0, max_body=MAX_BODY, timeout=0.5, error_renderer=render_error) as srv:
        yield srv


def request(srv: GatewayServer, method: str, path: str, body: object = None) -> tuple[int, dict, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
    try:
        payload = None if body is None else json.dumps(body)
        conn.request(method, path, body=payload, headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


def raw_exchange(srv: GatewayServer, data: bytes, *, pause: float = 0.0) -> bytes:
    """Sends raw bytes, then reads until the server closes."""
    with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as sock:
        sock.sendall(data)
        time.sleep(pause)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
        return b"".join(chunks)


def test_json_route_round_trip(server: GatewayServer) -> None:
    status, headers, body = request(server, "POST", "/echo", {"a": [1, "two"]})

    assert status == 200
    assert headers["Content-Type"] == "application/json"
    assert int(headers["Content-Length"]) == len(body)
    assert json.loads(body) == {"got": {"a": [1, "two"]}, "again": {"a": [1, "two"]}, "ip": "127.0.0.1"}


def test_path_parameters_are_url_decoded_like_api_gateway(server: GatewayServer) -> None:
    assert json.loads(request(server, "GET", "/items/a%20b")[2]) == {"name": "a b"}


def test_keep_alive_serves_200_requests_on_one_connection(server: GatewayServer) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    conn.connect()
    first_socket, latencies = conn.sock, []
    for i in range(200):
        started = time.perf_counter()
        conn.request("GET", f"/items/{i}")
        resp = conn.getresponse()
        body = json.loads(resp.read())
        latencies.append(time.perf_counter() - started)
        assert resp.status == 200 and body == {"name": str(i)}
    assert conn.sock is first_socket
    conn.close()
    print(f"keep-alive median latency: {statistics.median(latencies) * 1000:.3f} ms")


def test_concurrent_requests_from_8_threads_each_see_their_own_request(server: GatewayServer) -> None:
    failures: list[str] = []

    def client(n: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
        for i in range(25):
            payload = json.dumps({"n": n, "i": i})
            conn.request("POST", "/echo", body=payload, headers={"Content-Type": "application/json"})
            got = json.loads(conn.getresponse().read())
            if got["got"] != got["again"] or got["got"] != {"n": n, "i": i}:
                failures.append(f"thread {n} request {i}: {got}")
        conn.close()

    threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []


def test_unknown_path_is_404_through_the_error_renderer(server: GatewayServer) -> None:
    status, _, body = request(server, "GET", "/nowhere?x=1")

    assert status == 404
    assert json.loads(body) == {"code": "test.404", "method": "GET", "path": "/nowhere", "query": {"x": "1"}}


def test_wrong_method_is_405_through_the_error_renderer_with_allow(server: GatewayServer) -> None:
    status, headers, body = request(server, "DELETE", "/items/x")

    assert status == 405
    assert headers["Allow"] == "GET"
    assert json.loads(body)["code"] == "test.405"


def test_head_answers_like_get_without_a_body(server: GatewayServer) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    conn.request("HEAD", "/items/abc")
    resp = conn.getresponse()

    assert resp.status == 200
    assert resp.read() == b""
    assert int(resp.getheader("Content-Length")) == len(b'{"name":"abc"}')
    conn.close()


def test_multi_value_headers_are_each_emitted(server: GatewayServer) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    conn.request("GET", "/cookies")
    resp = conn.getresponse()

    assert resp.status == 204
    assert resp.headers.get_all("Set-Cookie") == ["a=1", "b=2"]
    conn.close()


def test_body_over_max_body_is_413_before_it_is_sent(server: GatewayServer) -> None:
    head = f"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: {MAX_BODY + 1}\r\n\r\n".encode()

    reply = raw_exchange(server, head)  # no body follows: the server must answer without waiting for it

    assert reply.startswith(b"HTTP/1.1 413 ")
    assert b"Connection: close" in reply and b'"code": "test.413"' in reply


def test_body_over_max_body_sent_anyway_still_gets_413(server: GatewayServer) -> None:
    status, headers, _ = request(server, "POST", "/echo", "x" * 20_000_000)  # lingering close: no RST

    assert status == 413
    assert headers["Connection"] == "close"


def test_default_error_renderer_answers_like_api_gateway() -> None:
    with GatewayServer(make_app()) as srv:
        status, _, body = request(srv, "GET", "/nowhere")

    assert (status, json.loads(body)) == (404, {"message": "Not Found"})


def test_chunked_body_within_max_body_is_read(server: GatewayServer) -> None:
    payload = b'{"chunked": true}'
    chunks = b"%x\r\n%s\r\n0\r\n\r\n" % (len(payload), payload)
    head = (b"POST /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n")

    reply = raw_exchange(server, head + chunks)

    assert reply.startswith(b"HTTP/1.1 200 ")
    assert b'"got":{"chunked":true}' in reply


def test_chunked_body_over_max_body_is_413(server: GatewayServer) -> None:
    head = b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"

    reply = raw_exchange(server, head + b"%x\r\n" % (MAX_BODY + 1))

    assert reply.startswith(b"HTTP/1.1 413 ")


def test_conflicting_framing_is_400(server: GatewayServer) -> None:
    head = b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n"

    assert raw_exchange(server, head).startswith(b"HTTP/1.1 400 ")


def test_body_that_stalls_is_408(server: GatewayServer) -> None:
    head = b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n{\"a"

    reply = raw_exchange(server, head)  # the server's timeout is 0.5 s

    assert reply.startswith(b"HTTP/1.1 408 ")


def test_view_exception_is_500_without_a_traceback(server: GatewayServer) -> None:
    status, _, body = request(server, "GET", "/boom")

    assert status == 500
    assert json.loads(body)["code"] == "test.500"
    assert b"Traceback" not in body and b"secret detail" not in body


def test_tls_round_trip(tmp_path: Path) -> None:
    cert, key = self_signed_cert(tmp_path)
    client_context = ssl.create_default_context(cafile=str(cert))

    with GatewayServer(make_app(), tls_cert=str(cert), tls_key=str(key)) as srv:
        assert srv.url.startswith("https://")
        conn = http.client.HTTPSConnection("127.0.0.1", srv.port, context=client_context, timeout=5)
        conn.request("GET", "/items/tls")
        resp = conn.getresponse()
        assert (resp.status, json.loads(resp.read())) == (200, {"name": "tls"})
        assert conn.sock.version() in ("TLSv1.2", "TLSv1.3")
        conn.close()


def test_stalled_tls_client_does_not_block_other_clients(tmp_path: Path) -> None:
    cert, key = self_signed_cert(tmp_path)
    client_context = ssl.create_default_context(cafile=str(cert))

    with GatewayServer(make_app(), tls_cert=str(cert), tls_key=str(key)) as srv, \
            socket.create_connection(("127.0.0.1", srv.port)):  # connects, never says hello
        conn = http.client.HTTPSConnection("127.0.0.1", srv.port, context=client_context, timeout=2)
        conn.request("GET", "/items/other")
        assert conn.getresponse().status == 200
        conn.close()


def test_shutdown_lets_an_in_flight_request_finish() -> None:
    slow_view_entered.clear()
    slow_view_release.clear()
    srv = GatewayServer(make_app()).start()
    result: dict[str, object] = {}
    idle = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
    idle.request("GET", "/items/idle")
    idle.getresponse().read()

    in_flight = threading.Thread(target=lambda: result.update(reply=request(srv, "GET", "/slow")))
    in_flight.start()
    assert slow_view_entered.wait(5)
    stopper = threading.Thread(target=srv.shutdown)
    stopper.start()
    time.sleep(0.2)
    slow_view_release.set()
    in_flight.join(5)
    stopper.join(5)

    assert result["reply"][0] == 200 and json.loads(result["reply"][2]) == {"slow": True}
    assert idle.sock.recv(1) == b""  # the idle keep-alive connection was closed
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", srv.port), timeout=1)


def test_serve_runs_until_sigterm() -> None:
    answers: list[int] = []

    def on_ready(url: str) -> None:
        def client() -> None:
            port = int(url.rsplit(":", 1)[1])
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/items/x")
            answers.append(conn.getresponse().status)
            conn.close()
            os.kill(os.getpid(), signal.SIGTERM)

        threading.Thread(target=client).start()

    serve(make_app(), "127.0.0.1", 0, on_ready=on_ready)  # returns once SIGTERM arrives

    assert answers == [200]
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


def self_signed_cert(directory: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1)).not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path
