"""The Toolbelt's network clients inside function Lambdas, on moto, every byte over real sockets: the gateway (the
Chalice app behind fngate's request adapter, on a WSGI server) on a local port as API Gateway would front it, a real
egress proxy service, and one Shim per function Lambda. A function's OrchestratorClient invokes another function
through the gateway, and its LpClient reaches a LivePerson service with a Sentinel token — with credentials read
through the Toolbelt route, all traffic through the egress proxy with the invocation's token."""

from __future__ import annotations

import io
import json
import shutil
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Any
from uuid import uuid4
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import boto3
import pytest
import requests
from moto import mock_aws

from app import app
from chalicelib import toolbelt
from chalicelib.clock import Clock
from chalicelib.config import Settings
from chalicelib.crypto.envelope import KmsKeyring
from chalicelib.crypto.tokens import TokenVerifier, verify_keys_from_jwks
from chalicelib.runtime.egress import public_resolver
from chalicelib.runtime.egress_service import TokenEgressProxy
from chalicelib.runtime.lambda_shim import handler
from chalicelib.runtime.lambda_shim.handler import Shim
from chalicelib.server import ChaliceAdapter, Refused
from chalicelib.services.container import Services, build_lambda_executor, build_services, use_services
from chalicelib.services.domains import DomainService
from chalicelib.services.identity import IdentityService, load_signer
from chalicelib.storage.dynamodb import DynamoStore, create_table
from tests.aws.test_lambda_shim import Context
from tests.conftest import ACCOUNT

REGION = "us-east-1"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/fngate-function@sha256:" + "b" * 64
LOCAL = Path(handler.__file__).resolve().parent.parent / "local"
BASE = f"/api/account/{ACCOUNT}"

DOUBLER = """def lambda_handler(input, callback):
    callback(None, {"doubled": input["payload"]["n"] * 2})
"""
CALLER = """def lambda_handler(input, callback):
    from fngate_toolbelt import Toolbelt
    other = input["payload"]["other"]
    results = Toolbelt.orchestrator_client().invoke([{"uuid": other, "payload": {"n": 21}}])
    history = Toolbelt.lp_client()("msgHist", "/messaging_history/api/account/x", json=None)
    callback(None, {"orchestrated": results, "lp": {"status": history.status, "body": history.json()}})
"""


class ShimPool:
    """Lambda's side of moto: one container (Shim) per function at a time, more when it is busy, as Lambda does."""

    def __init__(self, client: Any) -> None:
        self._client, self._free, self._lock = client, {}, threading.Lock()
        self.all: list[Shim] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def invoke(self, FunctionName: str, Qualifier: str, Payload: bytes, **_: Any) -> dict[str, Any]:
        self._client.get_function_configuration(FunctionName=FunctionName, Qualifier=Qualifier)
        with self._lock:
            idle = self._free.setdefault(FunctionName, [])
            shim = idle.pop() if idle else None
            if shim is None:
                shim = Shim(worker_dir=LOCAL, node_binary=shutil.which("node"),
                            toolbelt_python_path=toolbelt.PYTHON_PATH)
                self.all.append(shim)
        try:
            answer = shim.handle(json.loads(Payload), Context())
        finally:
            with self._lock:
                self._free[FunctionName].append(shim)
        return {"StatusCode": 200, "Payload": io.BytesIO(json.dumps(answer).encode())}


def _wsgi(adapter: ChaliceAdapter) -> Callable[[dict[str, Any], Any], list[bytes]]:
    """The gateway's request handling (routing, refusals, the event for Chalice) on a WSGI server in this process,
    where moto's mocks live (granian runs apps in processes of its own)."""

    def application(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        method, path, query = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "/"), environ.get("QUERY_STRING", "")
        headers = {k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")}
        for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            if environ.get(key):
                headers[key.replace("_", "-").lower()] = environ[key]
        try:
            target = adapter.target(method, path, headers, "1.1")
            size = adapter.body_size(headers, "1.1")
            body = environ["wsgi.input"].read(size) if size else None
            status, out, data = adapter.respond(target, path, query, headers, "127.0.0.1", body)
        except Refused as refused:
            status, out, data = adapter.refusal(refused, method, path, headers, query)
        start_response(f"{status} {HTTPStatus(status).phrase}", out)
        return [data]

    return application


class _Quiet(WSGIRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _LivePerson(BaseHTTPRequestHandler):
    """A LivePerson service: answers JSON and remembers the authorization it was shown."""

    seen: list[dict[str, str]] = []

    def do_GET(self) -> None:
        type(self).seen.append({"path": self.path, "authorization": self.headers.get("authorization", "")})
        body = json.dumps({"conversations": 3}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@dataclass
class Stack:
    url: str
    svc: Services
    creds: dict[str, str]
    lp_port: int

    def call(self, method: str, path: str, token: str = "developerToken", body: Any = None) -> tuple[int, Any]:
        res = requests.request(method, self.url + path, json=body, timeout=60,
                               headers={"Authorization": f"Bearer {self.creds[token]}"})
        return res.status_code, res.json() if res.content else None


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    with mock_aws(config={"lambda": {"use_docker": False}}):
        db, lam, iam = (boto3.client(n, region_name=REGION) for n in ("dynamodb", "lambda", "iam"))
        table = f"fngate-{uuid4().hex[:8]}"
        create_table(db, table)
        key_id = boto3.client("kms", region_name=REGION).create_key()["KeyMetadata"]["KeyId"]
        store, keyring = DynamoStore(client=db, table_name=table), KmsKeyring(key_id, region_name=REGION)
        signer = load_signer(store, keyring)
        livep = ThreadingHTTPServer(("127.0.0.1", 0), _LivePerson)
        threading.Thread(target=livep.serve_forever, daemon=True).start()
        front = make_server("127.0.0.1", 0, lambda e, s: wsgi(e, s), server_class=_ThreadingWSGIServer,
                            handler_class=_Quiet)
        gateway = f"http://127.0.0.1:{front.server_port}"
        egress = TokenEgressProxy(
            DomainService(store, Clock()).allowlist_for,
            TokenVerifier(verify_keys_from_jwks({"keys": signer.public_jwks})), listen="127.0.0.1:0",
            gateway_url=gateway, allowed_ports=(80, 443, livep.server_address[1]),
            resolver=public_resolver(["127.0.0.0/8"])).start()
        settings = Settings(
            data_dir=tmp_path, store="dynamodb", table_name=table, keyring="kms", kms_key_id=key_id,
            executor="aws_lambda", lambda_image_uri=IMAGE, gateway_url=gateway,
            egress_proxy_url="http://{}:{}".format(*egress.address), jobs="inline", records="sync", region=REGION,
            scheduler="off", public_host=f"127.0.0.1:{front.server_port}",
            domain_map={"msgHist": f"http://localhost:{livep.server_address[1]}"})
        pool = ShimPool(lam)
        identity = IdentityService(store, keyring, signer, Clock())
        executor = build_lambda_executor(settings, identity, client=pool, iam_client=iam)
        svc = build_services(settings, store=store, keyring=keyring, executor=executor)
        wsgi = _wsgi(ChaliceAdapter(app))
        threading.Thread(target=front.serve_forever, daemon=True).start()
        with use_services(svc):
            yield Stack(gateway, svc, svc.identity.bootstrap(ACCOUNT), int(livep.server_address[1]))
        front.shutdown()
        livep.shutdown()
        egress.close()
        for shim in pool.all:
            shim.close()
        svc.close()


def deployed(stack: Stack, name: str, code: str) -> str:
    status, fn = stack.call("POST", f"{BASE}/functions", body={"name": name, "description": "d",
                                                                "runtime": "Python 3.11", "code": code})
    assert status == 201, fn
    assert stack.call("POST", f"{BASE}/deployments/{fn['uuid']}")[0] == 200
    return str(fn["uuid"])


def test_orchestrator_and_lp_client_inside_function_lambdas(stack: Stack) -> None:
    # GIVEN a provisioned account (its two app keys as secrets, msgHist on its allowlist) and two functions
    status, report = stack.call("POST", f"{BASE}/provisioning/terms", "adminToken")
    assert status == 200 and "localhost" in report["domainsAdded"], report
    other = deployed(stack, "doubler", DOUBLER)
    caller = deployed(stack, "caller", CALLER)
    _LivePerson.seen.clear()
    # WHEN the caller runs in its Lambda
    status, result = stack.call("POST", f"{BASE}/lambdas/{caller}/invoke?v=1", body={
        "timestamp": 0, "headers": [], "payload": {"other": other}})
    # THEN its Orchestrator invoked the other function through the gateway, and its LpClient reached LivePerson
    assert status == 200, result
    (orchestrated,) = result["orchestrated"]
    assert orchestrated["uuid"] == other and orchestrated["statusCode"] == 200, orchestrated
    assert json.loads(orchestrated["body"]) == {"doubled": 42}
    assert result["lp"] == {"status": 200, "body": {"conversations": 3}}
    (seen,) = _LivePerson.seen
    assert seen["authorization"].startswith("Bearer ") and seen["path"] == "/messaging_history/api/account/x"


def test_a_host_off_the_allowlist_is_refused_inside_the_lambda(stack: Stack) -> None:
    code = """def lambda_handler(input, callback):
    from fngate_toolbelt import Toolbelt, RequestError
    try:
        res = Toolbelt.http_client().request("GET", input["payload"]["url"])
        callback(None, {"status": res.status, "text": res.text()})
    except RequestError as err:
        callback(None, {"code": err.code, "proxy_status": err.proxy_status})
"""
    fn = deployed(stack, "fetcher", code)
    url = f"http://127.0.0.2:{stack.lp_port}/x"  # an open port, but a host the account has not allowlisted
    status, result = stack.call("POST", f"{BASE}/lambdas/{fn}/invoke?v=1", body={"payload": {"url": url}})
    assert status == 200 and result["status"] == 403 and "allowlist" in result["text"], result
    tunnel = url.replace("http://", "https://")  # CONNECT: refused before any byte reaches the host
    status, result = stack.call("POST", f"{BASE}/lambdas/{fn}/invoke?v=1", body={"payload": {"url": tunnel}})
    assert status == 200 and result == {"code": "EPROXY", "proxy_status": 403}, result
