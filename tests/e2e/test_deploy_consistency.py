"""Once a deploy reports success, the very next invocation runs the new code: a tight edit → redeploy → invoke
loop over a real server, and a function invoked before its first deploy is invocable as soon as it is live."""

from __future__ import annotations

import time

from tests.e2e.conftest import ACCOUNT, Gateway

BASE = f"/api/account/{ACCOUNT}"
ROUNDS = 1000


def code(n: int) -> str:
    return f"def lambda_handler(input, callback):\n    callback(None, {{'n': {n}}})\n"


def live(gw: Gateway, uuid: str, token: str, after_id: int) -> dict:
    """Poll as a client does until the deployment newer than ``after_id`` reports success."""
    deadline = time.time() + 20
    while time.time() < deadline:
        _, fn, _ = gw.request("GET", f"{BASE}/functions/{uuid}", token=token)
        last = fn.get("lastDeployment") or {}
        if last.get("id", 0) > after_id and last.get("deploymentState") in ("successful", "failed"):
            assert fn["state"] == "Productive", fn
            return last
        time.sleep(0.002)
    raise AssertionError("the deploy did not finish")


def test_every_invocation_after_a_reported_redeploy_runs_the_new_code(gateway: Gateway) -> None:
    token = gateway.creds["developerToken"]
    status, fn, _ = gateway.request("POST", f"{BASE}/functions", token=token,
                                    body={"name": "consistent", "description": "d", "code": code(0),
                                          "runtime": "python3.11"})
    assert status == 201, fn
    uuid, last_id, stale = fn["uuid"], 0, []
    for n in range(ROUNDS):
        if n:
            status, body, _ = gateway.request("PUT", f"{BASE}/functions/{uuid}/manifest", token=token,
                                              body={"version": -1, "code": code(n)})
            assert status == 200, body
        status, body, _ = gateway.request("POST", f"{BASE}/deployments/{uuid}", token=token)
        assert status == 200, body
        last_id = live(gateway, uuid, token, last_id)["id"]
        status, out, _ = gateway.request("POST", f"{BASE}/lambdas/{uuid}/invoke?v=1", token=token,
                                         body={"payload": {}})
        if status != 200 or out != {"n": n}:
            stale.append((n, status, out))
    assert stale == [], f"{len(stale)} stale answers of {ROUNDS}: {stale[:5]}"


def test_a_function_invoked_before_its_first_deploy_is_invocable_once_live(gateway: Gateway) -> None:
    token = gateway.creds["developerToken"]
    _, fn, _ = gateway.request("POST", f"{BASE}/functions", token=token,
                               body={"name": "early", "description": "d", "code": code(7), "runtime": "python3.11"})
    path = f"{BASE}/lambdas/{fn['uuid']}/invoke?v=1"
    status, body, _ = gateway.request("POST", path, token=token, body={"payload": {}})
    assert status == 404 and body["errorCode"] == "com.liveperson.faas.es.notdeployed"
    gateway.request("POST", f"{BASE}/deployments/{fn['uuid']}", token=token)
    live(gateway, fn["uuid"], token, 0)
    assert gateway.request("POST", path, token=token, body={"payload": {}})[:2] == (200, {"n": 7})
