"""Every answer carries the security headers; HSTS only when clients reach the gateway over TLS."""

from __future__ import annotations

import pytest
from chalice.test import Client

from app import app
from chalicelib.api.middleware import HSTS, SECURITY_HEADERS
from chalicelib.services.container import use_services
from tests.conftest import ACCOUNT

ANSWERS = [("GET", f"/api/account/{ACCOUNT}/lambdas?v=1", True), ("GET", f"/api/account/{ACCOUNT}/lambdas?v=1", False),
           ("GET", "/openapi.json", False), ("PATCH", f"/api/account/{ACCOUNT}/lambdas?v=1", True),
           ("GET", f"/api/account/{ACCOUNT}/secrets", True),
           ("POST", f"/api/account/{ACCOUNT}/login?v=1.3", False)]


@pytest.mark.parametrize(("method", "path", "authorized"), ANSWERS)
def test_every_answer_carries_the_security_headers(api, method, path, authorized):
    res = api.call(method, path, api.creds["adminToken"] if authorized else None)
    for name, value in SECURITY_HEADERS:
        assert res.headers.get(name) == value, (name, res.status_code)
    assert "Strict-Transport-Security" not in res.headers  # plain HTTP: HSTS would mean nothing


def test_hsts_is_sent_when_the_gateway_serves_tls(make_services):
    svc = make_services(tls=True)
    creds = svc.identity.bootstrap(ACCOUNT)
    with use_services(svc), Client(app) as client:
        res = client.http.get(f"/api/account/{ACCOUNT}/lambdas?v=1",
                              headers={"Authorization": f"Bearer {creds['developerToken']}"})
    assert res.status_code == 200
    assert res.headers["Strict-Transport-Security"] == HSTS


def test_errors_the_http_host_renders_carry_them_too(make_services):
    from chalicelib.api.transport import render_transport_error

    with use_services(make_services(tls=True)):
        status, headers, _ = render_transport_error(413, "POST", f"/api/account/{ACCOUNT}/functions", {}, {})
    assert status == 413
    assert {name: headers[name] for name, _ in SECURITY_HEADERS} == dict(SECURITY_HEADERS)
    assert headers["Strict-Transport-Security"] == HSTS
