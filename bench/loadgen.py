"""A small keep-alive HTTP load generator, run in its own process(es) so it does not share the gateway's GIL.

Each connection sends one request at a time over a persistent socket and parses just enough of the answer
(status line, Content-Length) to stay in sync. Latencies are collected per request in nanoseconds.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import socket
import sys
import threading
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Spec:
    host: str
    port: int
    method: str
    path: str
    headers: dict[str, str]
    body: bytes = b""


def _request_bytes(spec: Spec) -> bytes:
    lines = [f"{spec.method} {spec.path} HTTP/1.1", f"Host: {spec.host}:{spec.port}",
             f"Content-Length: {len(spec.body)}"] + [f"{k}: {v}" for k, v in spec.headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + spec.body


def _read_response(sock: socket.socket, buf: bytearray) -> tuple[int, bytearray]:
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        buf += chunk
    head, _, rest = bytes(buf).partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    body = bytearray(rest)
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        body += chunk
    return status, body[length:]


def _connection(spec: Spec, deadline: float, max_requests: int, out: list) -> None:
    payload = _request_bytes(spec)
    sock = socket.create_connection((spec.host, spec.port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    buf, lat, statuses, errors = bytearray(), [], {}, 0
    n = 0
    while n < max_requests and time.perf_counter() < deadline:
        t0 = time.perf_counter_ns()
        try:
            sock.sendall(payload)
            status, buf = _read_response(sock, buf)
        except OSError:
            errors += 1
            sock.close()
            sock = socket.create_connection((spec.host, spec.port))
            buf = bytearray()
            continue
        lat.append(time.perf_counter_ns() - t0)
        statuses[status] = statuses.get(status, 0) + 1
        n += 1
    sock.close()
    out.append((lat, statuses, errors))


def _worker(spec: Spec, connections: int, seconds: float, max_requests: int, queue: mp.Queue) -> None:
    out: list = []
    deadline = time.perf_counter() + seconds
    threads = [threading.Thread(target=_connection, args=(spec, deadline, max_requests, out))
               for _ in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    lat = [x for o in out for x in o[0]]
    statuses: dict[int, int] = {}
    for o in out:
        for k, v in o[1].items():
            statuses[k] = statuses.get(k, 0) + v
    queue.put((lat, statuses, sum(o[2] for o in out)))


def run(spec: Spec, *, connections: int = 1, processes: int = 1, seconds: float = 5.0,
        max_requests: int = 10**9) -> dict:
    """Drive ``spec`` with ``connections`` keep-alive sockets spread over ``processes``; return the summary."""
    queue: mp.Queue = mp.get_context("fork").Queue()
    per = max(1, connections // processes)
    procs = [mp.get_context("fork").Process(target=_worker, args=(spec, per, seconds, max_requests, queue))
             for _ in range(processes)]
    started = time.perf_counter()
    for p in procs:
        p.start()
    results = [queue.get() for _ in procs]
    elapsed = time.perf_counter() - started
    for p in procs:
        p.join()
    lat = sorted(x for r in results for x in r[0])
    statuses: dict[int, int] = {}
    for r in results:
        for k, v in r[1].items():
            statuses[k] = statuses.get(k, 0) + v
    return summarize(lat, statuses, sum(r[2] for r in results), elapsed)


def summarize(lat_ns: list[int], statuses: dict[int, int], errors: int, elapsed: float) -> dict:
    def pct(p: float) -> float:
        return lat_ns[min(len(lat_ns) - 1, int(p * len(lat_ns)))] / 1e6 if lat_ns else float("nan")

    return {"requests": len(lat_ns), "rps": len(lat_ns) / elapsed if elapsed else 0.0, "p50_ms": pct(0.50),
            "p99_ms": pct(0.99), "max_ms": lat_ns[-1] / 1e6 if lat_ns else float("nan"),
            "statuses": statuses, "errors": errors}


if __name__ == "__main__":
    host, port, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    print(json.dumps(run(Spec(host, port, "GET", path, {}), seconds=2)))
