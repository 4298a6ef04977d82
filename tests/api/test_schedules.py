"""Schedules through the routes: both dialects' shapes, validation (400 naming the field), limits, permissions,
run-now and history, and what undeploying or deleting a function does to its schedules."""

from __future__ import annotations

import pytest

from chalicelib.domain.permissions import Role
from chalicelib.storage.base import Query
from tests.api.conftest import body, v1_lambda
from tests.conftest import ACCOUNT

BASE = f"/api/account/{ACCOUNT}"
V1_KEYS = {"uuid", "lambdaUUID", "cronExpression", "isActive", "didLastExecutionFail", "lastExecution",
           "nextExecution", "createdBy"}
V2_KEYS = {"id", "functionUuid", "cronExpression", "isActive", "description", "timeZone", "invocationBody",
           "nextExecution", "lastExecution", "didLastExecutionFail"}


def deployed(api, name="sched1"):
    fn = body(api.dev("POST", f"{BASE}/lambdas?v=1", v1_lambda(name)))
    assert api.dev("POST", f"{BASE}/deployments/{fn['uuid']}?v=1").status_code == 200
    return fn["uuid"]


def lpf_create(api, uuid, cron="*/5 * * * *"):
    """Exactly what `lpf create:schedule` sends."""
    return api.dev("POST", f"{BASE}/schedules?userId=u1&v=1",
                   {"timestamp": 0, "lambdaUUID": uuid, "cronExpression": cron, "isActive": True, "uuid": ""})


def v2_create(api, uuid, **fields):
    return api.dev("POST", f"{BASE}/schedules?userId=u1", {"timestamp": 0, "functionUuid": uuid,
                                                          "cronExpression": "0 9 * * 1-5", **fields})


def test_v1_create_answers_the_v1_schedule_object(api):
    uuid = deployed(api)
    res = lpf_create(api, uuid)
    assert res.status_code == 201, res.body
    got = body(res)
    assert set(got) == V1_KEYS
    assert got["lambdaUUID"] == uuid and got["cronExpression"] == "*/5 * * * *" and got["isActive"] is True
    assert got["didLastExecutionFail"] is False and got["lastExecution"] is None
    assert got["nextExecution"].endswith("Z") and got["createdBy"]
    listed = body(api.dev("GET", f"{BASE}/schedules?v=1"))
    assert listed == [got]


def test_v2_create_answers_an_lpschedule_with_its_time_zone_and_body(api):
    uuid = deployed(api)
    res = v2_create(api, uuid, description="weekday mornings", timeZone="Europe/Berlin",
                    invocationBody={"headers": {"x-a": "1"}, "payload": {"k": "v"}})
    assert res.status_code == 201, res.body
    got = body(res)
    assert set(got) == V2_KEYS
    assert got["timeZone"] == "Europe/Berlin" and got["description"] == "weekday mornings"
    assert got["invocationBody"] == {"headers": {"x-a": "1"}, "payload": {"k": "v"}}
    assert body(api.dev("GET", f"{BASE}/schedules/{got['id']}")) == got
    # the same schedule in the V1 dialect
    assert body(api.dev("GET", f"{BASE}/schedules/{got['id']}?v=1"))["uuid"] == got["id"]


def test_time_zone_defaults_to_utc(api):
    got = body(v2_create(api, deployed(api)))
    assert got["timeZone"] == "Etc/UTC"


VALIDATION = [  # body fields → the field the 400 names
    ({"cronExpression": "* * * * * *"}, "cronExpression"),  # seconds: more often than once a minute
    ({"cronExpression": "61 * * * *"}, "cronExpression"),
    ({"cronExpression": "* * *"}, "cronExpression"),
    ({"cronExpression": "0 0 1 * MON"}, "cronExpression"),  # both day fields
    ({"cronExpression": "0 0 L * *"}, "cronExpression"),
    ({"cronExpression": 5}, "cronExpression"),
    ({"timeZone": "Mars/Olympus"}, "timeZone"),
    ({"timeZone": "CEST+2"}, "timeZone"),
    ({"invocationBody": {"payload": "x" * 8001}}, "invocationBody.payload"),
    ({"invocationBody": {"payload": {"k": "x" * 7995}}}, "invocationBody.payload"),
    ({"invocationBody": {"headers": ["x"]}}, "invocationBody.headers"),
    ({"description": "d" * 201}, "description"),
    ({"isActive": "yes"}, "isActive"),
]


@pytest.mark.parametrize(("fields", "named"), VALIDATION)
def test_validation_names_the_field_in_either_dialect(api, fields, named):
    uuid = deployed(api)
    res = v2_create(api, uuid, **fields)
    assert res.status_code == 400, res.body
    assert body(res)["code"] == "com.liveperson.faas.schedule.validation"
    assert body(res)["message"].startswith(f"{named}: ")
    res = api.dev("POST", f"{BASE}/schedules?v=1", {"lambdaUUID": uuid, "cronExpression": "* * * * *", **fields})
    assert res.status_code == 400 and body(res)["errorMsg"].startswith(f"{named}: ")


def test_a_payload_of_exactly_8000_characters_is_accepted(api):
    res = v2_create(api, deployed(api), invocationBody={"payload": "x" * 8000})
    assert res.status_code == 201


def test_a_draft_function_cannot_be_scheduled(api):
    fn = body(api.dev("POST", f"{BASE}/lambdas?v=1", v1_lambda("draft1")))
    res = lpf_create(api, fn["uuid"])
    assert res.status_code == 400
    assert body(res)["errorMsg"] == ("functionUuid: function draft1 is in state Draft: only deployed functions "
                                     "(Productive or Modified) can be scheduled")


def test_an_unknown_function_is_404(api):
    res = v2_create(api, "00000000-0000-4000-8000-000000000000")
    assert res.status_code == 404 and body(res)["code"] == "com.liveperson.faas.function.not-found"


def test_v1_allows_ten_scheduled_functions(api):
    uuids = [deployed(api, f"f{i}") for i in range(11)]
    for uuid in uuids[:10]:
        assert lpf_create(api, uuid).status_code == 201
    assert lpf_create(api, uuids[0], "0 * * * *").status_code == 201  # a second schedule of a scheduled function
    res = lpf_create(api, uuids[10])
    assert res.status_code == 409 and body(res)["errorMsg"] == "at most 10 functions can be scheduled"


def test_v2_allows_fifty_schedules_per_account(api):
    uuid = deployed(api)
    for minute in range(50):
        assert v2_create(api, uuid, cronExpression=f"{minute} * * * *").status_code == 201
    res = v2_create(api, uuid)
    assert res.status_code == 409 and body(res)["message"] == "an account can hold at most 50 schedules"


def test_update_disable_enable_and_delete(api):
    created = body(v2_create(api, deployed(api)))
    path = f"{BASE}/schedules/{created['id']}"
    off = body(api.dev("PUT", path, {"isActive": False}))
    assert off["isActive"] is False and off["nextExecution"] is None
    on = body(api.dev("PUT", path, {"isActive": True, "cronExpression": "30 6 * * *", "timeZone": "Asia/Tokyo"}))
    assert on["isActive"] is True and on["cronExpression"] == "30 6 * * *" and on["timeZone"] == "Asia/Tokyo"
    assert on["nextExecution"].endswith("21:30:00.000Z")  # 06:30 in Tokyo
    assert api.dev("DELETE", path).status_code == 200
    assert api.dev("GET", path).status_code == 404
    assert body(api.dev("GET", path))["code"] == "com.liveperson.faas.schedule.not-found"


def test_run_now_invokes_through_the_invocation_path_and_is_in_the_history(api):
    uuid = deployed(api)
    created = body(v2_create(api, uuid, invocationBody={"headers": {"h": "v"}, "payload": {"n": 1}}))
    res = api.dev("POST", f"{BASE}/schedules/{created['id']}/run")
    assert res.status_code == 202 and body(res)["trigger"] == "manual"
    (target, event), = api.executor.invocations
    assert target.function_uuid == uuid and event == {"headers": [{"key": "h", "value": "v"}], "payload": {"n": 1}}
    (run,) = body(api.dev("GET", f"{BASE}/schedules/{created['id']}/runs"))
    assert run["status"] == "SUCCEEDED" and run["requestId"] and run["errorCode"] is None
    got = body(api.dev("GET", f"{BASE}/schedules/{created['id']}"))
    assert got["lastExecution"] and got["didLastExecutionFail"] is False
    api.services.recorder.flush()
    (record,) = api.services.store.query(Query("invocation", f"{ACCOUNT}#{uuid}"))
    assert record.data["source"] == "scheduler" and record.data["request_id"] == run["requestId"]


def test_a_failing_run_sets_did_last_execution_fail_with_the_spec_code(api):
    created = body(v2_create(api, deployed(api), invocationBody={"payload": {"fail": "boom"}}))
    api.dev("POST", f"{BASE}/schedules/{created['id']}/run")
    got = body(api.dev("GET", f"{BASE}/schedules/{created['id']}?v=1"))
    assert got["didLastExecutionFail"] is True
    (run,) = body(api.dev("GET", f"{BASE}/schedules/{created['id']}/runs?v=1"))
    assert run["status"] == "CODING_FAILURE" and run["errorCode"] == "com.liveperson.faas.handler.custom-failure"
    (run,) = body(api.dev("GET", f"{BASE}/schedules/{created['id']}/runs"))
    assert run["errorCode"] == "com.customer.faas.function.threw-error"


def test_undeploying_a_function_deletes_its_schedules(api):
    uuid, other = deployed(api, "a1"), deployed(api, "a2")
    lpf_create(api, uuid), lpf_create(api, uuid, "0 * * * *"), lpf_create(api, other)
    assert api.dev("DELETE", f"{BASE}/deployments/{uuid}?v=1").status_code == 200
    assert [s["lambdaUUID"] for s in body(api.dev("GET", f"{BASE}/schedules?v=1"))] == [other]


def test_deleting_a_function_deletes_its_schedules(api):
    uuid = deployed(api)
    lpf_create(api, uuid)
    api.dev("DELETE", f"{BASE}/deployments/{uuid}?v=1")
    assert api.dev("DELETE", f"{BASE}/lambdas/{uuid}?v=1").status_code in (200, 204)
    assert body(api.dev("GET", f"{BASE}/schedules?v=1")) == []


ROUTES = {  # route → allowed for (admin, developer, invocation); management-api.md §8 schedule rows
    "list": (True, True, True), "get": (True, True, True), "runs": (True, True, True),
    "create": (True, True, False), "update": (True, True, False), "delete": (True, True, False),
    "run": (True, True, False),
}


@pytest.mark.parametrize("route", sorted(ROUTES))
def test_schedule_routes_follow_the_permission_matrix(api, route):
    identity = api.services.identity
    uuid = deployed(api)
    for role, allowed in zip((Role.ADMIN, Role.DEVELOPER, Role.INVOCATION), ROUTES[route], strict=True):
        path = f"{BASE}/schedules/{body(v2_create(api, uuid))['id']}"  # one each: a delete may have taken it
        method, url, payload = {
            "list": ("GET", f"{BASE}/schedules", None), "get": ("GET", path, None),
            "runs": ("GET", path + "/runs", None), "run": ("POST", path + "/run", None),
            "create": ("POST", f"{BASE}/schedules", {"functionUuid": uuid, "cronExpression": "1 * * * *"}),
            "update": ("PUT", path, {"description": "x"}), "delete": ("DELETE", path, None)}[route]
        token = identity.user_token(identity.create_user(ACCOUNT, f"only-{role.value}-{route}", None, [role]))
        res = api.call(method, url, token, payload)
        if allowed:
            assert res.status_code in (200, 201, 202), (route, role, res.body)
        else:
            assert res.status_code == 403, (route, role, res.body)
            assert body(res)["code"] == "com.liveperson.faas.evg.forbidden"
    assert api.call("GET", f"{BASE}/schedules", None).status_code == 401
    assert api.call("GET", f"/api/account/{'le87654321'}/schedules", api.creds["developerToken"]).status_code in (
        401, 403)


def test_both_dialects_are_in_openapi(api):
    paths = body(api.call("GET", "/openapi.json"))["paths"]
    create = paths["/api/account/{account_id}/schedules"]["post"]
    assert "lambdaUUID" in create["requestBody"]["description"]
    assert "functionUuid" in create["requestBody"]["description"]
    assert {"get", "put", "delete"} <= set(paths["/api/account/{account_id}/schedules/{schedule_id}"])
    assert "/api/account/{account_id}/schedules/{schedule_id}/runs" in paths


def test_putting_back_what_get_answered_changes_nothing_in_either_dialect(api):
    created = body(v2_create(api, deployed(api), timeZone="Europe/Berlin", description="d",
                             invocationBody={"headers": {"a": "b"}, "payload": [1, 2]}))
    path = f"{BASE}/schedules/{created['id']}"
    assert body(api.dev("PUT", path, created)) == created
    v1 = body(api.dev("GET", path + "?v=1"))
    assert body(api.dev("PUT", path + "?v=1", {"timestamp": 0, **v1})) == v1
    assert body(api.dev("GET", path)) == created


def test_the_preview_gives_the_next_five_runs_in_the_time_zone_as_the_scheduler_computes_them(api, clock):
    from chalicelib.domain import schedules as rules

    res = api.dev("POST", f"{BASE}/schedules/preview", {"cronExpression": "30 9 * * mon-fri",
                                                       "timeZone": "America/New_York"})
    assert res.status_code == 200, res.body
    got = body(res)
    assert got["cronExpression"] == "30 9 * * MON-FRI" and got["timeZone"] == "America/New_York"
    expected, at = [], clock.now()
    for _ in range(5):
        at = rules.next_due("30 9 * * MON-FRI", "America/New_York", at)
        expected.append(rules.iso(at))
    assert got["nextRuns"] == expected
    from datetime import datetime
    from zoneinfo import ZoneInfo
    for text in got["nextRuns"]:
        local = datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(ZoneInfo("America/New_York"))
        assert (local.hour, local.minute) == (9, 30) and local.weekday() < 5
    assert got["awsCron"].startswith("cron(")


@pytest.mark.parametrize(("payload", "named"), [({"cronExpression": "* * *"}, "cronExpression"),
                                                ({"cronExpression": "* * * * *", "timeZone": "Mars/Base"}, "timeZone"),
                                                ({"cronExpression": "* * * * *", "count": 0}, "count"),
                                                ({"cronExpression": "* * * * *", "count": 21}, "count")])
def test_the_preview_names_what_is_wrong(api, payload, named):
    res = api.dev("POST", f"{BASE}/schedules/preview", payload)
    assert res.status_code == 400
    assert named in body(res)["message"]


def test_the_preview_counts_up_to_twenty_runs(api):
    got = body(api.call("POST", f"{BASE}/schedules/preview", api.creds["invocationToken"],
                        {"cronExpression": "*/10 * * * *", "count": 20}))
    assert len(got["nextRuns"]) == 20 and got["timeZone"] == "Etc/UTC"
