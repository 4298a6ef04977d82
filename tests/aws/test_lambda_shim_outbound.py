"""The shim's ways out, in-process with real Python workers: the worker's RPCs go to the Toolbelt route with the
invocation's token, and its HTTP goes through the relay, which puts the current invocation's token in front of
the egress proxy (a warm worker keeps its environment, the token still changes)."""

from __future__ import annotations

import base64
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chalicelib.runtime.egress_relay import read_head
from chalicelib.runtime.lambda_shim import handler
from chalicelib.runtime.lambda_shim.handler import Shim
from chalicelib.runtime.lambda_shim.outbound import rewrite_head
from tests.aws.test_lambda_shim import Context, bundle

LOCAL = Path(handler.__file__).resolve().parent.parent / "local"

RPC_CODE = """def lambda_handler(input, callback):
    import fngate_rpc
    try:
        callback(None, fngate_rpc.call("secret.read", {"key": input["payload"]}))
    except Exception as err:
        callback(None, {"error": getattr(err, "code", type(err).__name__)})
"""

HTTP_CODE = """def lambda_handler(input, callback):
    import os, urllib.request
    request = urllib.request.Request("http://api.example.test/data",
                                     headers={"Proxy-Authorization": "Basic Zm46c3RvbGVu"})
    with urllib.request.urlopen(request, timeout=10) as response:
        callback(None, {"body": response.read().decode(), "pid": os.getpid(),
                        "proxy": os.environ.get("HTTP_PROXY")})
"""


class Rpc:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str, Any, str]] = []

    def __call__(self, url: str, token: str, method: str, params: Any, *, proxy: str = "",
                 timeout_s: float = 10) -> dict[str, Any]:
        self.calls.append((url, token, method, params, proxy))
        if params == {"key": "missing"}:
            return {"ok": False, "code": "com.liveperson.faas.secret.not-found", "message": "no such secret"}
        return {"ok": True, "result": {"key": params["key"], "value": "v-" + token}}


class FakeProxy:
    """A TCP 'egress proxy' that records each request head and answers 200 with a fixed body."""

    def __init__(self) -> None:
        self.heads: list[str] = []
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            with conn:
                head, _ = read_head(conn)
                self.heads.append(head.decode("latin-1"))
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\nConnection: close\r\n\r\nproxied")

    def tokens(self) -> list[str]:
        found = []
        for head in self.heads:
            auths = [line for line in head.split("\r\n") if line.lower().startswith("proxy-authorization:")]
            assert len(auths) == 1, head
            found.append(base64.b64decode(auths[0].split()[-1]).decode().partition(":")[2])
        return found


@pytest.fixture
def shim() -> Iterator[tuple[Shim, Rpc]]:
    rpc = Rpc()
    s = Shim(worker_dir=LOCAL, rpc=rpc)
    yield s, rpc
    s.close()


def event(code: str, payload: Any, token: str = "", proxy: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {"op": "invoke", "input": {"headers": [], "payload": payload}, "timeout_ms": 10_000,
                           "bundle": bundle(code)}
    if token:
        out["toolbelt"] = {"url": "https://gw.example.test/api/account/a/functions/f/toolbelt", "token": token}
    if proxy:
        out["egress"] = {"proxy": proxy, "token": token}
    return out


def test_worker_rpcs_go_to_the_toolbelt_route_with_this_invocations_token(shim: tuple[Shim, Rpc]) -> None:
    s, rpc = shim
    first = s.handle(event(RPC_CODE, "db", token="t1", proxy="http://egress.internal:3128"), Context())
    second = s.handle(event(RPC_CODE, "db", token="t2", proxy="http://egress.internal:3128"), Context())
    assert first["result"] == {"key": "db", "value": "v-t1"} and second["result"]["value"] == "v-t2"
    assert [(c[1], c[2], c[3], c[4]) for c in rpc.calls] == [
        ("t1", "secret.read", {"key": "db"}, "http://egress.internal:3128"),
        ("t2", "secret.read", {"key": "db"}, "http://egress.internal:3128")]
    assert rpc.calls[0][0].endswith("/functions/f/toolbelt")


def test_rpc_failures_reach_the_function_with_the_gateways_code(shim: tuple[Shim, Rpc]) -> None:
    s, _ = shim
    answer = s.handle(event(RPC_CODE, "missing", token="t1"), Context())
    assert answer["result"] == {"error": "com.liveperson.faas.secret.not-found"}


def test_without_a_toolbelt_route_rpcs_are_unavailable(shim: tuple[Shim, Rpc]) -> None:
    s, rpc = shim
    answer = s.handle(event(RPC_CODE, "db"), Context())
    assert answer["result"]["error"] == "com.fngate.rpc.unavailable" and rpc.calls == []


def test_http_goes_through_the_relay_with_the_current_token_only(shim: tuple[Shim, Rpc]) -> None:
    # GIVEN an egress proxy, and a function that tries to send its own proxy password
    s, _ = shim
    proxy = FakeProxy()
    url = f"http://127.0.0.1:{proxy.port}"
    # WHEN the same warm worker runs twice, with two invocations' tokens
    first = s.handle(event(HTTP_CODE, None, token="tok-1", proxy=url), Context())
    second = s.handle(event(HTTP_CODE, None, token="tok-2", proxy=url), Context())
    # THEN both went out through the proxy, each with its own invocation's token and never the function's
    assert first["result"]["body"] == second["result"]["body"] == "proxied"
    assert first["result"]["pid"] == second["result"]["pid"]
    assert first["result"]["proxy"].startswith("http://127.0.0.1:") and "@" not in first["result"]["proxy"]
    assert proxy.tokens() == ["tok-1", "tok-2"]
    assert proxy.heads[0].startswith("GET http://api.example.test/data HTTP/1.1")


def test_rewrite_head_replaces_every_proxy_authorization() -> None:
    head = b"CONNECT h:443 HTTP/1.1\r\nProxy-Authorization: Basic a\r\nHost: h\r\nproxy-authorization: x"
    out = rewrite_head(head, "tok").decode()
    assert out.count("roxy-Authorization") == 1 and out.endswith("\r\n\r\n") and "Host: h" in out
    assert base64.b64encode(b"fn:tok").decode() in out
