"""V2 dialect: meta + manifest + versions, the unchanged code, errors in the V2 shape."""

from __future__ import annotations

from tests.api.conftest import body
from tests.conftest import ACCOUNT

BASE = f"/api/account/{ACCOUNT}/functions"
V2_CODE = "async function lambda(input) {\n  return input.payload;\n}\n"


def create(api, name="f1", **extra):
    res = api.dev("POST", f"{BASE}?userId=u1", {"timestamp": 0, "name": name, "description": "d", **extra})
    assert res.status_code == 201, res.body
    return body(res)


def test_create_returns_meta_and_manifest(api):
    fn = create(api, skills=["12", 34])
    assert {"uuid", "name", "description", "state", "skills", "size", "isCompV1", "createdAt", "createdBy",
            "updatedAt", "updatedBy", "manifest"} <= set(fn)
    assert fn["skills"] == ["12", "34"] and fn["state"] == "Draft"
    assert {"id", "version", "runtime", "spec", "code", "customDependencies", "environment"} <= set(fn["manifest"])
    assert fn["manifest"]["code"].startswith("function lambda(input, callback) {")  # the no-event template


def test_manifest_update_adds_a_version(api):
    fn = create(api)
    res = api.dev("PUT", f"{BASE}/{fn['uuid']}/manifest?userId=u1",
                  {"timestamp": 0, "version": fn["manifest"]["version"], "id": fn["manifest"]["id"],
                   "code": V2_CODE, "environment": {"A": "1"}})
    assert res.status_code == 200
    history = body(api.dev("GET", f"{BASE}/{fn['uuid']}"))
    assert [v["version"] for v in history["versions"]] == [2, 1]
    assert history["manifest"]["environment"] == {"A": "1"}


def test_unchanged_manifest_has_the_unchanged_code(api):
    fn = create(api)
    res = api.dev("PUT", f"{BASE}/{fn['uuid']}/manifest", {"version": -1, "code": fn["manifest"]["code"]})
    assert res.status_code == 409
    assert body(res)["code"] == "com.liveperson.faas.function.unchanged"


def test_unchanged_meta_has_the_unchanged_code(api):
    fn = create(api)
    res = api.dev("PUT", f"{BASE}/{fn['uuid']}", {"timestamp": 0, "description": "d", "skills": []})
    assert body(res)["code"] == "com.liveperson.faas.function.unchanged"


def test_meta_update_returns_manifest_id(api):
    fn = create(api)
    res = api.dev("PUT", f"{BASE}/{fn['uuid']}", {"timestamp": 0, "description": "new", "skills": ["1"]})
    assert res.status_code == 200 and body(res)["manifest"]["id"]


def test_wrong_interface_has_the_v2_validation_code(api):
    fn = create(api)
    res = api.dev("PUT", f"{BASE}/{fn['uuid']}/manifest", {"version": -1, "code": "module.exports = 1"})
    assert res.status_code == 400
    assert body(res)["code"] == "com.liveperson.faas.fm.validation.interface-wrong"


def test_stale_manifest_version_is_a_conflict(api):
    fn = create(api)
    assert api.dev("PUT", f"{BASE}/{fn['uuid']}/manifest", {"version": 1, "code": V2_CODE}).status_code == 200
    res = api.dev("PUT", f"{BASE}/{fn['uuid']}/manifest", {"version": 1, "code": V2_CODE + "//"})
    assert res.status_code == 409


def test_versions_are_capped_at_ten(api):
    fn = create(api)
    for i in range(12):
        api.dev("PUT", f"{BASE}/{fn['uuid']}/manifest", {"version": -1, "code": V2_CODE + f"// {i}"})
    versions = body(api.dev("GET", f"{BASE}/{fn['uuid']}"))["versions"]
    assert len(versions) == 10 and versions[0]["version"] == 13


def test_count_and_list(api):
    create(api, "a")
    create(api, "b", eventId="conversational_command")
    assert body(api.dev("GET", f"{BASE}/count")) == 2
    listed = body(api.dev("GET", f"{BASE}?eventId=&userId=&functionName="))
    assert sorted(f["name"] for f in listed) == ["a", "b"]
    assert all("manifest" not in f for f in listed)
    only = body(api.dev("GET", f"{BASE}?eventId=conversational_command&userId=&functionName="))
    assert [f["name"] for f in only] == ["b"]


def test_unknown_function_is_404_in_v2_shape(api):
    res = api.dev("GET", f"{BASE}/nope")
    assert res.status_code == 404
    assert body(res) == {"code": "com.liveperson.faas.function.not-found",
                         "message": f"There is no nope deployed on {ACCOUNT}"}


def test_python_function_via_v2(api):
    code = "async def lambda_handler(input):\n    return input['payload']\n"
    fn = create(api, "py", runtime="python3.11", code=code)
    assert fn["manifest"]["runtime"] == "python3.11" and fn["manifest"]["code"] == code
