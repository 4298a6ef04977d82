"""Every `fngate` developer command against a real `fngate serve`: output, --json, and the exit code of each failure."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time

import pytest

from chalicelib.devcli.errors import Exit
from tests.e2e.cli_helpers import Cli, make_cli
from tests.e2e.conftest import ACCOUNT, ROOT, Gateway, free_port

PASSWORD = "commands-password-1"


@pytest.fixture(scope="module")
def cli(gateway: Gateway, tmp_path_factory: pytest.TempPathFactory) -> Cli:
    tool = make_cli(tmp_path_factory.mktemp("cmds"))
    tool.ok("admin", "users", "create", "--data-dir", str(gateway.data_dir), "--account", ACCOUNT, "--login",
            "cmd-dev", "--role", "FaaS-Developer", "--role", "FaaS-Admin", "--password-stdin", stdin=PASSWORD)
    tool.ok("login", "--url", gateway.url, "--account", ACCOUNT, "--user", "cmd-dev", "--password-stdin",
            stdin=PASSWORD)
    return tool


def admin(cli: Cli, gateway: Gateway, *args: str, **kw) -> subprocess.CompletedProcess:
    return cli.ok("admin", *args, "--data-dir", str(gateway.data_dir), "--account", ACCOUNT, **kw)


# -- login, profiles, whoami, logout ------------------------------------------------------------------------------
def test_login_saves_a_profile_readable_only_by_its_owner(cli: Cli, gateway: Gateway) -> None:
    assert stat.S_IMODE(os.stat(cli.config).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(cli.config.parent).st_mode) == 0o700
    assert PASSWORD not in cli.config.read_text()
    me = cli.json("whoami")
    assert (me["profile"], me["login"], me["account"], me["url"]) == ("default", "cmd-dev", ACCOUNT, gateway.url)
    assert set(me["roles"]) == {"FaaS-Developer", "FaaS-Admin"}


def test_wrong_password_exits_3_and_says_so(cli: Cli, gateway: Gateway) -> None:
    done = cli.fails(Exit.AUTH, "login", "--url", gateway.url, "--account", ACCOUNT, "--user", "cmd-dev",
                     "--password-stdin", "--profile", "bad", stdin="nope")
    assert "Invalid username or password" in done.stderr and "wrong user name or password" in done.stderr


def test_unknown_app_key_exits_3_and_says_so(cli: Cli, gateway: Gateway) -> None:
    done = cli.fails(Exit.AUTH, "login", "--url", gateway.url, "--account", ACCOUNT, "--client-id", "nobody",
                     "--client-secret", "x", "--profile", "bad")
    assert "unknown app key" in done.stderr


def test_expired_login_exits_3_and_says_so(cli: Cli, gateway: Gateway) -> None:
    import base64

    claims = base64.urlsafe_b64encode(json.dumps({"exp": int(time.time()) - 60}).encode()).decode().rstrip("=")
    cli.ok("login", "--url", gateway.url, "--account", ACCOUNT, "--token", gateway.creds["developerToken"],
           "--profile", "old")
    config = json.loads(cli.config.read_text())
    config["profiles"]["old"]["token"] = f"e30.{claims}.sig"
    config["current"] = "default"
    cli.config.write_text(json.dumps(config))
    done = cli.fails(Exit.AUTH, "get", "functions", "--profile", "old")
    assert "the login of profile 'old' expired" in done.stderr


def test_a_token_the_gateway_never_issued_exits_3(cli: Cli, gateway: Gateway) -> None:
    bad = gateway.creds["developerToken"][:-4] + "AAAA"
    done = cli.fails(Exit.AUTH, "login", "--url", gateway.url, "--account", ACCOUNT, "--token", bad,
                     "--profile", "bad")
    assert "Invalid token" in done.stderr


def test_server_down_exits_6(cli: Cli) -> None:
    done = cli.fails(Exit.UNREACHABLE, "login", "--url", f"http://127.0.0.1:{free_port()}", "--account", ACCOUNT,
                     "--token", "x", "--profile", "bad")
    assert "cannot reach the gateway" in done.stderr


def test_not_logged_in_exits_3(tmp_path) -> None:
    done = make_cli(tmp_path).fails(Exit.AUTH, "get", "functions")
    assert "not logged in" in done.stderr and "fngate login" in done.stderr


def test_profiles_are_listed_and_logout_forgets_one(cli: Cli, gateway: Gateway) -> None:
    cli.ok("login", "--url", gateway.url, "--account", ACCOUNT, "--token", gateway.creds["adminToken"],
           "--profile", "admin-p")
    rows = {r["profile"]: r for r in cli.json("whoami", "--all")}
    assert rows["admin-p"]["current"] is True and "default" in rows
    assert cli.json("whoami", "--profile", "default")["login"] == "cmd-dev"
    cli.ok("logout", "--profile", "admin-p")
    assert "admin-p" not in {r["profile"] for r in cli.json("whoami", "--all")}
    cli.fails(Exit.NOT_FOUND, "logout", "--profile", "admin-p")
    cli.ok("login", "--url", gateway.url, "--account", ACCOUNT, "--user", "cmd-dev", "--password-stdin",
           "--profile", "default", stdin=PASSWORD)


# -- get -----------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("resource", ["functions", "deployments", "secrets", "domains", "events", "jobs"])
def test_get_lists_each_resource_as_json(cli: Cli, resource: str) -> None:
    assert isinstance(cli.json("get", resource), list)


def test_get_account_and_events(cli: Cli) -> None:
    account = cli.json("get", "account")
    assert account["account"] == ACCOUNT and isinstance(account["functions"], int)
    assert "conversational_command" in cli.ok("get", "events").stdout


def test_get_schedules_says_when_the_gateway_has_no_such_api(cli: Cli) -> None:
    done = cli(*("get", "schedules"))
    assert done.returncode in (Exit.OK, Exit.NOT_FOUND) and "Traceback" not in done.stderr
    if done.returncode:
        assert "schedules are not available on this gateway" in done.stderr


def test_unknown_names_exit_4_and_conflicts_exit_5(cli: Cli) -> None:
    assert "no function named 'nope'" in cli.fails(Exit.NOT_FOUND, "deploy", "nope").stderr
    cli.ok("init", "cmd-live")
    cli.ok("push", "cmd-live", "--yes")
    cli.fails(Exit.CONFLICT, "undeploy", "cmd-live")  # a Draft cannot be undeployed
    cli.ok("deploy", "cmd-live")
    assert "Undeploy the function before deleting it" in cli.fails(Exit.CONFLICT, "delete", "cmd-live",
                                                                   "--yes").stderr
    cli.fails(Exit.CONFLICT, "init", "cmd-live")


def test_bad_input_exits_2(cli: Cli) -> None:
    cli.fails(Exit.USAGE, "init", "bad name!")
    assert "unknown event" in cli.fails(Exit.USAGE, "init", "x1", "--event", "no_such_event").stderr
    cli.fails(Exit.USAGE, "invoke", "cmd-live", "--payload", "/no/such/file.json")
    cli.fails(Exit.USAGE, "deploy")  # argparse


# -- invoke --------------------------------------------------------------------------------------------------------
def test_invoke_payload_from_stdin(cli: Cli) -> None:
    cli.ok("init", "cmd-echo", "--runtime", "python")
    cli.ok("push", "cmd-echo", "--yes")
    cli.ok("deploy", "cmd-echo")
    out = cli.json("invoke", "cmd-echo", "--payload", "-", stdin='{"payload": {"n": 1}, "headers": []}')
    assert out["result"]["input"] == {"headers": [], "payload": {"n": 1}}
    out = cli.json("invoke", "cmd-echo", "--payload", "-", stdin='[1, 2]')
    assert out["result"]["input"]["payload"] == [1, 2]


SECRET_NODE = """async function lambda(input) {
  const { Toolbelt } = require('lp-faas-toolbelt');
  const secret = await Toolbelt.SecretClient().readSecret('api-key');
  console.info('read it');
  return { secret: secret.value, env: process.env.GREETING };
}
"""
SECRET_PY = """def lambda_handler(input, callback):
    import os
    from fngate_toolbelt import Toolbelt
    callback(None, {"secret": Toolbelt.secret_client().read_secret('api-key')['value'],
                    "env": os.environ.get('GREETING')})
"""


@pytest.mark.parametrize(("runtime", "code", "file"), [("node", SECRET_NODE, "index.js"),
                                                       ("python", SECRET_PY, "main.py")])
def test_local_invoke_reads_secrets_from_settings_json_with_no_server(tmp_path, runtime, code, file) -> None:
    # GIVEN a folder with a secret in settings.json and an environment variable in config.json; no gateway
    tool = make_cli(tmp_path)
    tool.ok("init", "reader", "--runtime", runtime)
    settings = tool.cwd / "functions" / "settings.json"
    settings.write_text(json.dumps({"secrets": [{"key": "api-key", "value": {"k": "v"}}], "whitelist": []}))
    config_path = tool.cwd / "functions" / "reader" / "config.json"
    config = json.loads(config_path.read_text())
    config["environmentVariables"] = [{"key": "GREETING", "value": "hi"}]
    config_path.write_text(json.dumps(config))
    (tool.cwd / "functions" / "reader" / file).write_text(code)
    # WHEN it runs locally, from inside its own folder
    out = tool.json("invoke", "reader", "--local", cwd=tool.cwd / "functions" / "reader")
    # THEN the function saw both
    assert out["result"] == {"secret": {"k": "v"}, "env": "hi"}


def test_local_invoke_of_a_missing_secret_fails_with_the_toolbelts_error(tmp_path) -> None:
    tool = make_cli(tmp_path)
    tool.ok("init", "reader")
    (tool.cwd / "functions" / "reader" / "index.js").write_text(SECRET_NODE)
    done = tool.fails(Exit.FAILED, "invoke", "reader", "--local")
    assert "There is no secret api-key for this account" in done.stderr


def test_local_invoke_watch_reruns_on_save(tmp_path) -> None:
    tool = make_cli(tmp_path)
    tool.ok("init", "watched", "--runtime", "python")
    code = tool.cwd / "functions" / "watched" / "main.py"
    code.write_text("def lambda_handler(input, callback):\n    callback(None, 'one')\n")
    env = {**os.environ, "FNGATE_CONFIG": str(tool.config), "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "chalicelib.cli", "invoke", "watched", "--local", "--watch"],
                            cwd=tool.cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout.readline().strip() == '"one"'
        time.sleep(0.05)  # a later mtime than the first run's
        code.write_text("def lambda_handler(input, callback):\n    callback(None, 'two')\n")
        assert proc.stdout.readline().strip() == '"two"'
    finally:
        proc.terminate()
        proc.wait(timeout=15)


# -- admin ---------------------------------------------------------------------------------------------------------
def test_admin_users_create_list_rotate_revoke(cli: Cli, gateway: Gateway) -> None:
    made = json.loads(admin(cli, gateway, "users", "create", "--login", "cmd-u1", "--generate-password",
                            "--json").stdout)
    assert made["roles"] == ["FaaS-Developer"] and made["generatedPassword"]
    cli.ok("login", "--url", gateway.url, "--account", ACCOUNT, "--user", "cmd-u1", "--password-stdin",
           "--profile", "u1", stdin=made["generatedPassword"])
    logins = {u["login"] for u in json.loads(admin(cli, gateway, "users", "list", "--json").stdout)}
    assert {"cmd-u1", "cmd-dev"} <= logins
    rotated = json.loads(admin(cli, gateway, "users", "rotate", "--login", "cmd-u1", "--json").stdout)
    assert rotated["generatedPassword"] != made["generatedPassword"]
    cli.fails(Exit.AUTH, "login", "--url", gateway.url, "--account", ACCOUNT, "--user", "cmd-u1",
              "--password-stdin", "--profile", "u1", stdin=made["generatedPassword"])
    # disabled: kept (the same user the admin routes disable), but no login; enabled again, it logs in
    assert json.loads(admin(cli, gateway, "users", "disable", "--login", "cmd-u1", "--json").stdout)["disabled"]
    cli.fails(Exit.AUTH, "login", "--url", gateway.url, "--account", ACCOUNT, "--user", "cmd-u1",
              "--password-stdin", "--profile", "u1", stdin=rotated["generatedPassword"])
    listed = json.loads(admin(cli, gateway, "users", "list", "--json").stdout)
    assert next(u for u in listed if u["login"] == "cmd-u1")["disabled"] is True
    admin(cli, gateway, "users", "enable", "--login", "cmd-u1")
    cli.ok("login", "--url", gateway.url, "--account", ACCOUNT, "--user", "cmd-u1", "--password-stdin",
           "--profile", "u1", stdin=rotated["generatedPassword"])
    admin(cli, gateway, "users", "revoke", "--login", "cmd-u1")
    deadline = time.time() + 15  # a revoked user's tokens stop within the gateway's principal cache time
    while cli("get", "functions", "--profile", "u1").returncode != Exit.AUTH:
        assert time.time() < deadline, "the revoked user's token still works"
        time.sleep(0.5)
    cli.fails(Exit.NOT_FOUND, "admin", "users", "revoke", "--login", "cmd-u1", "--data-dir", str(gateway.data_dir),
              "--account", ACCOUNT)


def test_admin_app_keys_create_list_rotate_revoke(cli: Cli, gateway: Gateway) -> None:
    made = json.loads(admin(cli, gateway, "app-keys", "create", "--name", "crm", "--json").stdout)
    assert made["scopes"] == ["faas.lambda.invoke"] and made["clientSecret"]
    cli.fails(Exit.CONFLICT, "admin", "app-keys", "create", "--name", "crm", "--data-dir", str(gateway.data_dir),
              "--account", ACCOUNT)
    keys = json.loads(admin(cli, gateway, "app-keys", "list", "--json").stdout)
    assert made["clientId"] in {k["clientId"] for k in keys}
    assert "clientSecret" not in json.dumps(keys)
    login = ("login", "--url", gateway.url, "--account", ACCOUNT, "--client-id", made["clientId"],
             "--client-secret-stdin", "--profile", "crm")
    cli.ok(*login, stdin=made["clientSecret"])
    assert cli.json("whoami", "--profile", "crm")["scopes"] == ["faas.lambda.invoke"]
    rotated = json.loads(admin(cli, gateway, "app-keys", "rotate", "--name", "crm", "--json").stdout)
    assert rotated["clientId"] == made["clientId"] and rotated["clientSecret"] != made["clientSecret"]
    cli.fails(Exit.AUTH, *login, stdin=made["clientSecret"])
    cli.ok(*login, stdin=rotated["clientSecret"])
    admin(cli, gateway, "app-keys", "revoke", "--name", made["clientId"])
    assert "unknown app key" in cli.fails(Exit.AUTH, *login, stdin=rotated["clientSecret"]).stderr


def test_admin_refuses_a_data_dir_that_is_not_a_fngate_store(cli: Cli, tmp_path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    for args in (("users", "list"), ("app-keys", "list"), ("bootstrap",), ("create-user", "--login", "x")):
        done = cli.fails(Exit.NO_STORE, "admin", *args,
                         "--account", ACCOUNT, "--data-dir", str(empty))
        assert f"{empty} is not a fngate store" in done.stderr
    assert list(empty.iterdir()) == []  # nothing was created there
    missing = cli.fails(Exit.NO_STORE, "admin", "users", "list", "--data-dir", str(tmp_path / "nowhere"))
    assert "there is no fngate data dir" in missing.stderr and not (tmp_path / "nowhere").exists()


def test_admin_names_an_unknown_account(cli: Cli, gateway: Gateway) -> None:
    done = cli.fails(Exit.NOT_FOUND, "admin", "users", "list", "--data-dir", str(gateway.data_dir),
                     "--account", "nope")
    assert "no account 'nope'" in done.stderr and ACCOUNT in done.stderr


def test_serve_with_a_relative_data_dir_prints_commands_that_work_as_printed(tmp_path) -> None:
    # GIVEN `fngate serve --data-dir .fngate` as `make serve` runs it (a relative data dir)
    import shlex

    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "FNGATE_CONFIG": str(tmp_path / "cfg.json")}
    proc = subprocess.Popen([sys.executable, "-m", "chalicelib.cli", "serve", "--port", str(port), "--data-dir",
                             ".fngate"], cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True)
    try:
        lines = {}
        while len(lines) < 3:
            line = proc.stdout.readline()
            assert line, "fngate serve exited before printing its next steps"
            key, sep, command = line.partition(": ")
            if key.strip() in ("Credentials", "A user", "Log in") and sep:
                lines[key.strip()] = shlex.split(command)
        # WHEN the printed commands are run as printed, from the same folder
        run = {k: subprocess.run(v, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
                                 input="") for k, v in lines.items() if k != "Log in"}
        # THEN they work: credentials, a user with a generated password, and a login with it
        assert run["Credentials"].returncode == 0 and "developerToken" in json.loads(run["Credentials"].stdout)
        assert run["A user"].returncode == 0, run["A user"].stderr
        password = run["A user"].stdout.rsplit("password (shown once): ", 1)[1].strip()
        login = subprocess.run([*lines["Log in"], "--password-stdin"], cwd=tmp_path, env=env, input=password,
                               capture_output=True, text=True, timeout=60)
        assert login.returncode == 0, login.stderr
    finally:
        proc.terminate()
        proc.wait(timeout=15)
