"""V1 dialect: the lambda object field by field, validation, 304 on unchanged push, errors in V1 shape."""

from __future__ import annotations

from tests.api.conftest import NODE_CODE, PY_CODE, body, v1_lambda
from tests.conftest import ACCOUNT

BASE = f"/api/account/{ACCOUNT}"
V1_FIELDS = {"uuid", "version", "name", "description", "samplePayload", "state", "runtime", "createdAt",
             "updatedAt", "createdBy", "updatedBy", "lastDeployment", "implementation"}


def create(api, name="fn1", **overrides):
    res = api.dev("POST", f"{BASE}/lambdas?userId=u1&v=1", v1_lambda(name, **overrides))
    assert res.status_code == 201, res.body
    return body(res)


def test_created_lambda_has_every_v1_field(api):
    fn = create(api, eventId="conversational_command")
    assert V1_FIELDS <= set(fn)
    assert fn["state"] == "Draft" and fn["eventId"] == "conversational_command"
    assert fn["runtime"]["name"] == "Node.js 20" and fn["lastDeployment"] == {}
    assert fn["implementation"]["code"] == NODE_CODE
    assert fn["createdBy"] == "developer"
    assert fn["createdAt"].endswith("Z")


def test_get_one_lambda_is_a_one_item_array(api):
    fn = create(api)
    res = api.dev("GET", f"{BASE}/lambdas/{fn['uuid']}?userId=u1&v=1")
    assert res.status_code == 200
    [found] = body(res)
    assert found["uuid"] == fn["uuid"]


def test_list_filters_by_name_state_and_event(api):
    create(api, "a1", eventId="conversational_command")
    create(api, "a2")
    names = lambda q: sorted(f["name"] for f in body(api.dev("GET", f"{BASE}/lambdas/?v=1&{q}")))
    assert names("name=a1") == ["a1"]
    assert names("eventId=conversational_command") == ["a1"]
    assert names("state=Draft&state=Productive") == ["a1", "a2"]
    assert names("state=Productive") == []
    assert names("eventId=&state=&externalSystem=&userId=") == ["a1", "a2"]


def test_unchanged_push_answers_304(api):
    fn = create(api)
    res = api.dev("PUT", f"{BASE}/lambdas/{fn['uuid']}?v=1", fn)
    assert res.status_code == 304


def test_changed_push_updates_code_and_version(api):
    fn = create(api)
    fn["implementation"]["code"] = NODE_CODE.replace("input.payload", "{ok: true}")
    res = api.dev("PUT", f"{BASE}/lambdas/{fn['uuid']}?v=1", fn)
    assert res.status_code == 200
    assert body(res)["version"] == fn["version"] + 1
    assert "ok: true" in body(res)["implementation"]["code"]


def test_stale_version_is_a_conflict(api):
    fn = create(api)
    fn["description"] = "new"
    assert api.dev("PUT", f"{BASE}/lambdas/{fn['uuid']}?v=1", fn).status_code == 200
    fn["description"] = "newer"
    res = api.dev("PUT", f"{BASE}/lambdas/{fn['uuid']}?v=1", fn)
    assert res.status_code == 409


def test_duplicate_name_is_a_conflict(api):
    create(api, "same")
    res = api.dev("POST", f"{BASE}/lambdas?v=1", v1_lambda("same"))
    assert res.status_code == 409
    assert body(res)["errorCode"] == "com.liveperson.faas.fm.validation.name-not-unique"


def test_same_name_on_two_accounts_is_fine(api):
    create(api, "shared")
    res = api.call("POST", f"/api/account/{api.other['accountId']}/lambdas?v=1", api.other["developerToken"],
                   v1_lambda("shared"))
    assert res.status_code == 201


def test_invalid_names_are_rejected(api):
    for name in ("", "has space", "x" * 51, "ünïcode", 42, None):
        res = api.dev("POST", f"{BASE}/lambdas?v=1", v1_lambda(name))
        assert res.status_code == 400, name
        assert "errorCode" in body(res)


def test_first_line_rule(api):
    res = api.dev("POST", f"{BASE}/lambdas?v=1", v1_lambda(
        "bad", implementation={"code": "// comment\nfunction lambda(input, callback) {}", "dependencies": [],
                               "environmentVariables": []}))
    assert res.status_code == 400
    assert "contract-error" in body(res)["errorCode"]


def test_python_runtime_uses_its_own_first_line(api):
    fn = create(api, "py1", runtime={"name": "Python 3.11"},
                implementation={"code": PY_CODE, "dependencies": [], "environmentVariables": []})
    assert fn["runtime"]["name"] == "Python 3.11"
    res = api.dev("POST", f"{BASE}/lambdas?v=1", v1_lambda("py2", runtime={"name": "Python 3.11"}))
    assert res.status_code == 400  # Node code under the Python runtime


def test_code_size_limit(api):
    code = NODE_CODE + "//" + "x" * 100_000
    res = api.dev("POST", f"{BASE}/lambdas?v=1", v1_lambda(
        "big", implementation={"code": code, "dependencies": [], "environmentVariables": []}))
    assert res.status_code == 400
    assert "100000" in body(res)["errorMsg"]


def test_description_limit(api):
    assert api.dev("POST", f"{BASE}/lambdas?v=1", v1_lambda("d", description="x" * 201)).status_code == 400


def test_environment_variable_limits(api):
    def env(pairs):
        return {"code": NODE_CODE, "dependencies": [], "environmentVariables": pairs}

    cases = [[{"key": "K" * 201, "value": "v"}], [{"key": "K", "value": "v" * 1025}],
             [{"key": f"K{i}", "value": "v"} for i in range(513)], [{"key": "1BAD", "value": "v"}],
             [{"key": "K", "value": 1}], [{"key": "FNGATE_X", "value": "v"}]]
    for i, pairs in enumerate(cases):
        assert api.dev("POST", f"{BASE}/lambdas?v=1", v1_lambda(f"e{i}", implementation=env(pairs))).status_code \
            == 400, pairs
    ok = create(api, "eok", implementation=env([{"key": "GREETING", "value": "hi"}]))
    assert ok["implementation"]["environmentVariables"] == [{"key": "GREETING", "value": "hi"}]


def test_event_is_fixed_after_creation(api):
    fn = create(api, eventId="conversational_command")
    fn["eventId"] = "bot_connectors_pre_hook"
    res = api.dev("PUT", f"{BASE}/lambdas/{fn['uuid']}?v=1", fn)
    assert res.status_code == 400
    assert "eventId" in body(res)["errorMsg"]


def test_unknown_event_is_rejected(api):
    assert api.dev("POST", f"{BASE}/lambdas?v=1", v1_lambda("ev", eventId="no_such_event")).status_code == 400


def test_unknown_uuid_is_404_missinglambda(api):
    res = api.dev("GET", f"{BASE}/lambdas/00000000-0000-0000-0000-000000000000?v=1")
    assert res.status_code == 404
    assert body(res)["errorCode"] == "com.liveperson.faas.es.missinglambda"


def test_delete_draft_then_it_is_gone(api):
    fn = create(api)
    assert api.dev("DELETE", f"{BASE}/lambdas/{fn['uuid']}?v=1").status_code == 200
    assert api.dev("GET", f"{BASE}/lambdas/{fn['uuid']}?v=1").status_code == 404
    create(api)  # the name is free again


def test_runtimes_list_node_first(api):
    res = body(api.dev("GET", f"{BASE}/runtimes?v=1"))
    assert res[0]["name"].startswith("Node.js") and {"uuid", "name", "baseImageName"} <= set(res[0])


def test_account_function_limit(api):
    for i in range(50):
        create(api, f"n{i}")
    res = api.dev("POST", f"{BASE}/lambdas?v=1", v1_lambda("n50"))
    assert res.status_code == 409
    assert "50" in body(res)["errorMsg"]


def test_events_list_every_event_with_a_template(api):
    events = body(api.dev("GET", f"{BASE}/events?v=1"))
    ids = {e["eventId"] for e in events}
    assert "bot_connectors_custom_integration" in ids and len(ids) == 15
    for e in events:
        assert {"eventId", "eventName", "description", "lambdaLimit"} <= set(e)
        for runtime in ("nodejs20", "python3.11"):
            tpl = body(api.dev("GET", f"{BASE}/events/{e['eventId']}/template?runtime={runtime}"))
            assert tpl["code"]
