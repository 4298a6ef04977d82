"""The web UI in a real browser (Debian's chromium, headless, driven by Playwright): login, the sections, creating,
editing, deploying, testing and rolling back a function, settings, for an admin and a developer. Every section is
checked with axe-core (no serious or critical violation) and saved as a screenshot under the test's tmp dir."""

from __future__ import annotations

import re
import shutil
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chalicelib.api.ui import CSP
from tests.e2e.conftest import ACCOUNT, Gateway, fngate, start_gateway, stop_gateway

pytestmark = pytest.mark.slow
sync_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = shutil.which("chromium")
if CHROMIUM is None:
    pytest.skip("Debian's chromium is not installed (make test installs it)", allow_module_level=True)

LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync"]
AXE = "/ui/vendor/axe-core-4.14.1/axe.min.js"
DEV_LOGIN, DEV_PASSWORD = "dev-ui", "correct horse battery staple"
ADMIN_LOGIN, ADMIN_PASSWORD = "admin-ui", "admin horse battery staple"
NODE_OK = "function lambda(input, callback) {\n  console.info('hello from the test');\n  callback(null, {hi: 1});\n}\n"
NODE_BROKEN = "function lambda(input, callback) {\n  callback(null, 1);\n}\nthrow new Error('boom at load');\n"
expect = sync_api.expect


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    gw = start_gateway(tmp_path_factory.mktemp("gw"))
    for login, role, password in ((DEV_LOGIN, "FaaS-Developer", DEV_PASSWORD),
                                  (ADMIN_LOGIN, "FaaS-Admin", ADMIN_PASSWORD)):
        made = fngate("admin", "create-user", "--account", ACCOUNT, "--login", login, "--role", role,
                      "--password-stdin", data_dir=gw.data_dir, input=password + "\n")
        assert made.returncode == 0, made.stderr
    yield gw
    stop_gateway(gw)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("screenshots")


def new_page(browser: Any, gateway: Gateway) -> Any:
    context = browser.new_context(viewport={"width": 1280, "height": 800}, base_url=gateway.url)
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda err: page.errors.append(str(err)))
    page.on("console", lambda msg: "Content Security Policy" in msg.text and page.errors.append(msg.text))
    return page


def login_with_password(page: Any) -> None:
    page.goto("/")
    page.get_by_label("Account", exact=True).fill(ACCOUNT)
    page.get_by_label("User", exact=True).fill(DEV_LOGIN)
    page.get_by_label("Password", exact=True).fill(DEV_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Home", level=1)).to_be_visible()


def login_with_token(page: Any, token: str) -> None:
    page.goto("/")
    page.get_by_label(re.compile("Bearer token")).fill(token)
    page.get_by_role("button", name="Use token").click()
    expect(page.get_by_role("heading", name="Home", level=1)).to_be_visible()


def check_section(page: Any, shots: Path, name: str) -> None:
    """No serious or critical axe-core violation, no script error, and a screenshot."""
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(shots / f"{name}.png"), full_page=True)
    if not page.evaluate("() => Boolean(window.axe)"):
        page.add_script_tag(url=AXE)
    violations = page.evaluate("""async () => (await axe.run(document, {resultTypes: ["violations"]})).violations
        .filter(v => v.impact === "serious" || v.impact === "critical")
        .map(v => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map(n => n.target.join(" "))}))""")
    assert violations == [], (name, violations)
    assert page.errors == [], (name, page.errors)
    # readable from a 1280x800 laptop to a 1920-wide monitor: nothing runs off the side at either width
    size = page.viewport_size
    for width in (1280, 1920):
        page.set_viewport_size({"width": width, "height": 800 if width == 1280 else 1080})
        wide = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
        assert wide <= 0, (name, width, wide)
    page.set_viewport_size(size)


def go(page: Any, section: str) -> None:
    page.get_by_role("navigation", name="Sections").get_by_role("link", name=section).click()
    expect(page.get_by_role("heading", level=1, name=re.compile(section))).to_be_visible()


def create_deployed(gateway: Gateway, name: str, code: str = NODE_OK) -> str:
    return gateway.deploy(name, code)


def api_function(gateway: Gateway, uuid: str) -> dict[str, Any]:
    status, fn, _ = gateway.request("GET", f"/api/account/{ACCOUNT}/functions/{uuid}",
                                    token=gateway.creds["developerToken"])
    assert status == 200, fn
    return fn


def test_the_app_is_served_with_content_types_and_caching(gateway: Gateway) -> None:
    with urllib.request.urlopen(gateway.url + "/") as res:
        assert res.headers["Content-Type"] == "text/html; charset=utf-8"
        assert res.headers["Cache-Control"] == "no-cache"
        # the UI runs under the gateway's own strict policy: no inline script, style attribute or handler anywhere
        assert res.headers["Content-Security-Policy"] == CSP
        etag = res.headers["ETag"]
    again = urllib.request.Request(gateway.url + "/", headers={"If-None-Match": etag})
    try:
        urllib.request.urlopen(again)
        raise AssertionError("expected 304")
    except urllib.error.HTTPError as err:
        assert err.code == 304
    with urllib.request.urlopen(gateway.url + "/ui/vendor/codemirror-5.65.21/codemirror.js") as res:
        assert res.headers["Content-Type"] == "text/javascript; charset=utf-8"
        assert "immutable" in res.headers["Cache-Control"]
    status, body, _ = gateway.request("GET", "/ui/..%2F..%2Fapp.py")
    assert status == 404, body


def test_developer_logs_in_and_visits_every_section(browser: Any, gateway: Gateway, shots: Path) -> None:
    page = new_page(browser, gateway)
    page.goto("/")
    check_section(page, shots, "login")
    page.get_by_label("Account", exact=True).fill(ACCOUNT)
    page.get_by_label("User", exact=True).fill(DEV_LOGIN)
    page.get_by_label("Password", exact=True).fill("wrong password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_contain_text("The user or the password is wrong")
    login_with_password(page)
    check_section(page, shots, "home-developer")
    for section in ("Functions", "Deployments", "Schedules", "Logs", "Settings", "Bots"):
        go(page, section)
        check_section(page, shots, f"{section.lower()}-developer")
        if section == "Settings":  # read only for a developer
            expect(page.get_by_text("Values are obfuscated for your role")).to_be_visible()
            expect(page.get_by_role("button", name="Add domain")).to_have_count(0)
    # the keyboard: the skip link first, then the content; the navigation is reachable with Tab
    page.goto("/#/functions")
    expect(page.get_by_role("heading", name="Functions", level=1)).to_be_visible()
    page.get_by_role("link", name="Skip to content").focus()
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()
    assert page.url.endswith("#/functions")
    page.get_by_role("navigation").get_by_role("link", name="Functions").focus()
    page.keyboard.press("Tab")
    expect(page.get_by_role("navigation").get_by_role("link", name="Deployments")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Deployments", level=1)).to_be_focused()
    page.close()


def test_developer_creates_edits_deploys_and_tests_a_function(browser: Any, gateway: Gateway, shots: Path) -> None:
    page = new_page(browser, gateway)
    login_with_password(page)
    go(page, "Functions")
    page.get_by_role("link", name="Create a function").click()
    # step 1: a template bound to an event
    expect(page.get_by_role("heading", name="Step 1: choose a template")).to_be_visible()
    page.get_by_label("Python 3.11").check()
    expect(page.get_by_role("region", name="Template code")).to_contain_text("def lambda_handler")
    page.get_by_label("Node.js 20").check()
    page.get_by_label("Event").select_option(label="No event (called over HTTP)")
    expect(page.get_by_role("region", name="Template code")).to_contain_text("function lambda")
    check_section(page, shots, "create-step1")
    page.get_by_role("button", name="Next: allowlist").click()
    # step 2: a developer may not add domains, and is told so
    expect(page.get_by_text("Only a FaaS-Admin can add domains")).to_be_visible()
    page.get_by_role("button", name="Next: name").click()
    # step 3: live validation
    name = page.get_by_label("Name")
    name.fill("bad name")
    expect(page.locator("#create-name-help")).to_contain_text("Only letters, digits")
    expect(page.get_by_role("button", name="Create function")).to_be_disabled()
    name.fill("ui-hello")
    expect(page.locator("#create-name-help")).to_contain_text("This name is free")
    page.get_by_label("Description").fill("made in the browser")
    check_section(page, shots, "create-step3")
    page.get_by_role("button", name="Create function").click()
    # the editor: highlighted code, the sample payload beside it
    expect(page.get_by_role("heading", name="ui-hello", level=1)).to_be_visible()
    expect(page.locator(".CodeMirror .cm-keyword").first).to_be_visible()
    expect(page.get_by_role("region", name="Sample payload")).to_contain_text("payload")
    uuid = page.url.rsplit("/", 1)[1]
    page.locator(".CodeMirror").evaluate("(el, code) => el.CodeMirror.setValue(code)", NODE_OK)
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status").filter(has_text="Saved: version 2")).to_be_visible()
    check_section(page, shots, "editor")
    assert api_function(gateway, uuid)["manifest"]["code"] == NODE_OK
    # deploy with live progress, then the test page
    page.get_by_role("button", name="Deploy", exact=True).click()
    expect(page.get_by_text("ui-hello is deployed: Productive")).to_be_visible()
    page.get_by_role("link", name="Test").click()
    expect(page.get_by_role("heading", name="Test ui-hello")).to_be_visible()
    page.get_by_role("button", name="Invoke").click()
    expect(page.get_by_role("region", name="Result")).to_contain_text('"hi": 1')
    expect(page.get_by_text(re.compile(r"Duration: \d+ ms"))).to_be_visible()
    expect(page.get_by_role("cell", name="hello from the test")).to_be_visible()
    check_section(page, shots, "test-page")
    page.close()


def test_saving_never_overwrites_a_change_made_elsewhere(browser: Any, gateway: Gateway, shots: Path) -> None:
    # GIVEN a function open in the editor, changed through the API afterwards
    token = gateway.creds["developerToken"]
    status, fn, _ = gateway.request("POST", f"/api/account/{ACCOUNT}/functions", token=token,
                                    body={"name": "ui-conflict", "description": "", "code": NODE_OK})
    assert status == 201, fn
    page = new_page(browser, gateway)
    login_with_password(page)
    page.goto(f"/#/functions/{fn['uuid']}")
    expect(page.get_by_role("heading", name="ui-conflict", level=1)).to_be_visible()
    theirs = NODE_OK.replace("hello from the test", "their change")
    status, body, _ = gateway.request("PUT", f"/api/account/{ACCOUNT}/functions/{fn['uuid']}/manifest", token=token,
                                      body={"id": fn["manifest"]["id"], "version": fn["manifest"]["version"],
                                            "code": theirs})
    assert status == 200, body
    # WHEN the browser saves its own edit
    page.locator(".CodeMirror").click()
    page.keyboard.press("Control+End")
    page.keyboard.type("// my change\n")
    page.keyboard.press("Control+s")
    # THEN it says so and keeps theirs
    expect(page.get_by_role("alert")).to_contain_text("changed elsewhere since you opened it")
    check_section(page, shots, "editor-conflict")
    assert api_function(gateway, fn["uuid"])["manifest"]["code"] == theirs
    page.get_by_role("button", name="Load their version").click()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status").filter(has_text="Nothing changed")).to_be_visible()
    page.close()


def test_deployments_show_the_cause_and_roll_back_and_undeploy(browser: Any, gateway: Gateway, shots: Path) -> None:
    token = gateway.creds["developerToken"]
    uuid = create_deployed(gateway, "ui-rollback")
    fn = api_function(gateway, uuid)
    status, body, _ = gateway.request("PUT", f"/api/account/{ACCOUNT}/functions/{uuid}/manifest", token=token,
                                      body={"id": fn["manifest"]["id"], "version": fn["manifest"]["version"],
                                            "code": NODE_BROKEN})
    assert status == 200, body
    page = new_page(browser, gateway)
    login_with_password(page)
    # a redeploy that fails: Deploy/Build Error with its cause
    page.goto(f"/#/deployments/{uuid}")
    expect(page.get_by_role("heading", name="Deployments of ui-rollback")).to_be_visible()
    page.get_by_role("button", name="Redeploy ui-rollback").click()
    expect(page.get_by_role("alert")).to_contain_text("boom at load")
    go(page, "Deployments")
    page.get_by_text("Why it failed").first.click()
    expect(page.get_by_text("boom at load").first).to_be_visible()
    check_section(page, shots, "deployments-failure")
    # roll back to the deployment that worked
    page.get_by_role("link", name="History of ui-rollback").click()
    page.get_by_role("button", name=re.compile(r"Roll back to deployment \d+ \(version 1\)")).click()
    expect(page.get_by_role("status").filter(has_text="ui-rollback is deployed")).to_be_visible()
    assert api_function(gateway, uuid)["state"] == "Productive"
    check_section(page, shots, "deployment-history")
    page.get_by_role("button", name="Undeploy ui-rollback").click()
    expect(page.get_by_role("status").filter(has_text="ui-rollback is undeployed")).to_be_visible()
    assert api_function(gateway, uuid)["state"] == "Draft"
    page.close()


def test_admin_manages_the_allowlist_and_secrets_that_developers_see_obfuscated(
        browser: Any, gateway: Gateway, shots: Path) -> None:
    # a FaaS-Admin (only) logs in with a pasted token
    status, session, _ = gateway.request("POST", f"/api/account/{ACCOUNT}/login?v=1.3",
                                         body={"username": ADMIN_LOGIN, "password": ADMIN_PASSWORD})
    assert status == 200, session
    admin = new_page(browser, gateway)
    login_with_token(admin, session["bearer"])
    check_section(admin, shots, "home-admin")
    go(admin, "Settings")
    admin.get_by_label("Domain", exact=True).fill("api.example.com")
    admin.get_by_role("button", name="Add domain").click()
    expect(admin.get_by_role("cell", name="api.example.com", exact=True).first).to_be_visible()
    admin.get_by_label("Key", exact=True).fill("ui-secret")
    admin.get_by_label("Value", exact=True).fill("s3cr3t-value")
    admin.get_by_role("button", name="Add secret").click()
    expect(admin.get_by_role("cell", name="s3cr3t-value")).to_be_visible()
    check_section(admin, shots, "settings-admin")
    admin.get_by_role("button", name="Delete api.example.com").click()
    admin.get_by_role("button", name="Confirm: Delete api.example.com").click()
    expect(admin.get_by_role("status").filter(has_text="no longer allowlisted")).to_be_visible()
    go(admin, "Functions")
    expect(admin.get_by_role("link", name="Create a function")).to_have_count(0)  # FaaS-Admin alone may not
    expect(admin.get_by_role("link", name="ui-hello")).to_be_visible()
    check_section(admin, shots, "functions-admin")
    admin.close()
    dev = new_page(browser, gateway)
    login_with_password(dev)
    go(dev, "Settings")
    expect(dev.get_by_role("cell", name="ui-secret")).to_be_visible()
    expect(dev.get_by_text("s3cr3t-value")).to_have_count(0)
    expect(dev.get_by_role("button", name="Add secret")).to_have_count(0)
    dev.close()


def test_api_errors_are_shown_in_words(browser: Any, gateway: Gateway) -> None:
    page = new_page(browser, gateway)
    login_with_password(page)
    page.goto("/#/functions/00000000-0000-4000-8000-000000000000")
    expect(page.get_by_role("alert")).to_be_visible()
    assert "{" not in page.get_by_role("alert").inner_text()
    page.evaluate("() => sessionStorage.setItem('fngate.session', JSON.stringify({token: 'x.e30.y', "
                  "account: 'e2eacct', login: 'x', roles: ['FaaS-Developer'], exp: 0}))")
    page.goto("/#/deployments")
    expect(page.get_by_role("alert")).to_contain_text("log in again")
    expect(page.get_by_role("heading", name="Log in to fngate")).to_be_visible()
    page.close()


def test_python_code_is_highlighted_as_python(browser: Any, gateway: Gateway) -> None:
    code = "def lambda_handler(input, callback):\n    callback(None, {'ok': True})\n"
    status, fn, _ = gateway.request("POST", f"/api/account/{ACCOUNT}/functions", token=gateway.creds["developerToken"],
                                    body={"name": "ui-python", "description": "", "runtime": "python3.11",
                                          "code": code})
    assert status == 201, fn
    page = new_page(browser, gateway)
    login_with_password(page)
    page.goto(f"/#/functions/{fn['uuid']}")
    expect(page.get_by_text("Python 3.11", exact=False).first).to_be_visible()
    expect(page.locator(".CodeMirror .cm-keyword", has_text="def")).to_be_visible()
    expect(page.locator(".CodeMirror .cm-def", has_text="lambda_handler")).to_be_visible()
    page.close()


def test_the_browser_tests_run_under_a_strict_content_security_policy(browser: Any, gateway: Gateway) -> None:
    page = new_page(browser, gateway)
    login_with_password(page)
    injected = page.evaluate("""() => { const s = document.createElement("script"); s.textContent = "window.inl = 1";
        document.head.append(s); return window.inl === 1; }""")
    assert injected is False  # an inline script is refused, so every passing section ran without one
    assert any("Content Security Policy" in e for e in page.errors)
    page.close()


def test_bot_simulator_shows_the_validated_outbound_events(browser: Any, gateway: Gateway, shots: Path) -> None:
    # GIVEN the echo bot template deployed and a bot configured for it
    event = "bot_connectors_custom_integration"
    status, tpl, _ = gateway.request("GET", f"/api/account/{ACCOUNT}/events/{event}/template?runtime=nodejs20",
                                     token=gateway.creds["developerToken"])
    assert status == 200, tpl
    uuid = gateway.deploy("ui-echo-bot", tpl["code"], eventId=event)
    status, bot, _ = gateway.request("POST", f"/api/account/{ACCOUNT}/bots", token=gateway.creds["adminToken"], body={
        "botId": "ui-echo", "functionUuid": uuid, "clientId": "ui-app", "clientSecret": "ui-bot-secret",
        "agentId": "bot-agent"})
    assert status == 201, bot
    page = new_page(browser, gateway)
    login_with_token(page, gateway.creds["adminToken"])
    go(page, "Bots")
    page.get_by_role("button", name="Test connection of ui-echo").click()
    expect(page.get_by_role("status").filter(has_text="Connection works")).to_be_visible()
    # WHEN a conversation is simulated
    page.get_by_text("Conversation simulator").click()
    page.get_by_role("button", name="Send welcome").click()
    expect(page.get_by_role("alert")).to_contain_text("client secret")  # nothing is sent unsigned
    page.get_by_label("Client secret").fill("ui-bot-secret")
    page.get_by_role("button", name="Send welcome").click()
    conversation = page.get_by_role("list", name="Conversation with ui-echo")
    expect(conversation).to_contain_text("Welcome! I am an echo bot.")
    page.get_by_label("Message", exact=True).fill("ping from the simulator")
    page.get_by_role("button", name="Send message").click()
    # THEN the bot's answers are shown as they would be sent
    expect(conversation.get_by_text("Bot: ping from the simulator")).to_be_visible()
    check_section(page, shots, "bots-simulator")
    page.close()


def app_token(gateway: Gateway) -> str:
    form = f"grant_type=client_credentials&client_id={gateway.creds['clientId']}&" \
           f"client_secret={gateway.creds['clientSecret']}"
    status, body, _ = gateway.request("POST", f"/sentinel/api/account/{ACCOUNT}/app/token?v=2.0", raw=form.encode(),
                                      headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 200, body
    return body["access_token"]


def invoke(gateway: Gateway, uuid: str, token: str) -> Any:
    status, body, _ = gateway.request("POST", f"/api/account/{ACCOUNT}/lambdas/{uuid}/invoke?v=1", token=token,
                                      body={"timestamp": 0, "headers": [], "payload": {"n": 1}})
    assert status == 200, body
    return body


def test_developer_schedules_a_function_runs_it_reads_its_logs_and_replays_it(
        browser: Any, gateway: Gateway, shots: Path) -> None:
    uuid = create_deployed(gateway, "ui-scheduled")
    page = new_page(browser, gateway)
    login_with_password(page)
    # keep the inputs of its invocations, so a run can be replayed
    page.goto(f"/#/deployments/{uuid}/test")
    expect(page.get_by_role("heading", name="Test ui-scheduled")).to_be_visible()
    page.get_by_label(re.compile("Keep the inputs of invocations")).check()
    expect(page.get_by_role("status").filter(has_text="kept for 7 days")).to_be_visible()
    # a schedule, with the cron helper
    go(page, "Schedules")
    check_section(page, shots, "schedules-empty-developer")
    page.get_by_role("link", name="Create a schedule").click()
    expect(page.get_by_role("heading", name="Create a schedule", level=1)).to_be_visible()
    page.get_by_label("Function", exact=True).select_option(label="ui-scheduled (Productive)")
    page.get_by_label("Cron expression").fill("61 * * * *")
    expect(page.locator("#schedule-preview-error")).to_contain_text("minute field")
    page.get_by_label("Cron expression").fill("30 9 * * MON-FRI")
    page.get_by_label("Time zone").select_option("America/New_York")
    expect(page.get_by_role("heading", name="Next five runs in America/New_York")).to_be_visible()
    runs = page.get_by_role("list", name="Next five runs").get_by_role("listitem")
    expect(runs).to_have_count(5)
    status, want, _ = gateway.request("POST", f"/api/account/{ACCOUNT}/schedules/preview",
                                      token=gateway.creds["developerToken"],
                                      body={"cronExpression": "30 9 * * MON-FRI", "timeZone": "America/New_York"})
    assert status == 200, want
    for item, at in zip(runs.all_inner_texts(), want["nextRuns"], strict=True):
        assert "09:30" in item and at[:16].replace("T", " ") + " UTC" in item, (item, at)
    check_section(page, shots, "schedule-create")
    page.get_by_role("button", name="Create schedule").click()
    expect(page.get_by_role("heading", name="Schedule of ui-scheduled")).to_be_visible()
    expect(page.get_by_role("status").filter(has_text="Schedule saved: 30 9 * * MON-FRI in America/New_York")) \
        .to_be_visible()
    # run now: the history shows the run, with a link to its logs
    page.get_by_role("button", name="Run now").click()
    history = page.get_by_role("region", name="Run history")
    expect(history.get_by_text("SUCCEEDED")).to_be_visible()
    check_section(page, shots, "schedule-history")
    page.get_by_role("button", name="Disable").click()
    expect(page.get_by_role("status").filter(has_text="The schedule is disabled")).to_be_visible()
    go(page, "Schedules")
    expect(page.get_by_role("cell", name="Disabled")).to_be_visible()
    page.get_by_role("button", name=re.compile("Enable schedule ui-scheduled")).click()
    expect(page.get_by_role("cell", name="Enabled")).to_be_visible()
    check_section(page, shots, "schedules-developer-list")
    page.get_by_role("link", name=re.compile("Schedule ui-scheduled")).click()
    history.get_by_role("link", name=re.compile("Logs of request")).click()
    # the logs of that run, found by its request id
    expect(page.get_by_role("heading", name="Logs", level=1)).to_be_visible()
    expect(page.get_by_role("cell", name="hello from the test")).to_be_visible()
    check_section(page, shots, "logs-request")
    page.get_by_label("Request id").fill("")
    page.get_by_label("Text", exact=True).fill("no such text anywhere")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("status").filter(has_text="No log entry matches")).to_be_visible()
    page.get_by_label("Text", exact=True).fill("hello")
    page.get_by_label("Error", exact=True).check()
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("status").filter(has_text="No log entry matches")).to_be_visible()
    page.get_by_label("Error", exact=True).uncheck()
    page.get_by_label("Info", exact=True).check()
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("cell", name="hello from the test")).to_be_visible()
    # export: the selected function's logs as CSV, as lpf logs gets them
    expect(page.get_by_role("button", name="Export")).to_be_disabled()
    page.get_by_label("Function", exact=True).select_option(label="ui-scheduled")
    with page.expect_download() as info:
        page.get_by_role("button", name="Export").click()
    exported = Path(info.value.path()).read_text()
    assert exported.startswith("timestamp,level,message,extras,requestId,functionUuid\n"), exported[:200]
    assert "hello from the test" in exported and uuid in exported
    page.get_by_label("From", exact=True).fill("2020-01-01T00:00")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("alert").filter(has_text="at most 7 days")).to_be_visible()
    # replay the kept run on the test page
    page.goto(f"/#/deployments/{uuid}/test")
    page.get_by_role("button", name=re.compile("Replay ")).first.click()
    expect(page.get_by_role("heading", name="Same result as the original")).to_be_visible()
    expect(page.get_by_role("region", name="Replay result")).to_contain_text('"hi": 1')
    check_section(page, shots, "replay")
    page.close()


def test_home_shows_this_months_invocations_errors_and_the_slowest_functions(
        browser: Any, gateway: Gateway, shots: Path) -> None:
    fast = create_deployed(gateway, "ui-fast")
    slow = create_deployed(gateway, "ui-slow", NODE_OK.replace("callback(null, {hi: 1});",
                                                               "setTimeout(() => callback(null, 1), 200);"))
    token = app_token(gateway)
    for _ in range(3):
        invoke(gateway, fast, token)
        invoke(gateway, slow, token)
    page = new_page(browser, gateway)
    login_with_password(page)
    usage = page.get_by_role("group", name="This month")
    expect(usage).to_contain_text("Invocations")
    figures = re.match(r"(\d+)Invocations(\d+) \([\d.]+ %\)Errors", usage.inner_text().replace("\n", ""))
    assert figures and int(figures[1]) >= 6, usage.inner_text()  # these six, and any of other tests
    slowest = page.get_by_role("table", name="Slowest functions")
    expect(slowest.get_by_role("row").nth(1)).to_contain_text("ui-slow")
    expect(slowest).to_contain_text("ui-fast")
    check_section(page, shots, "home-figures")
    page.close()


def test_admin_manages_email_reports_users_and_app_keys(browser: Any, gateway: Gateway, shots: Path) -> None:
    admin = new_page(browser, gateway)
    login_with_token(admin, gateway.creds["adminToken"])
    go(admin, "Settings")
    admin.get_by_label("Send email reports").check()
    admin.get_by_label("Frequency").select_option("weekly")
    admin.get_by_role("button", name="Save report settings").click()
    expect(admin.get_by_role("status").filter(has_text="Email reports are sent weekly")).to_be_visible()
    admin.get_by_label("Recipient's email").fill("not an email")
    admin.get_by_role("button", name="Add recipient").click()
    expect(admin.get_by_role("alert").filter(has_text="email")).to_be_visible()
    admin.get_by_label("Recipient's email").fill("ops@example.com")
    admin.get_by_role("button", name="Add recipient").click()
    expect(admin.get_by_role("cell", name="ops@example.com", exact=True)).to_be_visible()
    # a user with a generated password, shown once, who can log in with it
    admin.get_by_label("Login", exact=True).fill("ui-viewer")
    admin.get_by_label("FaaS-Developer").uncheck()
    admin.get_by_label("FaaS-Invocation").check()
    admin.get_by_role("button", name="Add user").click()
    once = admin.get_by_role("alert").filter(has_text="The password of ui-viewer")
    expect(once).to_be_visible()
    password = once.locator("dd").nth(1).inner_text()
    expect(admin.get_by_role("cell", name="ui-viewer", exact=True)).to_be_visible()
    admin.get_by_label("Login", exact=True).fill("UI-Viewer")  # the same login again, in other letters
    admin.get_by_role("button", name="Add user").click()
    expect(admin.get_by_role("alert").filter(has_text="exists")).to_be_visible()
    # an app key: the secret shown once works for a token, then the key is revoked
    admin.get_by_label("External system").fill("ui-crm")
    admin.get_by_role("button", name="Create app key").click()
    creds = admin.get_by_role("alert").filter(has_text="The credentials of ui-crm").locator("dd")
    client_id, secret = creds.nth(0).inner_text(), creds.nth(1).inner_text()
    form = f"grant_type=client_credentials&client_id={client_id}&client_secret={secret}".encode()
    token_path = f"/sentinel/api/account/{ACCOUNT}/app/token?v=2.0"
    form_type = {"Content-Type": "application/x-www-form-urlencoded"}
    assert gateway.request("POST", token_path, raw=form, headers=form_type)[0] == 200
    check_section(admin, shots, "settings-admin-people")
    admin.get_by_role("button", name="Revoke app key ui-crm").click()
    admin.get_by_role("button", name="Confirm: Revoke app key ui-crm").click()
    expect(admin.get_by_role("status").filter(has_text="App key ui-crm is revoked")).to_be_visible()
    assert gateway.request("POST", token_path, raw=form, headers=form_type)[0] == 401
    # the new FaaS-Invocation user: logs in, reads, may not schedule; disabled, it is logged out
    viewer = new_page(browser, gateway)
    viewer.goto("/")
    viewer.get_by_label("Account", exact=True).fill(ACCOUNT)
    viewer.get_by_label("User", exact=True).fill("ui-viewer")
    viewer.get_by_label("Password", exact=True).fill(password)
    viewer.get_by_role("button", name="Log in").click()
    expect(viewer.get_by_role("heading", name="Home", level=1)).to_be_visible()
    go(viewer, "Schedules")
    expect(viewer.get_by_text("Read only: FaaS-Developer and FaaS-Admin manage schedules.")).to_be_visible()
    expect(viewer.get_by_role("link", name="Create a schedule")).to_have_count(0)
    check_section(viewer, shots, "schedules-invocation")
    go(viewer, "Settings")
    expect(viewer.get_by_role("heading", name="Users")).to_have_count(0)
    admin.get_by_role("button", name="Disable user ui-viewer").click()
    expect(admin.get_by_role("status").filter(has_text="ui-viewer is disabled")).to_be_visible()
    # every gateway process stops trusting the user within seconds (the one that disabled it, at once): moving
    # between sections, the viewer is logged out with a sentence on the first answer that refuses its token
    login_heading = viewer.get_by_role("heading", name="Log in to fngate")
    shown = viewer.get_by_role("heading", level=1, name=re.compile("^(Logs|Home|Log in to fngate)$"))
    for attempt in range(100):
        if login_heading.count():
            break
        try:
            viewer.get_by_role("navigation", name="Sections").get_by_role(
                "link", name=("Logs", "Home")[attempt % 2], exact=True).click(timeout=1000)
        except sync_api.Error:
            continue  # logged out meanwhile
        expect(shown).to_be_visible()
        viewer.wait_for_timeout(100)
    expect(login_heading).to_be_visible()
    expect(viewer.get_by_role("alert")).to_contain_text("log in again")
    admin.get_by_role("button", name="Enable user ui-viewer").click()
    expect(admin.get_by_role("status").filter(has_text="ui-viewer can log in again")).to_be_visible()
    viewer.close()
    admin.close()
    # a developer sees the reports, adds no settings, and sees no users or app keys
    dev = new_page(browser, gateway)
    login_with_password(dev)
    go(dev, "Settings")
    expect(dev.get_by_text("Reports are sent weekly. A FaaS-Admin changes this.")).to_be_visible()
    expect(dev.get_by_role("cell", name="ops@example.com", exact=True)).to_be_visible()
    expect(dev.get_by_role("heading", name="App keys")).to_have_count(0)
    expect(dev.get_by_text("Users and app keys are managed by a FaaS-Admin.")).to_be_visible()
    dev.close()
