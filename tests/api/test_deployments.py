"""Deploy, redeploy, undeploy, build errors and rollback, through the routes (the executor is a fake here)."""

from __future__ import annotations

from tests.api.conftest import body, v1_lambda
from tests.conftest import ACCOUNT

BASE = f"/api/account/{ACCOUNT}"


def new(api, name="dep1"):
    return body(api.dev("POST", f"{BASE}/lambdas?v=1", v1_lambda(name)))


def state(api, uuid):
    return body(api.dev("GET", f"{BASE}/lambdas/{uuid}?v=1"))[0]["state"]


def edit(api, uuid, marker):
    res = api.dev("PUT", f"{BASE}/functions/{uuid}/manifest",
                  {"version": -1, "code": f"function lambda(input, callback) {{\n callback(null, '{marker}');\n}}"})
    assert res.status_code == 200, res.body


def test_deploy_answers_message_without_uuid_and_becomes_productive(api):
    fn = new(api)
    res = api.dev("POST", f"{BASE}/deployments/{fn['uuid']}?userId=u1&v=1")
    assert res.status_code == 200 and body(res) == {"message": "Successfully started deployment"}
    assert state(api, fn["uuid"]) == "Productive"
    last = body(api.dev("GET", f"{BASE}/lambdas/{fn['uuid']}?v=1"))[0]["lastDeployment"]
    assert last["deploymentState"] == "successful" and last["lambdaUUID"] == fn["uuid"]


def test_edit_after_deploy_is_modified_and_redeploy_makes_it_productive(api):
    fn = new(api)
    api.dev("POST", f"{BASE}/deployments/{fn['uuid']}")
    edit(api, fn["uuid"], "v2")
    assert state(api, fn["uuid"]) == "Modified"
    assert api.dev("PATCH", f"{BASE}/deployments/{fn['uuid']}").status_code == 200
    assert state(api, fn["uuid"]) == "Productive"


def test_undeploy_returns_to_draft_and_stops_serving(api):
    fn = new(api)
    api.dev("POST", f"{BASE}/deployments/{fn['uuid']}")
    res = api.dev("DELETE", f"{BASE}/deployments/{fn['uuid']}?v=1")
    assert body(res) == {"message": "Successfully started undeployment"}
    assert state(api, fn["uuid"]) == "Draft"
    assert fn["uuid"] in api.executor.undeployed
    inv = api.call("POST", f"{BASE}/lambdas/{fn['uuid']}/invoke?v=1", api.creds["invocationToken"],
                   {"payload": {}})
    assert body(inv)["errorCode"] == "com.liveperson.faas.es.notdeployed"


def test_undeploying_a_draft_is_a_conflict(api):
    fn = new(api)
    res = api.dev("DELETE", f"{BASE}/deployments/{fn['uuid']}?v=1")
    assert res.status_code == 409


def test_deployed_function_cannot_be_deleted(api):
    fn = new(api)
    api.dev("POST", f"{BASE}/deployments/{fn['uuid']}")
    assert api.dev("DELETE", f"{BASE}/lambdas/{fn['uuid']}?v=1").status_code == 409


def test_build_error_is_recorded_with_its_cause(api):
    fn = new(api)
    api.executor.fail_build = "SyntaxError: Unexpected token"
    api.dev("POST", f"{BASE}/deployments/{fn['uuid']}")
    got = body(api.dev("GET", f"{BASE}/lambdas/{fn['uuid']}?v=1"))[0]
    assert got["state"] == "Build Error"
    assert "SyntaxError" in got["lastDeployment"]["deploymentError"]["errorMsg"]
    api.executor.fail_build = None
    edit(api, fn["uuid"], "fixed")
    assert state(api, fn["uuid"]) == "Draft"
    api.dev("POST", f"{BASE}/deployments/{fn['uuid']}")
    assert state(api, fn["uuid"]) == "Productive"


def test_deploy_error_state(api):
    fn = new(api)
    api.executor.fail_deploy = "no capacity"
    api.dev("POST", f"{BASE}/deployments/{fn['uuid']}")
    assert state(api, fn["uuid"]) == "Deploy Error"


def test_rollback_restores_code_and_state(api):
    fn = new(api)
    api.dev("POST", f"{BASE}/deployments/{fn['uuid']}")
    edit(api, fn["uuid"], "second")
    api.dev("PATCH", f"{BASE}/deployments/{fn['uuid']}")
    edit(api, fn["uuid"], "third")
    history = body(api.dev("GET", f"{BASE}/functions/{fn['uuid']}/deployments"))
    assert [d["id"] for d in history] == [2, 1]
    res = api.dev("POST", f"{BASE}/functions/{fn['uuid']}/deployments/1/rollback")
    assert res.status_code == 200, res.body
    got = body(api.dev("GET", f"{BASE}/lambdas/{fn['uuid']}?v=1"))[0]
    assert got["state"] == "Productive"
    assert got["implementation"]["code"] == fn["implementation"]["code"]
    inv = api.call("POST", f"{BASE}/lambdas/{fn['uuid']}/invoke?v=1", api.creds["invocationToken"], {"payload": 1})
    assert inv.status_code == 200
    assert api.executor.invocations[-1][0].code == fn["implementation"]["code"]


def test_twenty_deployments_are_kept(api):
    fn = new(api)
    for i in range(23):
        edit(api, fn["uuid"], f"v{i}")
        api.dev("POST", f"{BASE}/deployments/{fn['uuid']}")
    history = body(api.dev("GET", f"{BASE}/functions/{fn['uuid']}/deployments"))
    assert len(history) == 20 and history[0]["id"] == 23


def test_rollback_of_unknown_deployment_is_404(api):
    fn = new(api)
    assert api.dev("POST", f"{BASE}/functions/{fn['uuid']}/deployments/9/rollback").status_code == 404
    assert api.dev("POST", f"{BASE}/functions/{fn['uuid']}/deployments/x/rollback").status_code == 400


def test_deployments_list_and_count(api):
    a, _ = new(api, "a"), new(api, "b")
    api.dev("POST", f"{BASE}/deployments/{a['uuid']}")
    listed = body(api.dev("GET", f"{BASE}/deployments"))
    assert [d["functionUuid"] for d in listed] == [a["uuid"]]
    assert body(api.dev("GET", f"{BASE}/deployments/count")) == 1
