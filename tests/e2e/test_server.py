"""chalicelib.server (granian + ChaliceRSGI) over real sockets on 127.0.0.1, with a throwaway Chalice app."""

from __future__ import annotations

import base64
import datetime
import http.client
import ipaddress
import json
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.conftest import ROOT, free_port
from tests.e2e.server_app import MAX_BODY

pytestmark = pytest.mark.slow


@dataclass
class Served:
    port: int
    process: subprocess.Popen


@contextmanager
def served(*args: str) -> Iterator[Served]:
    """tests.e2e.server_app in its own process group, until it answers; stopped with SIGINT (Ctrl-C)."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "tests.e2e.server_app", str(port), *args], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        wait_until_answering(port, proc, tls="--tls-cert" in args)
        yield Served(port, proc)
    finally:
        stop(proc)


def wait_until_answering(port: int, proc: subprocess.Popen, *, tls: bool = False) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {proc.stdout.read() if proc.stdout else ''}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                if tls:
                    return
                sock.sendall(b"GET /items/ready HTTP/1.1\r\nHost: x\r\n\r\n")
                if sock.recv(12) == b"HTTP/1.1 200":
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError("server did not answer")


def stop(proc: subprocess.Popen) -> str:
    proc.send_signal(signal.SIGINT)
    try:
        out, _ = proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
    return out or ""


@pytest.fixture(scope="module")
def server() -> Iterator[Served]:
    with served("--processes", "1") as srv:
        yield srv


def request(srv: Served, method: str, path: str, body: object = None) -> tuple[int, dict, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
    try:
        payload = None if body is None else json.dumps(body)
        conn.request(method, path, body=payload, headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def raw_exchange(srv: Served, data: bytes) -> bytes:
    """Sends raw bytes, then reads until the server closes (or 5 s of silence)."""
    with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as sock:
        sock.sendall(data)
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except (TimeoutError, ConnectionResetError):
            pass
        return b"".join(chunks)


def echoed(body: bytes) -> dict:
    return json.loads(body)


def test_json_route_round_trip(server: Served) -> None:
    status, headers, body = request(server, "POST", "/echo", {"a": [1, "two"]})

    assert status == 200
    assert headers["content-type"] == "application/json"
    got = echoed(body)
    assert base64.b64decode(got["body"]) == b'{"a": [1, "two"]}'
    assert (got["ip"], got["method"]) == ("127.0.0.1", "POST")


def test_path_parameters_are_url_decoded_like_api_gateway(server: Served) -> None:
    assert json.loads(request(server, "GET", "/items/a%20b")[2]) == {"name": "a b"}


def test_keep_alive_serves_200_requests_on_one_connection(server: Served) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    conn.connect()
    first_socket = conn.sock
    for i in range(200):
        conn.request("GET", f"/items/{i}")
        resp = conn.getresponse()
        assert resp.status == 200 and json.loads(resp.read()) == {"name": str(i)}
    assert conn.sock is first_socket
    conn.close()


def test_concurrent_requests_from_8_threads_each_see_their_own_request(server: Served) -> None:
    failures: list[str] = []

    def client(n: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
        for i in range(25):
            payload = json.dumps({"n": n, "i": i})
            conn.request("POST", "/echo", body=payload, headers={"Content-Type": "application/json"})
            got = json.loads(conn.getresponse().read())
            if got["body"] != got["again"] or base64.b64decode(got["body"]).decode() != payload:
                failures.append(f"thread {n} request {i}: {got}")
        conn.close()

    threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []


def test_unknown_path_is_404_through_the_error_renderer(server: Served) -> None:
    status, _, body = request(server, "GET", "/nowhere?x=1")

    assert status == 404
    assert json.loads(body) == {"code": "test.404", "method": "GET", "path": "/nowhere", "query": {"x": "1"}}


def test_wrong_method_is_405_through_the_error_renderer_with_allow(server: Served) -> None:
    status, headers, body = request(server, "DELETE", "/items/x")

    assert status == 405
    assert headers["allow"] == "GET"
    assert json.loads(body)["code"] == "test.405"


def test_trace_is_a_json_405_not_html(server: Served) -> None:
    reply = raw_exchange(server, b"TRACE /items/x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")

    assert reply.startswith(b"HTTP/1.1 405 ")
    assert b'"code": "test.405"' in reply and b"<html" not in reply.lower()


def test_head_answers_like_get_without_a_body(server: Served) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    conn.request("HEAD", "/items/abc")
    resp = conn.getresponse()

    assert resp.status == 200
    assert resp.read() == b""
    conn.close()


def test_multi_value_headers_are_each_emitted(server: Served) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    conn.request("GET", "/cookies")
    resp = conn.getresponse()

    assert resp.status == 204
    assert resp.headers.get_all("Set-Cookie") == ["a=1", "b=2"]
    conn.close()


def test_status_901_passes_through(server: Served) -> None:
    assert request(server, "GET", "/failed")[0] == 901


def test_body_over_max_body_is_413_before_it_is_sent(server: Served) -> None:
    head = f"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: {MAX_BODY + 1}\r\n\r\n".encode()

    reply = raw_exchange(server, head)  # no body follows: the server must answer without waiting for it

    assert reply.startswith(b"HTTP/1.1 413 ")
    assert b"connection: close" in reply.lower() and b'"code": "test.413"' in reply


def test_body_over_max_body_with_expect_100_continue_is_413_without_continue(server: Served) -> None:
    head = (f"POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
            f"Content-Length: {MAX_BODY + 1}\r\n\r\n").encode()

    reply = raw_exchange(server, head)

    assert reply.startswith(b"HTTP/1.1 413 ")  # never invited with "100 Continue"


def test_chunked_request_body_is_refused_with_411_unread(server: Served) -> None:
    payload = b'{"chunked": true}'
    chunks = b"%x\r\n%s\r\n0\r\n\r\n" % (len(payload), payload)
    head = b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"

    reply = raw_exchange(server, head + chunks)

    assert reply.startswith(b"HTTP/1.1 411 ")
    assert b'"code": "test.411"' in reply and b"connection: close" in reply.lower()


def test_body_shorter_than_its_content_length_is_400(server: Served) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n{}")
        sock.shutdown(socket.SHUT_WR)  # the client gives up mid-body
        reply = sock.recv(65536)

    assert reply == b"" or reply.startswith(b"HTTP/1.1 400 ")


@pytest.mark.parametrize("value", ["a%0D%0ASet-Cookie:%20x=1", "caf%C3%A9", "a%7Fb"])
def test_a_response_header_outside_visible_ascii_is_a_json_500_not_sent(server: Served, value: str) -> None:
    status, headers, body = request(server, "GET", f"/badheader?v={value}")

    assert (status, json.loads(body)["code"]) == (500, "test.500")
    assert "x-note" not in headers and "set-cookie" not in headers
    assert request(server, "GET", "/items/after")[0] == 200  # and the server serves on


def test_view_exception_is_500_without_a_traceback(server: Served) -> None:
    status, _, body = request(server, "GET", "/boom")

    assert status == 500
    assert json.loads(body)["code"] == "test.500"
    assert b"Traceback" not in body and b"secret detail" not in body


def test_tls_round_trip(tmp_path: Path) -> None:
    cert, key = self_signed_cert(tmp_path)
    client_context = ssl.create_default_context(cafile=str(cert))

    with served("--tls-cert", str(cert), "--tls-key", str(key)) as srv:
        deadline = time.monotonic() + 20
        while True:
            conn = http.client.HTTPSConnection("127.0.0.1", srv.port, context=client_context, timeout=5)
            try:
                conn.request("GET", "/items/tls")
                resp = conn.getresponse()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        assert (resp.status, json.loads(resp.read())) == (200, {"name": "tls"})
        assert conn.sock.version() in ("TLSv1.2", "TLSv1.3")
        with socket.create_connection(("127.0.0.1", srv.port)):  # a client that never says hello
            other = http.client.HTTPSConnection("127.0.0.1", srv.port, context=client_context, timeout=5)
            other.request("GET", "/items/other")
            assert other.getresponse().status == 200
            other.close()
        conn.close()


def test_a_taken_port_is_one_line_and_a_non_zero_exit() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run([sys.executable, "-m", "tests.e2e.server_app", str(port)], cwd=ROOT,
                              capture_output=True, text=True, timeout=30)

    assert done.returncode != 0
    assert done.stderr.strip() == f"fngate: cannot listen on 127.0.0.1:{port}: Address already in use"


def test_ctrl_c_lets_an_in_flight_request_finish(tmp_path: Path) -> None:
    mark = tmp_path / "inside"
    with served("--processes", "1") as srv:
        result: dict[str, object] = {}
        in_flight = threading.Thread(target=lambda: result.update(reply=request(srv, "GET", f"/slow?mark={mark}")))
        in_flight.start()
        deadline = time.monotonic() + 10
        while not mark.exists() and time.monotonic() < deadline:  # until the request is inside the view
            time.sleep(0.01)
        stop(srv.process)
        in_flight.join(10)

    assert result["reply"][0] == 200 and json.loads(result["reply"][2]) == {"slow": True}
    assert srv.process.returncode == 0


def test_two_processes_serve_one_port_and_ctrl_c_stops_both() -> None:
    with served("--processes", "2") as srv:
        pids = set()
        for _ in range(200):  # new connections spread over the processes
            pids.add(echoed(request(srv, "GET", "/echo")[2])["pid"])
            if len(pids) == 2:
                break
        children = subprocess.run(["pgrep", "-P", str(srv.process.pid)], capture_output=True, text=True).stdout
        out = stop(srv.process)

    assert len(pids) == 2, out
    assert srv.process.returncode == 0
    assert {int(p) for p in children.split()} >= pids
    assert all(not Path(f"/proc/{pid}").exists() for pid in pids)


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
