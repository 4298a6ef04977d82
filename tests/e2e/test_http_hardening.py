"""Request smuggling and malformed HTTP against the real server (granian + ChaliceRSGI, tests.e2e.server_app).

Every case gets a clean 4xx or a closed connection, never a request the app misreads: after each one the request
smuggled behind it must not have been answered, and /seen tells how many requests reached the app.
"""

from __future__ import annotations

import base64
import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from tests.e2e.test_server import Served, served

pytestmark = pytest.mark.slow

SMUGGLED = b"GET /items/smuggled HTTP/1.1\r\nHost: x\r\n\r\n"


@pytest.fixture(scope="module")
def server() -> Iterator[Served]:
    with served("--processes", "1") as srv:
        yield srv


def exchange(srv: Served, data: bytes, *, wait: float = 3.0) -> list[tuple[int, dict[str, str], bytes]]:
    """Sends raw bytes and parses every response that comes back before the server closes (or goes quiet)."""
    with socket.create_connection(("127.0.0.1", srv.port), timeout=wait) as sock:
        sock.sendall(data)
        raw = b""
        try:
            while chunk := sock.recv(65536):
                raw += chunk
        except (TimeoutError, ConnectionResetError):
            pass
    return parse_responses(raw)


def parse_responses(raw: bytes) -> list[tuple[int, dict[str, str], bytes]]:
    responses = []
    while raw:
        head, sep, rest = raw.partition(b"\r\n\r\n")
        assert sep, f"truncated response: {raw[:200]!r}"
        lines = head.decode("latin-1").split("\r\n")
        assert lines[0].startswith("HTTP/1."), lines[0]
        headers = dict(line.split(": ", 1) for line in lines[1:])
        headers = {k.lower(): v for k, v in headers.items()}
        length = int(headers.get("content-length", "0"))
        responses.append((int(lines[0].split()[1]), headers, rest[:length]))
        raw = rest[length:]
    return responses


def seen(srv: Served) -> int:
    reply = exchange(srv, b"GET /seen HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    return json.loads(reply[0][2])["count"]


def post(headers: bytes, body: bytes) -> bytes:
    return b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" + headers + b"\r\n" + body


def assert_refused_or_read_as(srv: Served, data: bytes, body: bytes | None) -> None:
    """A 4xx (the app never saw it), or exactly one 200 whose body the app read as `body`; in both cases the request
    smuggled behind it is never answered."""
    before = seen(srv)
    responses = exchange(srv, data + SMUGGLED)
    after = seen(srv)

    assert len(responses) == 1, responses
    status, _, answer = responses[0]
    assert all(b"smuggled" not in r[2] for r in responses)
    if 400 <= status < 500:
        assert after == before
    else:
        assert status == 200 and body is not None, responses
        assert base64.b64decode(json.loads(answer)["body"]) == body
        assert after == before + 1


CASES = {
    "CL.TE": (post(b"Content-Length: 6\r\nTransfer-Encoding: chunked\r\n", b"0\r\n\r\nG"), None),
    "TE.CL": (post(b"Transfer-Encoding: chunked\r\nContent-Length: 4\r\n", b"2\r\n{}\r\n0\r\n\r\n"), None),
    "TE.TE chunked then gzip": (post(b"Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n",
                                     b"0\r\n\r\n"), None),
    "TE.TE chunked, identity": (post(b"Transfer-Encoding: chunked, identity\r\n", b"0\r\n\r\n"), None),
    "TE.TE space before colon": (post(b"Transfer-Encoding : chunked\r\nContent-Length: 5\r\n",
                                      b"0\r\n\r\n"), None),
    "TE.TE xchunked": (post(b"Transfer-Encoding: xchunked\r\nContent-Length: 2\r\n", b"{}"), None),
    "TE.TE vertical tab": (post(b"Transfer-Encoding:\x0bchunked\r\n", b"0\r\n\r\n"), None),
    "TE.TE on a folded line": (post(b"X-A: 1\r\nTransfer-Encoding:\r\n chunked\r\nContent-Length: 2\r\n", b"{}"),
                               None),
    "duplicate Content-Length": (post(b"Content-Length: 2\r\nContent-Length: 5\r\n", b"{}123"), None),
    "Content-Length list": (post(b"Content-Length: 2, 5\r\n", b"{}123"), None),
    "negative Content-Length": (post(b"Content-Length: -2\r\n", b"{}"), None),
    "Content-Length with a plus": (post(b"Content-Length: +2\r\n", b"{}"), None),
    "chunk size overflow": (post(b"Transfer-Encoding: chunked\r\n", b"1" * 40 + b"\r\n{}\r\n0\r\n\r\n"), None),
    "folded header": (b"GET /echo HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n 2\r\n\r\n", None),
    "NUL in a header value": (b"GET /echo HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n", None),
    "bare CR in a header value": (b"GET /echo HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n", None),
    "missing Host": (b"GET /echo HTTP/1.1\r\nX-A: 1\r\n\r\n", None),
    "HTTP/2.0 request line over HTTP/1": (b"GET /echo HTTP/2.0\r\nHost: x\r\n\r\n", None),
    "oversize request line": (b"GET /echo?" + b"a" * 70_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", None),
    "oversize header": (b"GET /echo HTTP/1.1\r\nHost: x\r\nX-A: " + b"a" * 70_000 + b"\r\n\r\n", None),
    "too many headers": (b"GET /echo HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-%d: a\r\n" % i for i in range(200))
                         + b"\r\n", None),
    "space in the request target": (b"GET /echo x HTTP/1.1\r\nHost: x\r\n\r\n", None),
}


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_malformed_request_is_refused_or_read_one_way_only(server: Served, case: str) -> None:
    data, body = CASES[case]

    assert_refused_or_read_as(server, data, body)


def test_a_bare_lf_ends_a_header_line_and_never_reaches_a_value(server: Served) -> None:
    responses = exchange(server, b"GET /echo HTTP/1.1\r\nHost: x\r\nX-A: a\nX-B: b\r\nConnection: close\r\n\r\n")

    assert len(responses) == 1
    status, _, body = responses[0]
    if status == 200:  # hyper takes a lone LF as a line end (RFC 9112 §2.2 allows it): two headers, no LF inside
        headers = json.loads(body)["headers"]
        assert (headers["x-a"], headers["x-b"]) == ("a", "b")
    else:
        assert status == 400


def test_missing_host_gets_a_json_400_from_the_adapter(server: Served) -> None:
    [(status, headers, body)] = exchange(server, b"GET /echo HTTP/1.1\r\n\r\n")

    assert (status, json.loads(body)["code"]) == (400, "test.400")
    assert headers["connection"] == "close"


def test_slowloris_connections_do_not_stop_a_normal_client(server: Served) -> None:
    # GIVEN 40 connections that send their headers one byte a second
    stop = threading.Event()
    slow = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(40)]

    def drip() -> None:
        head = b"GET /items/slow HTTP/1.1\r\nHost: x\r\nX-Padding: " + b"a" * 100
        for i in range(len(head)):
            for sock in slow:
                with contextlib.suppress(OSError):  # the server may have timed it out
                    sock.send(head[i:i + 1])
            if stop.wait(1.0):
                return

    dripper = threading.Thread(target=drip)
    dripper.start()
    try:
        # WHEN a normal client asks meanwhile, over a few seconds
        statuses = []
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
            for _ in range(20):
                sock.sendall(b"GET /items/normal HTTP/1.1\r\nHost: x\r\n\r\n")
                statuses.append(int(sock.recv(65536).split(b" ", 2)[1]))
                time.sleep(0.2)
    finally:
        stop.set()
        dripper.join()
        for sock in slow:
            sock.close()

    # THEN every one of its requests is answered
    assert statuses == [200] * 20


def test_1000_idle_keep_alive_connections_stay_open_and_others_are_served(server: Served) -> None:
    conns = [socket.create_connection(("127.0.0.1", server.port), timeout=10) for _ in range(1000)]
    try:
        for sock in conns:
            sock.sendall(b"GET /items/idle HTTP/1.1\r\nHost: x\r\n\r\n")
        first = [sock.recv(65536)[:12] for sock in conns]

        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as other:
            other.sendall(b"GET /items/other HTTP/1.1\r\nHost: x\r\n\r\n")
            assert other.recv(65536).startswith(b"HTTP/1.1 200")

        for sock in conns:  # each idle connection is still usable
            sock.sendall(b"GET /items/again HTTP/1.1\r\nHost: x\r\n\r\n")
        again = [sock.recv(65536)[:12] for sock in conns]
    finally:
        for sock in conns:
            sock.close()

    assert first == [b"HTTP/1.1 200"] * 1000
    assert again == [b"HTTP/1.1 200"] * 1000


STALLED_HEAD = b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n"


def test_stalled_bodies_hold_no_app_thread_and_finish_when_their_bytes_come() -> None:
    # GIVEN a server with 4 app threads, and 12 clients that send their headers and 10 of 1,000 body bytes, then stall
    with served("--processes", "1", "--threads", "4", "--body-timeout", "120") as srv:
        stalled = [socket.create_connection(("127.0.0.1", srv.port), timeout=10) for _ in range(12)]
        try:
            for sock in stalled:
                sock.sendall(STALLED_HEAD + b"a" * 10)

            # WHEN a normal client asks meanwhile, for a route that runs on an app thread
            answers = []
            with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as sock:
                for i in range(10):
                    payload = b'{"n": %d}' % i
                    sock.sendall(post(b"Content-Length: %d\r\n" % len(payload), payload))
                    [(status, _, body)] = parse_responses(sock.recv(65536))
                    answers.append((status, base64.b64decode(json.loads(body)["body"])))

            # AND the stalled clients then send the rest of their bodies
            for sock in stalled:
                sock.sendall(b"a" * 990)
            finished = [parse_responses(sock.recv(65536)) for sock in stalled]
        finally:
            for sock in stalled:
                sock.close()

    # THEN the normal client is answered, and every stalled body is read whole once it arrives
    assert answers == [(200, b'{"n": %d}' % i) for i in range(10)]
    assert [[(status, base64.b64decode(json.loads(body)["body"])) for status, _, body in r] for r in finished] \
        == [[(200, b"a" * 1000)]] * 12


def test_a_body_not_received_in_time_is_a_json_408_and_never_reaches_the_app() -> None:
    with served("--processes", "1", "--threads", "2", "--body-timeout", "0.5") as srv:
        before = seen(srv)
        with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as sock:
            sock.sendall(STALLED_HEAD + b"a" * 10)
            raw = b""
            while chunk := sock.recv(65536):  # the server closes the connection after its answer
                raw += chunk
        after = seen(srv)

    [(status, headers, body)] = parse_responses(raw)
    assert (status, json.loads(body)["code"], headers["connection"]) == (408, "test.408", "close")
    assert after == before
