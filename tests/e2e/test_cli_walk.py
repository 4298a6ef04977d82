"""The developer walk with the `fngate` CLI against a real `fngate serve`, for Node.js and Python:
init → invoke --local → push → deploy → invoke → logs → change → push → deploy → rollback → undeploy → delete."""

from __future__ import annotations

import json

import pytest

from tests.e2e.cli_helpers import Cli, make_cli
from tests.e2e.conftest import ACCOUNT, Gateway

PASSWORD = "walk-password-1"
CHANGED = {"node": ("callback(null, { text:", "callback(null, { v: 2, text:"),
           "python": ('callback(None, {"text":', 'callback(None, {"v": 2, "text":')}
CODE_FILE = {"node": "index.js", "python": "main.py"}


@pytest.fixture(scope="module")
def cli(gateway: Gateway, tmp_path_factory: pytest.TempPathFactory) -> Cli:
    tool = make_cli(tmp_path_factory.mktemp("walk"))
    tool.ok("admin", "users", "create", "--data-dir", str(gateway.data_dir), "--account", ACCOUNT, "--login",
            "walker", "--role", "FaaS-Developer", "--role", "FaaS-Admin", "--password-stdin", stdin=PASSWORD + "\n")
    tool.ok("login", "--url", gateway.url, "--account", ACCOUNT, "--user", "walker", "--password-stdin",
            stdin=PASSWORD + "\n")
    return tool


@pytest.mark.parametrize("runtime", ["node", "python"])
def test_walk_from_an_empty_folder_to_undeployed(cli: Cli, gateway: Gateway, runtime: str) -> None:
    name = f"walk-{runtime}"
    # GIVEN a function folder made from an event's template, which runs locally as it is
    made = cli.json("init", name, "--event", "conversational_command", "--runtime", runtime)
    assert made["files"][0] == f"functions/{name}/{CODE_FILE[runtime]}"
    config = json.loads((cli.cwd / "functions" / name / "config.json").read_text())
    assert config["event"] == "conversational_command" and config["environmentVariables"] == [{"key": "",
                                                                                                 "value": ""}]
    assert cli.json("invoke", name, "--local")["result"] == {"text": "Hello /hello"}

    # WHEN it is pushed (a summary, then the function exists as Draft) and deployed (waits until live)
    pushed = cli.json("push", name, "--yes")
    assert [(p["name"], p["action"], p["state"]) for p in pushed] == [(name, "create", "Draft")]
    deployed = cli.ok("deploy", name)
    assert "Productive" in deployed.stdout and "deployment successful" in deployed.stderr

    # THEN it answers through the gateway with its logs
    first = cli.json("invoke", name)
    assert first["result"] == {"text": "Hello /hello"}
    assert [log["message"] for log in first["logs"]] == ["invoked"]
    assert cli.json("push", name, "--yes")[0]["action"] == "unchanged"

    # AND an invocation through the invoke API (an external caller's) leaves its logs, which `fngate logs` shows
    uuid = cli.json("get", "functions")
    uuid = next(f["uuid"] for f in uuid if f["name"] == name)
    status, _, _ = gateway.request("POST", f"/api/account/{ACCOUNT}/lambdas/{uuid}/invoke?v=1",
                                   token=gateway.creds["developerToken"], body={"payload": {"command": "/hello"}})
    assert status == 200
    shown = cli.ok("logs", name, "--since", "10m").stdout
    assert "invoked" in shown, shown

    # WHEN the code changes, is pushed and deployed, then rolled back
    code = cli.cwd / "functions" / name / CODE_FILE[runtime]
    code.write_text(code.read_text().replace(*CHANGED[runtime]))
    update = cli.json("push", name, "--yes")[0]
    assert update["action"] == "update" and update["changes"] == ["code (+1 -1 lines)"]
    cli.ok("deploy", name)
    assert cli.json("invoke", name)["result"] == {"v": 2, "text": "Hello /hello"}
    history = cli.json("get", "deployments", name)
    assert [d["deploymentState"] for d in history] == ["successful", "successful"]
    rolled = cli.json("rollback", name)
    assert rolled["restoredFrom"] == history[1]["id"] and rolled["state"] == "Productive"
    assert cli.json("invoke", name)["result"] == {"text": "Hello /hello"}

    # THEN undeploy waits for Draft, and delete removes it
    undeployed = cli.json("undeploy", name)
    assert undeployed[0]["state"] == "Draft"
    assert name in {f["name"] for f in cli.json("get", "functions")}
    cli.ok("delete", name, "--yes")
    assert name not in {f["name"] for f in cli.json("get", "functions")}


def test_deploy_of_code_that_does_not_load_prints_the_cause_and_exits_1(cli: Cli) -> None:
    cli.ok("init", "walk-broken")
    (cli.cwd / "functions" / "walk-broken" / "index.js").write_text(
        "function lambda(input, callback) {\n  callback(null, 1;\n}\n")
    cli.ok("push", "walk-broken", "--yes")
    failed = cli.fails(1, "deploy", "walk-broken")
    assert "walk-broken: Build Error: SyntaxError" in failed.stderr
    assert {f["name"]: f["state"] for f in cli.json("get", "functions")}["walk-broken"] == "Build Error"


def test_remote_invoke_of_a_failing_function_shows_its_logs_and_exits_1(cli: Cli) -> None:
    cli.ok("init", "walk-thrower", "--runtime", "python")
    (cli.cwd / "functions" / "walk-thrower" / "main.py").write_text(
        "def lambda_handler(input, callback):\n    console.warn('about to fail')\n    raise ValueError('boom')\n")
    cli.ok("push", "walk-thrower", "--yes")
    cli.ok("deploy", "walk-thrower")
    failed = cli.fails(1, "invoke", "walk-thrower")
    assert "[Warn] about to fail" in failed.stderr
    assert "walk-thrower failed: com.customer.faas.function.js-runtime-error: ValueError: boom" in failed.stderr
    as_json = json.loads(cli.fails(1, "invoke", "walk-thrower", "--json").stdout)["error"]
    assert (as_json["errorCode"], as_json["kind"]) == ("com.customer.faas.function.js-runtime-error", "failed")
    assert [log["message"] for log in as_json["logs"]] == ["about to fail"]


def test_push_asks_before_changing_and_refuses_without_a_terminal(cli: Cli) -> None:
    cli.ok("init", "walk-ask")
    refused = cli.fails(8, "push", "walk-ask")
    assert "walk-ask: create — new nodejs20 function" in refused.stderr and "--yes" in refused.stderr
    assert "walk-ask" not in {f["name"] for f in cli.json("get", "functions")}


def test_pull_writes_the_gateways_functions_into_a_fresh_folder(cli: Cli, tmp_path) -> None:
    cli.ok("init", "walk-pull", "--runtime", "python", "--description", "pulled back")
    config = cli.cwd / "functions" / "walk-pull" / "config.json"
    data = json.loads(config.read_text())
    data["environmentVariables"] = [{"key": "GREETING", "value": "hi"}]
    data["dependencies"] = [{"key": "requests", "value": "^2.31"}]
    config.write_text(json.dumps(data))
    cli.ok("push", "walk-pull", "--yes")
    elsewhere = tmp_path / "other"
    elsewhere.mkdir()
    cli.ok("pull", "walk-pull", cwd=elsewhere)
    pulled = json.loads((elsewhere / "functions" / "walk-pull" / "config.json").read_text())
    assert pulled["environmentVariables"] == [{"key": "GREETING", "value": "hi"}]
    assert pulled["dependencies"] == [{"key": "requests", "value": "^2.31"}]
    assert (pulled["description"], pulled["runtime"]) == ("pulled back", "python3.11")
    assert (elsewhere / "functions" / "walk-pull" / "main.py").read_text() == \
        (cli.cwd / "functions" / "walk-pull" / "main.py").read_text()
    # a local change is not overwritten without --yes
    (elsewhere / "functions" / "walk-pull" / "main.py").write_text("# mine\n")
    cli.fails(8, "pull", "walk-pull", cwd=elsewhere)
    cli.ok("pull", "walk-pull", "--yes", cwd=elsewhere)
    assert (elsewhere / "functions" / "walk-pull" / "main.py").read_text() != "# mine\n"
