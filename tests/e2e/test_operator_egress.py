"""Operator egress settings over a real gateway: an internal API on a private address and a non-standard port,
opened by the operator and allowlisted by the account, works end to end; without the opening it is refused with
the reason."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.e2e.conftest import ACCOUNT, Gateway, free_port, start_gateway, stop_gateway

BASE = f"/api/account/{ACCOUNT}"
CALLER = """def lambda_handler(input, callback):
    from fngate_toolbelt import Toolbelt, RequestError
    try:
        res = Toolbelt.http_client().request("GET", input["payload"]["url"], timeout=5)
        callback(None, {"status": res.status, "body": res.text()})
    except RequestError as err:
        callback(None, {"refused": getattr(err, "proxy_status", None), "message": str(err)})
"""


class Internal(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path.startswith("/services/data/"):  # a Salesforce org, as jsforce queries it
            answer = {"totalSize": 1, "done": True, "records": [{"Id": "001A", "auth": self.headers["Authorization"]}]}
        else:
            answer = {"internal": True, "path": self.path}
        body = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def internal() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Internal)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory, internal: int) -> Iterator[Gateway]:
    gateway = start_gateway(tmp_path_factory.mktemp("egress"), extra_env={
        "FNGATE_EGRESS_PRIVATE_CIDRS": "127.0.0.0/8", "FNGATE_EGRESS_PORTS": str(internal)})
    status, body, _ = gateway.request("POST", f"{BASE}/domains", token=gateway.creds["adminToken"],
                                      body={"domain": "localhost"})
    assert status in (200, 201, 409), body  # 409: provisioning allowlisted it already (the gateway itself)
    yield gateway
    stop_gateway(gateway)


SALESFORCE = """async function lambda(input) {
  const { Toolbelt } = require('lp-faas-toolbelt');
  const conn = Toolbelt.SFClient().connectToSalesforce({loginUrl: input.payload.url, accessToken: 'sf-token'});
  try {
    const res = await conn.query('SELECT Id FROM Account');
    return res.records;
  } catch (e) { return {error: String(e && e.stack || e)}; }
}
"""


def call(gw: Gateway, url: str, code: str = CALLER, runtime: str = "python3.11") -> dict:
    token = gw.creds["developerToken"]
    _, fn, _ = gw.request("POST", f"{BASE}/functions", token=token,
                          body={"name": f"caller{abs(hash(url + runtime)) % 100000}", "description": "d",
                                "code": code, "runtime": runtime})
    gw.request("POST", f"{BASE}/deployments/{fn['uuid']}", token=token)
    deadline = time.time() + 20
    while gw.request("GET", f"{BASE}/functions/{fn['uuid']}", token=token)[1]["state"] != "Productive":
        assert time.time() < deadline
        time.sleep(0.05)
    status, out, _ = gw.request("POST", f"{BASE}/lambdas/{fn['uuid']}/invoke?v=1", token=token,
                                body={"payload": {"url": url}})
    assert status == 200, out
    return out


def test_an_opened_internal_api_works_end_to_end(gw: Gateway, internal: int) -> None:
    out = call(gw, f"http://localhost:{internal}/orders")
    assert out["status"] == 200 and json.loads(out["body"]) == {"internal": True, "path": "/orders"}


def test_a_port_the_operator_did_not_open_is_refused_with_the_reason(gw: Gateway) -> None:
    plain = call(gw, "http://localhost:8444/orders")  # the proxy's answer itself
    assert plain["status"] == 403 and "port 8444 is not allowed" in plain["body"], plain
    tunneled = call(gw, "https://localhost:8444/orders")  # CONNECT refused: the reason is in the error
    assert tunneled["refused"] == 403 and "Port Not Allowed" in tunneled["message"], tunneled


def test_the_toolbelt_s_salesforce_client_works_with_preinstalled_jsforce(gw: Gateway, internal: int) -> None:
    records = call(gw, f"http://localhost:{internal}", SALESFORCE, "nodejs20")
    assert records == [{"Id": "001A", "auth": "Bearer sf-token"}]
