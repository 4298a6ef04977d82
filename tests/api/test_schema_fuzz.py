"""Schemathesis over every route of /openapi.json, with each role's token: no 5xx, every answer matches the schema
the document declares (status, content type, body), and requests the schema does not allow are refused. Bounded
here; `make fuzz` runs it with many more examples per route (FNGATE_FUZZ_EXAMPLES)."""

from __future__ import annotations

import base64
import http
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import schemathesis
from chalice.local import LocalGatewayException
from chalice.test import Client
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from app import app
from chalicelib.api.openapi import document
from chalicelib.clock import Clock
from chalicelib.config import Settings
from chalicelib.services.container import Services, build_services, use_services
from tests.conftest import ACCOUNT
from tests.fakes import FakeExecutor

EXAMPLES = int(os.environ.get("FNGATE_FUZZ_EXAMPLES", "3"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          negative_data_rejection]
ROLES = ("adminToken", "developerToken", "invocationToken", "appToken", None)


class ChaliceWsgi:
    """The Chalice app as a WSGI application (through chalice.test's local gateway), for schemathesis' client."""

    client: Client | None = None  # set while the module's services are installed

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("RAW_URI") or environ.get("REQUEST_URI") or quote(environ.get("PATH_INFO", "/"))
        if "?" not in path and environ.get("QUERY_STRING"):
            path += "?" + environ["QUERY_STRING"]
        headers = {key[5:].replace("_", "-").title(): value for key, value in environ.items()
                   if key.startswith("HTTP_")}
        if environ.get("CONTENT_TYPE"):
            headers["Content-Type"] = environ["CONTENT_TYPE"]
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        status, answer_headers, answer = self._answer(environ["REQUEST_METHOD"], path, headers, body)
        reason = "Function Failed" if status == 901 else http.HTTPStatus(status).phrase
        start_response(f"{status} {reason}", [(k, str(v)) for k, v in answer_headers.items()])
        return [answer]

    def _answer(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict, bytes]:
        """As chalice.test's client answers, but an answer without a body (its CORS preflight) has an empty one."""
        assert self.client is not None
        gateway = self.client.http._local_gateway
        try:
            res = gateway.handle_request(method=method.upper(), path=path, headers=headers, body=body)
        except LocalGatewayException as err:
            return err.CODE, dict(err.headers), err.body or b""
        raw = res.get("body") or ""
        data = base64.b64decode(raw) if res.get("isBase64Encoded") else raw.encode()
        return res["statusCode"], dict(res.get("headers") or {}), data


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Services, dict[str, str]]]:
    data = Path(tmp_path_factory.mktemp("fuzz"))
    svc = build_services(Settings(data_dir=data, jobs="inline"), executor=FakeExecutor(), clock=Clock())
    creds = svc.identity.bootstrap(ACCOUNT)
    creds["appToken"] = svc.identity.app_token(ACCOUNT, creds["clientId"], creds["clientSecret"])["access_token"]
    with use_services(svc), Client(app) as client:
        WSGI.client = client
        yield svc, creds
        WSGI.client = None
    svc.close()


WSGI = ChaliceWsgi()
schema = schemathesis.openapi.from_dict(document())
schema.app = WSGI


@pytest.mark.parametrize("role", ROLES)
@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
def test_every_route_answers_as_its_schema_says(case: Any, role: str | None, fuzzed: Any) -> None:
    _, creds = fuzzed
    if "account_id" in (case.path_parameters or {}):
        case.path_parameters["account_id"] = ACCOUNT  # our account, so that fuzzing goes past the 403
    headers = {"Authorization": f"Bearer {creds[role]}"} if role else {}
    case.call_and_validate(headers=headers, checks=CHECKS)
