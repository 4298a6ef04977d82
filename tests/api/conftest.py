"""`api`: chalice.test.Client over services on a temporary SQLite store, with bootstrap tokens."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from chalice.test import Client

from app import app
from chalicelib.services.container import Services, use_services
from tests.conftest import ACCOUNT, OTHER_ACCOUNT, json_request
from tests.fakes import FakeExecutor


@dataclass
class Api:
    client: Client
    services: Services
    creds: dict[str, str]
    other: dict[str, str]
    executor: Any

    def call(self, method: str, path: str, token: str | None = None, body: Any = None,
             headers: dict[str, str] | None = None, raw: bytes | str | None = None) -> Any:
        return json_request(self.client, method, path, token, body, headers, raw)

    def dev(self, method: str, path: str, body: Any = None, **kw: Any) -> Any:
        return self.call(method, path, self.creds["developerToken"], body, **kw)


@pytest.fixture
def api(make_services: Callable[..., Services]) -> Iterator[Api]:
    executor = FakeExecutor()
    svc = make_services(executor=executor)
    creds = svc.identity.bootstrap(ACCOUNT)
    other = svc.identity.bootstrap(OTHER_ACCOUNT)
    with use_services(svc), Client(app) as client:
        yield Api(client, svc, creds, other, executor)


def body(response: Any) -> Any:
    return json.loads(response.body) if response.body else None


NODE_CODE = "function lambda(input, callback) {\n  callback(null, input.payload);\n}\n"
PY_CODE = "def lambda_handler(input, callback):\n    callback(None, input['payload'])\n"


def v1_lambda(name: str, **overrides: Any) -> dict[str, Any]:
    obj = {"uuid": "", "version": -1, "name": name, "description": "d", "state": "Draft", "timestamp": 0,
           "samplePayload": {"headers": [], "payload": {}},
           "runtime": {"uuid": "", "name": "Node.js 20", "baseImageName": ""},
           "implementation": {"code": NODE_CODE, "dependencies": [], "environmentVariables": []}}
    obj.update(overrides)
    return obj
