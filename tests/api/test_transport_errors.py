"""Errors the HTTP edge answers itself (chalicelib/api/transport.py) are the spec's error bodies in the caller's
dialect (external-invocation.md §5)."""

from __future__ import annotations

import json

from chalicelib.api.transport import render_transport_error
from chalicelib.services.container import use_services
from tests.conftest import ACCOUNT


def test_a_body_not_received_in_time_is_408_with_the_v1_error_body(make_services):
    with use_services(make_services(body_timeout_s=7.5)):
        status, headers, body = render_transport_error(
            408, "POST", f"/api/account/{ACCOUNT}/lambdas/x/invoke", {}, {"v": "1"})

    assert (status, headers["Content-Type"]) == (408, "application/json")
    assert json.loads(body) == {"errorCode": "com.liveperson.faas.es.badinput",
                                "errorMsg": "Request body not received within 7.5 s"}


def test_a_body_not_received_in_time_is_408_with_the_v2_error_body(make_services):
    with use_services(make_services()):
        status, _, body = render_transport_error(408, "POST", f"/api/account/{ACCOUNT}/functions", {}, {})

    assert status == 408
    assert json.loads(body) == {"code": "com.liveperson.faas.evg.invalid",
                                "message": "Request body not received within 30 s"}
