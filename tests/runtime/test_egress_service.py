"""The egress proxy service end to end: ``python -m chalicelib.runtime.egress_service`` (the egress image's command)
in its own process, over a SQLite store holding the allowlists, a stand-in gateway serving its JWKS, and a fake
upstream. Allowed, refused, another account's token, forged and expired tokens, key rotation, CONNECT."""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from nacl.signing import SigningKey

from chalicelib.clock import Clock
from chalicelib.crypto.tokens import KeySet, TokenSigner
from chalicelib.domain.permissions import FUNCTION_PRINCIPAL, TOOLBELT_SCOPE
from chalicelib.services.domains import DomainService
from chalicelib.storage.sqlite import SqliteStore
from tests.conftest import ACCOUNT, OTHER_ACCOUNT
from tests.runtime.conftest import Upstream

ROOT = Path(__file__).resolve().parents[2]
FN = "4a1c9d3e-0000-4000-8000-000000000001"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    jwks: dict[str, Any] = {}


class _Handler(Upstream):
    def do_GET(self) -> None:
        server: Any = self.server
        body = json.dumps(server.jwks).encode() if self.path.endswith("/jwks") else f"hello {self.path}".encode()
        self.answer(body)


def serve() -> _Server:
    server = _Server(("127.0.0.1", 0), _Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Egress:
    port: int
    upstream: int
    gateway: _Server
    signer: TokenSigner
    seed: bytes

    def token(self, account: str = ACCOUNT, **claims: Any) -> str:
        base = {"iss": "fngate", "typ": FUNCTION_PRINCIPAL, "aud": account, "sub": FN, "scope": TOOLBELT_SCOPE}
        return self.signer.sign({**base, **claims}, 60)

    def get(self, url: str, token: str | None) -> tuple[int, str]:
        proxy = f"http://fn:{token}@127.0.0.1:{self.port}" if token else f"http://127.0.0.1:{self.port}"
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({"http": proxy}))
        try:
            with opener.open(url, timeout=10) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as err:
            return err.code, err.read().decode()


def _jwks(signer: TokenSigner) -> dict[str, Any]:
    return {"keys": signer.public_jwks}


@pytest.fixture
def egress(tmp_path: Path) -> Iterator[Egress]:
    # GIVEN a store where only ACCOUNT allowlists "localhost", a gateway publishing its keys, an upstream
    store = SqliteStore(tmp_path / "fngate.db")
    DomainService(store, Clock()).ensure(ACCOUNT, "localhost")
    store.close()
    seed = SigningKey.generate().encode()
    signer = TokenSigner(KeySet({"k1": seed}, "k1"))
    gateway, upstream = serve(), serve()
    gateway.jwks = _jwks(signer)
    port = free_port()
    env = {**os.environ, "FNGATE_STORE": "sqlite", "FNGATE_DATA_DIR": str(tmp_path),
           "FNGATE_GATEWAY_URL": f"http://127.0.0.1:{gateway.server_address[1]}",
           "FNGATE_EGRESS_LISTEN": f"127.0.0.1:{port}", "FNGATE_EGRESS_PORTS": str(upstream.server_address[1]),
           "FNGATE_EGRESS_PRIVATE_CIDRS": "127.0.0.0/8", "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "chalicelib.runtime.egress_service"], env=env, cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _wait_listening(port, proc)
        yield Egress(port, int(upstream.server_address[1]), gateway, signer, seed)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        gateway.shutdown()
        upstream.shutdown()


def _wait_listening(port: int, proc: subprocess.Popen[bytes]) -> None:
    for _ in range(300):
        if proc.poll() is not None:
            raise AssertionError(f"the egress service exited: {proc.stderr.read().decode() if proc.stderr else ''}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("the egress service did not listen")


def test_allowlisted_host_is_reached_with_the_accounts_token(egress: Egress) -> None:
    status, body = egress.get(f"http://localhost:{egress.upstream}/ok", egress.token())
    assert (status, body) == (200, "hello /ok")


def test_host_not_on_the_accounts_allowlist_is_refused(egress: Egress) -> None:
    status, body = egress.get(f"http://127.0.0.2:{egress.upstream}/x", egress.token())
    assert status == 403 and "allowlist" in body


def test_another_accounts_token_gets_that_accounts_allowlist(egress: Egress) -> None:
    status, body = egress.get(f"http://localhost:{egress.upstream}/ok", egress.token(OTHER_ACCOUNT))
    assert status == 403 and "localhost is not on the account's domain allowlist" in body


def test_the_gateway_is_always_allowed(egress: Egress) -> None:
    url = f"http://127.0.0.1:{egress.gateway.server_address[1]}/sentinel/well-known/jwks"
    status, body = egress.get(url, egress.token(OTHER_ACCOUNT))
    assert status == 200 and json.loads(body) == _jwks(egress.signer)


@pytest.mark.parametrize("kind", ["none", "garbage", "forged", "expired", "user-token", "no-scope"])
def test_tokens_that_are_not_a_live_function_token_are_refused_407(egress: Egress, kind: str) -> None:
    forger = TokenSigner(KeySet({"k1": SigningKey.generate().encode()}, "k1"))
    token = {"none": None, "garbage": "x.y.z",
             "forged": forger.sign({"iss": "fngate", "typ": FUNCTION_PRINCIPAL, "aud": ACCOUNT, "sub": FN,
                                    "scope": TOOLBELT_SCOPE}, 60),
             "expired": egress.signer.sign({"iss": "fngate", "typ": FUNCTION_PRINCIPAL, "aud": ACCOUNT, "sub": FN,
                                            "scope": TOOLBELT_SCOPE}, -10),
             "user-token": egress.signer.sign({"iss": "fngate", "typ": "user", "aud": ACCOUNT, "sub": "u",
                                               "roles": ["FaaS-Admin"]}, 60),
             "no-scope": egress.token(scope="")}[kind]
    status, _ = egress.get(f"http://localhost:{egress.upstream}/ok", token)
    assert status == 407


def test_a_rotated_gateway_key_is_learnt_from_its_jwks(egress: Egress) -> None:
    rotated = TokenSigner(KeySet({"k1": egress.seed, "k2": SigningKey.generate().encode()}, "k2"))
    egress.gateway.jwks = _jwks(rotated)
    token = rotated.sign({"iss": "fngate", "typ": FUNCTION_PRINCIPAL, "aud": ACCOUNT, "sub": FN,
                          "scope": TOOLBELT_SCOPE}, 60)
    status, _ = egress.get(f"http://localhost:{egress.upstream}/ok", token)
    assert status == 200


def test_connect_tunnel_is_admitted_by_token_and_allowlist(egress: Egress) -> None:
    def connect(token: str) -> bytes:
        auth = base64.b64encode(f"fn:{token}".encode()).decode()
        with socket.create_connection(("127.0.0.1", egress.port), timeout=10) as sock:
            sock.sendall(f"CONNECT localhost:{egress.upstream} HTTP/1.1\r\nHost: localhost\r\n"
                         f"Proxy-Authorization: Basic {auth}\r\n\r\n".encode())
            head = sock.recv(4096)
            if b" 200 " not in head.split(b"\r\n")[0]:
                return head
            sock.sendall(b"GET /tunnel HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            data = b""
            while chunk := sock.recv(4096):
                data += chunk
            return data

    assert connect(egress.token()).endswith(b"hello /tunnel")
    assert b" 403 " in connect(egress.token(OTHER_ACCOUNT))
