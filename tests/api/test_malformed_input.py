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
          "bot_id": "no-such-bot", "folder": "vendor", "package": "no-such-package", "name": "no-such-file.js"}


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
        if "{uuid}" not in doc.path or "rollback" in doc.path:
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
