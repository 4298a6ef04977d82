"""The README's path on a real server: bootstrap, create, deploy, invoke — over HTTP, with real workers."""

from __future__ import annotations

import json

from tests.e2e.conftest import ACCOUNT, Gateway, fngate

BASE = f"/api/account/{ACCOUNT}"
NODE = "function lambda(input, callback) {\n  callback(null, {hello: input.payload.name});\n}\n"
PY = "def lambda_handler(input, callback):\n    callback(None, {'hello': input['payload']['name']})\n"


def _app_token(gw: Gateway) -> str:
    import urllib.request

    form = (f"grant_type=client_credentials&client_id={gw.creds['clientId']}"
            f"&client_secret={gw.creds['clientSecret']}").encode()
    req = urllib.request.Request(f"{gw.url}/sentinel/api/account/{ACCOUNT}/app/token?v=2.0", data=form,
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    with urllib.request.urlopen(req, timeout=10) as res:
        return json.loads(res.read())["access_token"]


def test_bootstrap_prints_one_json_object_with_all_credentials(gateway):
    assert set(gateway.creds) == {"accountId", "adminToken", "developerToken", "invocationToken", "clientId",
                                  "clientSecret"}
    again = fngate("admin", "bootstrap", "--account", ACCOUNT, data_dir=gateway.data_dir)
    assert json.loads(again.stdout)["clientId"] == gateway.creds["clientId"]


def test_node_and_python_functions_deploy_and_run(gateway):
    token = _app_token(gateway)
    for name, code, runtime in (("hello-node", NODE, "nodejs20"), ("hello-py", PY, "python3.11")):
        uuid = gateway.deploy(name, code, runtime=runtime)
        status, result, headers = gateway.request(
            "POST", f"{BASE}/lambdas/{uuid}/invoke?v=1&skillId=&externalSystem=e2e", token=token,
            body={"timestamp": 0, "headers": [], "payload": {"name": "world"}}, headers={"X-Request-ID": "rid-1"})
        assert status == 200 and result == {"hello": "world"}, (name, result)
        assert headers.get("X-Request-ID") == "rid-1"


def test_unknown_route_and_wrong_method_get_spec_errors(gateway):
    status, body, _ = gateway.request("GET", "/no/such/route")
    assert status == 404 and "code" in body
    status, body, _ = gateway.request("DELETE", f"{BASE}/lambdas?v=1", token=gateway.creds["developerToken"])
    assert status == 405 and body["errorCode"]


def test_malformed_json_over_http_is_400(gateway):
    status, body, _ = gateway.request("POST", f"{BASE}/functions", token=gateway.creds["developerToken"],
                                      raw=b'{"name": ')
    assert status == 400 and body["code"] == "com.liveperson.faas.evg.invalid"


def test_openapi_is_served(gateway):
    status, body, _ = gateway.request("GET", "/openapi.json")
    assert status == 200 and body["paths"]
