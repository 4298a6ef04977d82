"""A real `fngate serve` with two processes (a scheduler each, one data dir) fires a schedule once: the gateway's
clock is shifted (FNGATE_CLOCK_OFFSET_S) so that a minute boundary comes a few seconds after start, and the test
watches the run history and the invocation counts through the API."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.e2e.conftest import ACCOUNT, Gateway, start_gateway, stop_gateway

pytestmark = pytest.mark.slow
LEAD_S = 6.0  # the gateway's clock reaches a minute boundary this long after it starts
PY = "def lambda_handler(input, callback):\n    callback(None, {'got': input['payload']})\n"


@pytest.fixture(scope="module")
def shifted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    now = time.time()
    offset = (60 - now % 60) - LEAD_S  # gateway time = real time + offset: boundary at now + LEAD_S
    gw = start_gateway(tmp_path_factory.mktemp("sched"), extra_env={"FNGATE_CLOCK_OFFSET_S": f"{offset:.3f}"},
                       args=("--processes", "2"))
    yield gw
    stop_gateway(gw)


def test_a_schedule_fires_on_a_real_gateway(shifted: Gateway):
    token = shifted.creds["developerToken"]
    uuid = shifted.deploy("sched-py", PY, runtime="python3.11")
    base = f"/api/account/{ACCOUNT}/schedules"
    status, created, _ = shifted.request("POST", base, token=token, body={
        "functionUuid": uuid, "cronExpression": "* * * * *", "invocationBody": {"payload": {"n": 7}}})
    assert status == 201, created
    deadline = time.time() + 75  # the boundary comes in seconds; a whole minute more if it passed meanwhile
    runs: list = []
    while time.time() < deadline:
        _, runs, _ = shifted.request("GET", f"{base}/{created['id']}/runs", token=token)
        if runs and runs[0]["status"] not in ("QUEUED", "RUNNING"):
            break
        time.sleep(0.2)
    assert runs and runs[0]["status"] == "SUCCEEDED" and runs[0]["trigger"] == "schedule", runs
    assert runs[0]["dueAt"] == created["nextExecution"]
    _, got, _ = shifted.request("GET", f"{base}/{created['id']}", token=token)
    assert got["lastExecution"] and got["didLastExecutionFail"] is False
    assert got["nextExecution"] > created["nextExecution"]
    # one invocation for the slot, though both processes' schedulers saw it due (records land within ~50 ms)
    counts = f"/api/account/{ACCOUNT}/reports/invocationCounts?v=1"
    seen, deadline = [], time.time() + 10
    while time.time() < deadline and (not seen or seen[-1]["successfulInvocations"] < 1):
        seen.append(shifted.request("GET", counts, token=token)[1])
        time.sleep(0.1)
    settle = time.time() + 1.0  # a second invocation of the slot would be recorded within this
    while time.time() < settle:
        seen.append(shifted.request("GET", counts, token=token)[1])
        time.sleep(0.1)
    assert seen[-1]["successfulInvocations"] == 1 and seen[-1]["unsuccessfulInvocations"] == 0, seen[-1]


def test_the_fngate_cli_creates_lists_and_deletes_schedules(shifted: Gateway, tmp_path_factory):
    from tests.e2e.cli_helpers import make_cli

    shifted.deploy("sched-cli", PY, runtime="python3.11")
    cli = make_cli(tmp_path_factory.mktemp("schedcli"))
    cli.ok("admin", "users", "create", "--data-dir", str(shifted.data_dir), "--account", ACCOUNT, "--login",
           "sched-dev", "--role", "FaaS-Developer", "--password-stdin", stdin="sched-password-1")
    cli.ok("login", "--url", shifted.url, "--account", ACCOUNT, "--user", "sched-dev", "--password-stdin",
           stdin="sched-password-1")
    created = cli.json("schedules", "create", "sched-cli", "--cron", "30 2 * * *", "--time-zone", "Europe/Berlin")
    assert created["cronExpression"] == "30 2 * * *" and created["timeZone"] == "Europe/Berlin"
    assert created["id"] in [s["id"] for s in cli.json("schedules", "list")]
    cli.ok("schedules", "delete", created["id"])
    assert created["id"] not in [s["id"] for s in cli.json("schedules", "list")]
    bad = cli("schedules", "create", "sched-cli", "--cron", "* * * * * *")
    assert bad.returncode != 0 and "cronExpression: 6 fields given" in bad.stderr, bad.stderr
