"""The invocation gateway through the routes: dialects, auth kinds, error codes, events, records, limits."""

from __future__ import annotations

import json

import pytest

from chalicelib.services.functions import FunctionChanges
from chalicelib.services.limiter import AccountLimiter
from chalicelib.storage.base import Query
from tests.api.conftest import body, v1_lambda
from tests.conftest import ACCOUNT

BASE = f"/api/account/{ACCOUNT}"


def deployed(api, name="inv", **overrides):
    fn = body(api.dev("POST", f"{BASE}/lambdas?v=1", v1_lambda(name, **overrides)))
    assert api.dev("POST", f"{BASE}/deployments/{fn['uuid']}").status_code == 200
    return fn


def app_token(api):
    return api.services.identity.app_token(ACCOUNT, api.creds["clientId"], api.creds["clientSecret"])["access_token"]


def test_v1_invoke_returns_the_raw_result(api):
    fn = deployed(api)
    res = api.call("POST", f"{BASE}/lambdas/{fn['uuid']}/invoke?v=1&skillId=&externalSystem=sys", app_token(api),
                   {"timestamp": 1, "headers": [{"key": "a", "value": "b"}], "payload": {"x": 1}})
    assert res.status_code == 200
    assert body(res) == {"echo": {"x": 1}, "code_version": 1}
    _target, event = api.executor.invocations[-1]
    assert event == {"headers": [{"key": "a", "value": "b"}], "payload": {"x": 1}}  # timestamp removed


def test_v2_invoke_with_event_source_header(api):
    fn = deployed(api)
    res = api.call("POST", f"{BASE}/lambdas/{fn['uuid']}/invoke", app_token(api), {"payload": "hi"},
                   headers={"LP-EventSource": "v2sys"})
    assert res.status_code == 200 and body(res)["echo"] == "hi"


def test_string_result_is_sent_as_a_json_string(api, monkeypatch):
    fn = deployed(api)
    res = api.call("POST", f"{BASE}/lambdas/{fn['uuid']}/invoke?v=1", app_token(api), {"payload": "Hello World"})
    assert json.loads(res.body)["echo"] == "Hello World"
    assert res.headers["Content-Type"] == "application/json"


def test_user_bearer_with_user_id_gets_result_and_logs(api):
    fn = deployed(api)
    res = api.call("POST", f"{BASE}/lambdas/{fn['uuid']}/invoke?userId=u1&v=1", api.creds["developerToken"],
                   {"timestamp": 0, "headers": [], "payload": 5})
    data = body(res)
    assert set(data) == {"result", "logs"} and data["logs"][0]["level"] == "Info"


def test_function_failure_is_901_in_both_dialects(api):
    fn = deployed(api)
    res = api.call("POST", f"{BASE}/lambdas/{fn['uuid']}/invoke?v=1", app_token(api), {"payload": {"fail": "boom"}})
    assert res.status_code == 901
    data = body(res)
    assert data["errorCode"] == "com.liveperson.faas.handler.custom-failure" and data["errorMsg"] == "boom"
    assert data["errorLogs"][0]["level"] == "Error"
    res = api.call("POST", f"{BASE}/lambdas/{fn['uuid']}/invoke", app_token(api), {"payload": {"fail": "boom"}},
                   headers={"LP-EventSource": "v2"})
    assert body(res)["code"] == "com.customer.faas.function.threw-error"


def test_unknown_function_is_404_with_the_message_livepersons_test_expects(api):
    res = api.call("POST", f"{BASE}/lambdas/nope/invoke?v=1", app_token(api), {"payload": {}})
    assert res.status_code == 404
    assert body(res) == {"errorCode": "com.liveperson.faas.es.missinglambda",
                         "errorMsg": f"There is no nope deployed on {ACCOUNT}"}


def test_not_deployed_function_is_404_notdeployed(api):
    fn = body(api.dev("POST", f"{BASE}/lambdas?v=1", v1_lambda("draft")))
    res = api.call("POST", f"{BASE}/lambdas/{fn['uuid']}/invoke?v=1", app_token(api), {"payload": {}})
    assert res.status_code == 404 and body(res)["errorCode"] == "com.liveperson.faas.es.notdeployed"
    res = api.call("POST", f"{BASE}/lambdas/{fn['uuid']}/invoke", app_token(api), {"payload": {}},
                   headers={"LP-EventSource": "v2"})
    assert body(res)["code"] == "com.liveperson.faas.function.not-found"


@pytest.mark.parametrize("raw", [b"", b"{", b"[]", b'"x"', b'{"headers": []}', b'{"payload": 1, "headers": "x"}',
                                 b'{"payload": 1, "headers": [1]}'])
def test_bad_bodies_are_400_badinput(api, raw):
    fn = deployed(api)
    res = api.call("POST", f"{BASE}/lambdas/{fn['uuid']}/invoke?v=1", app_token(api), raw=raw)
    assert res.status_code == 400 and body(res)["errorCode"] == "com.liveperson.faas.es.badinput"


def test_every_auth_kind(api):
    fn = deployed(api)
    path = f"{BASE}/lambdas/{fn['uuid']}/invoke?v=1"
    for token, status in ((app_token(api), 200), (api.creds["invocationToken"], 200),
                          (api.creds["developerToken"], 200), (None, 401), ("garbage", 401),
                          (api.other["invocationToken"], 403)):
        assert api.call("POST", path, token, {"payload": {}}).status_code == status, token


def test_event_invoke_runs_every_productive_bound_function(api):
    a = deployed(api, "ev-a", eventId="conversational_command")
    deployed(api, "ev-b", eventId="conversational_command", skills=["42"])
    body(api.dev("POST", f"{BASE}/lambdas?v=1", v1_lambda("ev-draft", eventId="conversational_command")))
    res = api.call("POST", f"{BASE}/events/conversational_command/invoke?v=1&skillId=&externalSystem=x",
                   app_token(api), {"payload": 1})
    assert res.status_code == 200 and len(body(res)) == 2
    only = body(api.call("POST", f"{BASE}/events/conversational_command/invoke?v=1&skillId=7", app_token(api),
                         {"payload": 1}))
    assert len(only) == 1 and api.executor.invocations[-1][0].function_uuid == a["uuid"]
    none = api.call("POST", f"{BASE}/events/surveybot_messaging_survey_ended/invoke?v=1", app_token(api),
                    {"payload": 1})
    assert body(none) == []


def test_is_implemented(api):
    deployed(api, "impl", eventId="bot_connectors_pre_hook")
    path = f"{BASE}/events/bot_connectors_pre_hook/isImplemented?v=1&skillId=&externalSystem=Unknown"
    assert body(api.call("GET", path, app_token(api))) == {"implemented": True}
    path = f"{BASE}/events/bot_connectors_post_hook/isImplemented"
    assert body(api.call("GET", path, app_token(api))) == {"implemented": False}


def test_list_functions_with_all_five_v1_keys(api):
    deployed(api, "listed")
    res = api.call("GET", f"{BASE}/lambdas/?eventId=&state=Productive&state=Modified&externalSystem=&userId=&v=1",
                   app_token(api))
    assert [f["name"] for f in body(res)] == ["listed"]


def test_request_id_is_echoed_or_generated_and_recorded(api, clock):
    fn = deployed(api)
    res = api.call("POST", f"{BASE}/lambdas/{fn['uuid']}/invoke?v=1&externalSystem=rec", app_token(api),
                   {"payload": {}}, headers={"X-Request-ID": "req-123"})
    assert res.headers["X-Request-ID"] == "req-123"
    clock.advance(0.01)
    res = api.call("POST", f"{BASE}/lambdas/{fn['uuid']}/invoke?v=1", app_token(api), {"payload": {"fail": "x"}})
    generated = res.headers["X-Request-ID"]
    assert len(generated) == 36
    api.services.recorder.flush()
    records = api.services.store.query(Query("invocation", f"{ACCOUNT}#{fn['uuid']}"))
    assert [r.data["status"] for r in records] == ["SUCCEEDED", "CODING_FAILURE"]
    first = records[0].data
    assert first["request_id"] == "req-123" and first["source"] == "rec" and first["manifest_version"] == 1
    assert records[1].data["error_code"] == "com.liveperson.faas.handler.custom-failure"
    assert records[1].data["request_id"] == generated
    counts = api.services.recorder.stats.counts(ACCOUNT, 0, 2**42)
    assert counts["SUCCEEDED"] == 1 and counts["CODING_FAILURE"] == 1


def test_account_rate_limit_answers_429_with_retry_after(make_services):
    from chalice.test import Client

    from app import app
    from chalicelib.services.container import use_services

    svc = make_services(account_rate_per_s=2.0)
    creds = svc.identity.bootstrap(ACCOUNT)
    developer = svc.identity.authenticate(ACCOUNT, f"Bearer {creds['developerToken']}")
    fn = svc.functions.create(developer, FunctionChanges(name="limited"))
    svc.deployments.deploy(developer, fn.uuid)
    token = svc.identity.app_token(ACCOUNT, creds["clientId"], creds["clientSecret"])["access_token"]
    with use_services(svc), Client(app) as client:
        statuses = []
        for _ in range(4):
            res = client.http.post(f"{BASE}/lambdas/{fn.uuid}/invoke?v=1", body=b'{"payload": 1}',
                                   headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
            statuses.append(res.status_code)
            if res.status_code == 429:
                assert int(res.headers["Retry-After"]) >= 1
    assert statuses[:2] == [200, 200] and 429 in statuses


def test_limiter_caps_in_flight_calls():
    limiter = AccountLimiter(rate_per_s=1000, burst=1000, max_in_flight=1)
    with limiter.admit("a"):
        with pytest.raises(Exception) as exc, limiter.admit("a"):
            pass
        assert exc.value.status == 429
        with limiter.admit("b"):
            pass
    with limiter.admit("a"):
        pass
