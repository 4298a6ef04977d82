"""Every route, fed malformed JSON, wrong types and unknown ids, answers 4xx in the spec's shape — never a 500."""

from __future__ import annotations

import json
import re

import pytest

from chalicelib.api._wire import ROUTES
from tests.conftest import ACCOUNT

BODIES = [b"{", b"[]", b"null", b'"text"', b"12", b'{"name": 5, "description": [], "payload": 1}',
          b'{"headers": "x", "payload": {}}', b"\xff\xfe", b'{"version": "abc", "code": 7, "environment": []}',
          b'{"skills": "1", "eventId": 3, "runtime": {"uuid": 5}}', b'{"implementation": 3}',
          b'{"implementation": {"code": 1, "environmentVariables": "x", "dependencies": {}}}']
PARAMS = {"account_id": ACCOUNT, "uuid": "00000000-0000-4000-8000-000000000000", "event_id": "no_such_event",
          "deployment_id": "7", "key": "no-such-secret", "domain_id": "7", "job_id": "no-such-job",
          "bot_id": "no-such-bot", "email": "nobody@example.com", "request_id": "no-such-request",
          "folder": "vendor", "package": "no-such-package", "name": "no-such-file.js",
          "schedule_id": "no-such-schedule", "user_id": "no-such-user", "client_id": "no-such-key"}


def _path(template: str) -> str:
    return re.sub(r"{([^}]+)}", lambda m: PARAMS[m.group(1)], template)


@pytest.mark.parametrize("doc", ROUTES, ids=lambda d: f"{'/'.join(d.methods)} {d.path}")
def test_route_never_answers_500_to_bad_input(api, doc):
    for method in doc.methods:
        for token in (None, api.creds["developerToken"], api.creds["adminToken"]):
            for raw in BODIES:
                headers = {"Authorization": f"Bearer {token}"} if token else {}
                for ctype in ("application/json", "application/x-www-form-urlencoded"):
                    res = api.client.http.request(method, _path(doc.path) + "?v=1",
                                                  headers={**headers, "Content-Type": ctype}, body=raw)
                    assert res.status_code < 500, (method, doc.path, raw, res.body)
                    if res.status_code >= 400 and res.body:
                        data = json.loads(res.body)
                        assert {"errorCode", "errorMsg"} <= set(data) or {"code", "message"} <= set(data) \
                            or "error" in data, data


def test_unknown_function_on_every_uuid_route_is_404(api):
    for doc in ROUTES:
        if "{uuid}" not in doc.path or "rollback" in doc.path or doc.tag == "toolbelt":  # function tokens only
            continue
        for method in doc.methods:
            res = api.dev(method, _path(doc.path) + "?v=1", {"payload": {}, "description": "x"})
            assert res.status_code == 404, (method, doc.path, res.status_code, res.body)


def test_wrong_method_is_405_in_the_spec_shape(api):
    res = api.dev("PATCH", f"/api/account/{ACCOUNT}/lambdas?v=1")
    assert res.status_code == 405
    assert json.loads(res.body)["errorCode"] == "com.liveperson.faas.es.methodnotallowed"


def test_bad_account_id_is_400(api):
    res = api.dev("GET", "/api/account/bad%20id!/lambdas?v=1")
    assert res.status_code in (400, 403)


DEEP = [b"[" * 10_000 + b"]" * 10_000, b'{"a":' * 5_000 + b"1" + b"}" * 5_000, b'{"payload": 1e999}',
        b'{"payload": NaN}', b'{"payload": -Infinity}', b'{"payload": ' + b"9" * 5_000 + b"}",
        b'{"payload": ' + b"[" * 65 + b"]" * 65 + b"}"]


@pytest.mark.parametrize("doc", ROUTES, ids=lambda d: f"{'/'.join(d.methods)} {d.path}")
def test_route_answers_400_to_json_it_cannot_take(api, doc):
    # GIVEN bodies too deep for the parser or with numbers JSON cannot hold
    for method in doc.methods:
        if method == "GET":
            continue
        for token in (None, api.creds["developerToken"], api.creds["adminToken"]):
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            for raw in DEEP:
                # WHEN any route receives one, authenticated or not
                res = api.client.http.request(method, _path(doc.path) + "?v=1",
                                              headers={**headers, "Content-Type": "application/json"}, body=raw)
                # THEN the answer is never a 500 (routes that read no body may succeed), errors in the spec's shape
                assert res.status_code < 500, (method, doc.path, raw[:30], res.status_code, res.body)
                if res.status_code >= 400 and res.body:
                    data = json.loads(res.body)
                    assert {"errorCode", "errorMsg"} <= set(data) or {"code", "message"} <= set(data) \
                        or "error" in data, data


@pytest.mark.parametrize("path", ["/lambdas/{uuid}/invoke", "/lambdas", "/functions", "/login", "/secrets"])
@pytest.mark.parametrize("raw", DEEP)
def test_body_the_parser_cannot_take_is_400_with_the_spec_body(api, path, raw):
    res = api.client.http.request("POST", f"/api/account/{ACCOUNT}{path.format(uuid=PARAMS['uuid'])}?v=1",
                                  headers={"Authorization": f"Bearer {api.creds['adminToken']}",
                                           "Content-Type": "application/json"}, body=raw)
    assert res.status_code == 400, res.body
    assert json.loads(res.body)["errorCode"] == "com.liveperson.faas.es.badinput"


def test_event_invoke_with_an_unknown_event_id_is_404(api):
    res = api.client.http.request("POST", f"/api/account/{ACCOUNT}/events/no_such_event/invoke?v=1",
                                  headers={"Authorization": f"Bearer {api.creds['adminToken']}",
                                           "Content-Type": "application/json"}, body=b'{"payload": {}}')
    assert res.status_code == 404
    assert json.loads(res.body)["errorCode"] == "com.liveperson.faas.es.notfound"
