"""Invocation replay: opt-in per function, inputs kept encrypted for 7 days, replayed as a test run and compared."""

from __future__ import annotations

import pytest

from chalicelib.storage.base import Query
from tests.api.conftest import body
from tests.api.scripted import BASE, deployed, scripted_api
from tests.conftest import ACCOUNT


@pytest.fixture
def api(make_services, clock):
    with scripted_api(make_services, clock) as built:
        yield built


def _invoke(api, uuid: str, payload: dict, rid: str) -> int:
    return api.dev("POST", f"{BASE}/lambdas/{uuid}/invoke?v=1", {"timestamp": 0, "headers": [{"key": "h",
                                                                                               "value": "v"}],
                                                                 "payload": payload},
                   headers={"X-Request-ID": rid}).status_code


def _keep(api, uuid: str, keep: bool = True) -> None:
    res = api.dev("PUT", f"{BASE}/functions/{uuid}/replay", {"keepInputs": keep})
    assert res.status_code == 200 and body(res)["keepInputs"] is keep


def test_inputs_are_kept_only_after_opting_in(api):
    uuid = deployed(api)
    _invoke(api, uuid, {"secret": "before"}, "r-before")
    assert body(api.dev("GET", f"{BASE}/functions/{uuid}/replay")) == {"keepInputs": False,
                                                                     "keptForSeconds": 7 * 86_400}
    _keep(api, uuid)
    _invoke(api, uuid, {"secret": "after"}, "r-after")
    kept = body(api.dev("GET", f"{BASE}/functions/{uuid}/invocations"))
    assert [(k["requestId"], k["status"]) for k in kept] == [("r-after", "SUCCEEDED")]


def test_kept_inputs_are_encrypted_at_rest(api):
    uuid = deployed(api)
    _keep(api, uuid)
    _invoke(api, uuid, {"card": "4111-1111-1111-1111"}, "r-1")
    stored = api.services.store.query(Query("invinput", f"{ACCOUNT}#{uuid}"))
    assert len(stored) == 1 and "4111" not in str(stored[0].data) and stored[0].data["sealed"]


def test_a_replay_reruns_the_input_and_compares_the_results(api):
    # GIVEN a kept invocation that succeeded and one that failed
    uuid = deployed(api)
    _keep(api, uuid)
    _invoke(api, uuid, {"logs": [["Info", "x"]]}, "ok-1")
    assert _invoke(api, uuid, {"fail": "nope"}, "bad-1") == 901
    # WHEN replayed, THEN the same outcome comes back, with the replay's logs
    res = body(api.dev("POST", f"{BASE}/functions/{uuid}/invocations/ok-1/replay"))
    assert res["same"] is True and res["original"] == {"status": "SUCCEEDED", "result": {"ok": True},
                                                       "errorCode": ""}
    assert res["replay"]["result"] == {"ok": True} and res["replay"]["logs"][0]["message"] == "x"
    failed = body(api.dev("POST", f"{BASE}/functions/{uuid}/invocations/bad-1/replay"))
    assert failed["same"] is True and failed["replay"]["status"] == "CODING_FAILURE"
    assert failed["original"]["errorCode"] == "com.liveperson.faas.handler.custom-failure"
    # AND the function got exactly the original input again
    assert api.executor.events[-1] == api.executor.events[1] == {"headers": [{"key": "h", "value": "v"}],
                                                                 "payload": {"fail": "nope"}}
    # AND replays are not kept themselves, and their logs are not stored
    assert len(body(api.dev("GET", f"{BASE}/functions/{uuid}/invocations"))) == 2
    api.services.recorder.flush()
    records = api.services.store.query(Query("invocation", f"{ACCOUNT}#{uuid}"))
    replays = [r.data for r in records if r.data["source"] == "replay"]
    assert len(replays) == 2 and all(r["logs"] == [] for r in replays)


def test_a_changed_result_is_reported_as_different(api):
    uuid = deployed(api)
    _keep(api, uuid)
    _invoke(api, uuid, {"logs": []}, "r-1")
    original = api.executor.invoke
    api.executor.invoke = lambda target, event, **kw: (_ for _ in ()).throw(
        __import__("chalicelib.domain.errors", fromlist=["FunctionFailed"]).FunctionFailed("changed", logs=[]))
    try:
        res = body(api.dev("POST", f"{BASE}/functions/{uuid}/invocations/r-1/replay"))
    finally:
        api.executor.invoke = original
    assert res["same"] is False and res["replay"]["status"] == "CODING_FAILURE"


def test_kept_inputs_expire_after_7_days(api, clock):
    uuid = deployed(api)
    _keep(api, uuid)
    _invoke(api, uuid, {}, "r-1")
    clock.advance(7 * 86_400 + 1)
    assert body(api.dev("GET", f"{BASE}/functions/{uuid}/invocations")) == []
    res = api.dev("POST", f"{BASE}/functions/{uuid}/invocations/r-1/replay")
    assert res.status_code == 404
    assert api.services.purger.purge_once() >= 1
    assert api.services.store.query(Query("invinput", f"{ACCOUNT}#{uuid}")) == []


@pytest.mark.parametrize(("role", "configure", "replay"), [
    ("developerToken", 200, 200), ("invocationToken", 403, 200)])
def test_replay_permissions_follow_the_lambda_rows(api, role, configure, replay):
    uuid = deployed(api)
    _keep(api, uuid)
    _invoke(api, uuid, {}, "r-1")
    token = api.creds[role]
    assert api.call("PUT", f"{BASE}/functions/{uuid}/replay", token, {"keepInputs": True}).status_code == configure
    assert api.call("POST", f"{BASE}/functions/{uuid}/invocations/r-1/replay", token).status_code == replay


def test_bad_setting_and_unknown_invocation(api):
    uuid = deployed(api)
    assert api.dev("PUT", f"{BASE}/functions/{uuid}/replay", {"keepInputs": "yes"}).status_code == 400
    assert api.dev("POST", f"{BASE}/functions/{uuid}/invocations/nope/replay").status_code == 404
