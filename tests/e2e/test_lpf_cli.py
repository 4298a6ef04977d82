"""LivePerson's published CLI (liveperson-functions-cli 1.31.13) reads logs, account figures and metrics from a real
`fngate serve`, unchanged.

lpf finds its hosts through LivePerson's service discovery at api.liveperson.net over HTTPS on port 443, so the
gateway listens on 443 on a loopback address of its own with a self-signed certificate for that name, and a preload
script (tests/e2e/lpf_cli/resolve.js) answers the name with that address. The test installs the CLI with npm on
first run.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import random
import ssl
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from tests.e2e.conftest import ACCOUNT, LPF_DIR, install_lpf, start_gateway, stop_gateway
from tests.e2e.test_npm_client import _self_signed

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="binding port 443 needs root")

CODE = """function lambda(input, callback) {
  console.info('hello', input.payload.n);
  console.warn('careful, "quoted", and, commas', {n: input.payload.n});
  if (input.payload.fail) { return callback(new Error('failing on purpose')); }
  callback(null, {n: input.payload.n});
}
"""



def _lpf(lpf: Path, env: dict[str, str], *args: str) -> str:
    run = subprocess.run([str(lpf), *args], cwd=env["HOME"], env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, (args, run.stdout, run.stderr)
    return run.stdout


def _wait_for_logs(gw, uuid: str, token: str, since: int, count: int) -> None:
    deadline = time.time() + 10
    while time.time() < deadline:
        _, found, _ = gw.request("GET", f"/api/account/{ACCOUNT}/logs?lambdaUUID={uuid}&startTimestamp={since}",
                                 token=token)
        if len(found["logs"]) >= count:
            return
        time.sleep(0.05)
    raise AssertionError("the invocation logs were not recorded")


def test_lpf_logs_get_account_and_metrics_work_unchanged(tmp_path):
    lpf = install_lpf()
    ip = f"127.{random.randint(1, 250)}.{random.randint(1, 250)}.{random.randint(2, 250)}"
    cert, key = _self_signed(tmp_path, ip, names=("api.liveperson.net",))
    gw = start_gateway(tmp_path, extra_env={"FNGATE_PUBLIC_HOST": f"{ip}:443"},
                       args=("--tls-cert", str(cert), "--tls-key", str(key)), host=ip, port=443)
    try:
        # GIVEN a deployed function invoked 3 times (one failure), each run logging an Info and a Warn line
        token = gw.creds["developerToken"]
        uuid = gw.deploy("lpflogs", CODE)
        since = int(time.time() * 1000) - 1000
        for n, fail in ((1, False), (2, False), (3, True)):
            gw.request("POST", f"/api/account/{ACCOUNT}/lambdas/{uuid}/invoke?v=1", token=token,
                       body={"timestamp": 0, "headers": [], "payload": {"n": n, "fail": fail}})
        _wait_for_logs(gw, uuid, token, since, 6)
        home = tmp_path / "home"
        home.mkdir()
        env = {**os.environ, "HOME": str(home), "TMPDIR": str(home), "NODE_EXTRA_CA_CERTS": str(cert),
               "NODE_OPTIONS": f"--require {LPF_DIR / 'resolve.js'}", "FNGATE_LPF_ADDRESS": ip,
               "FORCE_COLOR": "0", "NO_COLOR": "1"}
        _lpf(lpf, env, "login", "--token", token, "--userId", "lpf-user", "--accountId", ACCOUNT)

        # WHEN lpf reads the logs, THEN it prints our CSV export: a header and one row per log line, in time order
        out = _lpf(lpf, env, "logs", "lpflogs", f"--start={since}")
        rows = list(csv.reader(io.StringIO(out)))
        assert rows[0] == ["timestamp", "level", "message", "extras", "requestId", "functionUuid"]
        assert [(r[1], r[2]) for r in rows[1:]] == [("Info", "hello"), ("Warn", 'careful, "quoted", and, commas')] * 2 \
            + [("Info", "hello"), ("Warn", 'careful, "quoted", and, commas')]
        assert [json.loads(r[3]) for r in rows[1:3]] == [[1], [{"n": 1}]] and rows[1][5] == uuid
        _, exported, _ = gw.request("GET", f"/api/account/{ACCOUNT}/logs?lambdaUUID={uuid}&startTimestamp={since}"
                                           "&order=asc", token=token)
        assert [r[4] for r in rows[1:]] == [e["requestId"] for e in exported["logs"]]
        # AND the gateway sent it gzip-compressed as written (lpf accepts gzip), the same text
        raw = urllib.request.Request(f"{gw.url}/api/account/{ACCOUNT}/logs/export?v=1&lambdaUUID={uuid}"
                                     f"&startTimestamp={since}", headers={"Authorization": f"Bearer {token}",
                                                                          "Accept-Encoding": "gzip"})
        with urllib.request.urlopen(raw, context=ssl._create_unverified_context(), timeout=30) as answer:
            assert answer.headers["Content-Encoding"] == "gzip"
            assert gzip.decompress(answer.read()).decode() == out
        # AND --removeHeader with --levels leaves just the matching rows
        warn = _lpf(lpf, env, "logs", "lpflogs", f"--start={since}", "--removeHeader", "--levels", "Warn")
        assert [r[1] for r in csv.reader(io.StringIO(warn))] == ["Warn"] * 3

        # WHEN lpf shows the account, THEN it has the functions, limits and this month's invocations
        account = _lpf(lpf, env, "get", "account")
        assert "1 / 50" in account and "3 / 150000" in account, account

        # WHEN lpf shows the metrics of the last hour as CSV, THEN 5-minute buckets hold the 3 invocations
        out = _lpf(lpf, env, "metrics", "lpflogs", "--last=1h", "--output=csv")
        table = list(csv.DictReader(io.StringIO(out)))
        assert len(table) == 12 and all(int(r["To"]) - int(r["From"]) == 300_000 for r in table)
        assert sum(int(r["Successful Invocations"]) for r in table) == 2
        assert sum(int(r["Code-based Errors"]) for r in table) == 1
    finally:
        console = stop_gateway(gw)
    # AND the gateway's console showed an access line per request and the deployment, with no token in it
    lines = [json.loads(line) for line in console.splitlines() if line.startswith("{")]
    exports = [ln for ln in lines if ln.get("message") == "request" and ln.get("route", "").endswith("/logs/export")]
    assert len(exports) == 3 and all(ln["status"] == 200 and ln["function"] == uuid for ln in exports)
    assert any(ln.get("message") == "deployment successful" and ln.get("function") == uuid for ln in lines)
    assert token not in console and "Bearer" not in console
