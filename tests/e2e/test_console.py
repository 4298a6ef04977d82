"""`fngate serve` shows on its console a JSON access line per request and each deployment, correlated by request
id, with no token or function input in it."""

from __future__ import annotations

import json

from tests.e2e.conftest import ACCOUNT, start_gateway, stop_gateway

CODE = "function lambda(input, callback) {\n  callback(new Error('no ' + input.payload.card));\n}\n"


def test_the_console_shows_requests_and_deployments_without_secrets(tmp_path):
    gw = start_gateway(tmp_path)
    try:
        token = gw.creds["developerToken"]
        uuid = gw.deploy("console", CODE)
        status, _, headers = gw.request("POST", f"/api/account/{ACCOUNT}/lambdas/{uuid}/invoke?v=1", token=token,
                                        body={"payload": {"card": "4111-2222-3333-4444"}},
                                        headers={"X-Request-ID": "console-req-1"})
        assert status == 901 and headers["X-Request-ID"] == "console-req-1"
    finally:
        console = stop_gateway(gw)
    lines = [json.loads(line) for line in console.splitlines() if line.startswith("{")]
    failed = [ln for ln in lines if ln.get("request_id") == "console-req-1" and ln["message"] == "request"]
    assert len(failed) == 1
    assert (failed[0]["status"], failed[0]["outcome"], failed[0]["function"], failed[0]["account"]) == \
        (901, "function_failed", uuid, ACCOUNT)
    assert failed[0]["error_code"] == "com.liveperson.faas.handler.custom-failure"
    assert any(ln["message"] == "deployment successful" and ln.get("function") == uuid for ln in lines)
    assert token not in console and "4111-2222" not in console and gw.creds["clientSecret"] not in console
