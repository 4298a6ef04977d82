"""The function runtime on AWS, its per-call costs beside their local peers, interleaved in one run (no AWS here:
what is measured is fngate's own work; API Gateway's and the VPC's network hops come on top on AWS):

- a Toolbelt secret read: the gateway's ToolbeltHost called directly (what the local executor's pipe reaches)
  vs the Toolbelt route a function Lambda calls (token check, JSON, Chalice routing; chalice.test.Client);
- one HTTP exchange through the egress proxy: the local proxy (unix socket, registered worker token) vs the
  egress service (TCP, a signed invocation token, verified once then cached) vs that service with a token it
  has not seen (the Ed25519 verification of a new invocation's first connection).

Run alone: ``python -m bench.aws_runtime``; ``bench.run`` adds the rows to results.md.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROUNDS = 400
ACCOUNT, FN = "benchaws", "4a1c9d3e-0000-4000-8000-00000000b001"


class _Upstream(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: Any) -> None:
        pass


def _exchange(connect: Callable[[], socket.socket], token: str, upstream_port: int) -> None:
    auth = base64.b64encode(f"fn:{token}".encode()).decode()
    with connect() as sock:
        sock.sendall(f"GET http://upstream.test:{upstream_port}/ HTTP/1.1\r\nHost: upstream.test\r\n"
                     f"Proxy-Authorization: Basic {auth}\r\n\r\n".encode())
        data = b""
        while chunk := sock.recv(4096):
            data += chunk
    if not data.startswith(b"HTTP/1.1 200") and not data.startswith(b"HTTP/1.0 200"):
        raise AssertionError(data[:200])


def _p50_us(samples: list[float]) -> float:
    return statistics.median(samples) * 1e6


def measure() -> dict[str, float]:
    from chalice.test import Client

    from app import app
    from chalicelib.config import Settings
    from chalicelib.crypto.tokens import TokenVerifier, verify_keys_from_jwks
    from chalicelib.domain.permissions import Principal, Role
    from chalicelib.runtime.egress import EgressProxy, mapped_resolver
    from chalicelib.runtime.egress_service import TokenEgressProxy
    from chalicelib.services.container import build_services, use_services
    from chalicelib.services.toolbelt_host import route_path
    from tests.fakes import FakeExecutor

    work = Path(tempfile.mkdtemp(prefix="fngate-bench-aws-"))
    svc = build_services(Settings(data_dir=work, jobs="inline"), executor=FakeExecutor())
    admin = Principal(ACCOUNT, "admin", "user", frozenset({Role.ADMIN}), login_name="admin")
    svc.secrets.create(admin, "api-key", "v" * 40)
    upstream = ThreadingHTTPServer(("127.0.0.1", 0), _Upstream)
    upstream.daemon_threads = True
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    port = int(upstream.server_address[1])
    resolver = mapped_resolver({"upstream.test": f"127.0.0.1:{port}"}, fallback=None)
    options: dict[str, Any] = {"resolver": resolver, "allowed_ports": (port,), "rate_per_s": 1e9}
    local = EgressProxy(lambda a: ["upstream.test"], socket_path=str(work / "egress.sock"), **options).start()
    local_token = local.register(ACCOUNT, FN)
    verifier = TokenVerifier(verify_keys_from_jwks({"keys": svc.identity.signer.public_jwks}))
    service = TokenEgressProxy(lambda a: ["upstream.test"], verifier, listen="127.0.0.1:0",
                               gateway_url="https://gw.example.test", **options).start()
    token = svc.identity.function_token(ACCOUNT, FN, 60)

    def via_local() -> socket.socket:
        sock = socket.socket(socket.AF_UNIX)
        sock.connect(local.socket_path)
        return sock

    def via_service() -> socket.socket:
        return socket.create_connection(service.address)

    samples: dict[str, list[float]] = {k: [] for k in ("host", "route", "local", "service", "service_new")}
    body = json.dumps({"method": "secret.read", "params": {"key": "api-key"}}).encode()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    with use_services(svc), Client(app) as client:
        for _ in range(ROUNDS):  # interleaved: machine load hits every variant alike
            t0 = time.perf_counter()
            svc.toolbelt.call(ACCOUNT, FN, "secret.read", {"key": "api-key"})
            t1 = time.perf_counter()
            res = client.http.post(route_path(ACCOUNT, FN), headers=headers, body=body)
            t2 = time.perf_counter()
            assert res.status_code == 200, res.body
            _exchange(via_local, local_token, port)
            t3 = time.perf_counter()
            _exchange(via_service, token, port)
            t4 = time.perf_counter()
            fresh = svc.identity.function_token(ACCOUNT, FN, 60 + len(samples["host"]))  # never seen before
            t5 = time.perf_counter()
            _exchange(via_service, fresh, port)
            t6 = time.perf_counter()
            for key, value in (("host", t1 - t0), ("route", t2 - t1), ("local", t3 - t2), ("service", t4 - t3),
                               ("service_new", t6 - t5)):
                samples[key].append(value)
    local.close()
    service.close()
    upstream.shutdown()
    svc.close()
    return {key: _p50_us(values) for key, values in samples.items()}


def rows() -> list[tuple[str, str, str, str]]:
    m = measure()
    return [
        ("Toolbelt secret read on AWS: the Toolbelt route (in-process, no network) vs the local ToolbeltHost "
         "call (p50)", f"{m['route']:.0f} µs vs {m['host']:.0f} µs ({m['route'] / m['host']:.1f}×)",
         "local pipe path; API Gateway adds its own round trip on AWS", "measured"),
        ("one HTTP exchange through the egress service (TCP, signed token cached / new) vs the local proxy "
         "(unix socket) (p50)", f"{m['service']:.0f} / {m['service_new']:.0f} µs vs {m['local']:.0f} µs "
         f"({m['service'] / m['local']:.2f}× / {m['service_new'] / m['local']:.2f}×)", "local egress proxy",
         "measured"),
    ]


if __name__ == "__main__":
    print(f"load average (1 min) before: {os.getloadavg()[0]:.2f}")
    for row in rows():
        print(" | ".join(row))
    print(f"load average (1 min) after: {os.getloadavg()[0]:.2f}")
