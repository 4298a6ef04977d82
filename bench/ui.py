"""The web UI's first paint (issue 19): for each section, the time from navigation to the browser's first
contentful paint and to the section's content on screen (data fetched and drawn), in Debian's chromium driven
headless by Playwright, against a real `fngate serve` whose account holds 1,000 functions (states mixed, a month of
invocation figures) — and, side by side in the same run, against an account with 10, so the table shows what the
1,000 cost. Median of RUNS fresh page loads per section (the app's files cached, as a returning user has them).

Run alone: ``python -m bench.ui`` (prints the rows); ``bench.run`` adds them to results.md.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench.floor import _wait_port
from chalicelib.config import Settings
from chalicelib.domain.models import Function, Manifest
from chalicelib.domain.states import State
from chalicelib.services.container import build_store
from chalicelib.services.repository import FunctionRepository
from chalicelib.services.stats import InvocationStats

ROOT = Path(__file__).resolve().parents[1]
ACCOUNT = "benchui"
RUNS = 7
TARGET_MS = 300
CODE = "function lambda(input, callback) {\n" + "  // padding\n" * 20 + "  callback(null, 1);\n}\n"
STATES = [State.DRAFT, State.DRAFT, State.PRODUCTIVE, State.MODIFIED, State.BUILD_ERROR]
# section → what shows that its content (not just the shell) is on screen
SECTIONS = {
    "home": "#main [aria-label='This month'] .tile-value",
    "functions": "#main table tbody tr",
    "deployments": "#main h1 ~ div table tbody tr",
    "schedules": "#main .title-row h1",
    "logs": "#main form[aria-label='Search logs'] button[type=submit]",
    "settings": "#main section[aria-labelledby='settings-reports'] h3",
    "bots": "#main h1",
}


def seed(data_dir: Path, count: int) -> None:
    """``count`` functions straight into the store (the API caps an account at 50), and this month's figures."""
    settings = replace(Settings.from_env(), data_dir=data_dir)
    store = build_store(settings)
    repo, stats = FunctionRepository(store), InvocationStats(store)
    rng = random.Random(19)
    now_ms = int(time.time() * 1000)
    records = []
    for i in range(count):
        fn_uuid = str(uuid.uuid4())
        m = Manifest(id=str(uuid.uuid4()), version=1, runtime="nodejs20", code=CODE)
        repo.create(Function(account_id=ACCOUNT, uuid=fn_uuid, name=f"fn-{i:04d}", description=f"function {i}",
                             event_id=None, state=STATES[i % len(STATES)], manifest=m,
                             created_at=f"2026-01-01T00:{i % 60:02d}:00Z", updated_by="bench"))
        records += [{"function_uuid": fn_uuid, "at": now_ms - rng.randrange(3_600_000), "status": "SUCCEEDED"
                     if rng.random() > 0.05 else "CODING_FAILURE", "duration_ms": rng.lognormvariate(1, 0.8)}
                    for _ in range(5)]
    stats.fold(ACCOUNT, records)
    store.close()


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(data_dir: Path) -> tuple[subprocess.Popen, int, str]:
    port = _port()
    proc = subprocess.Popen([sys.executable, "-m", "chalicelib.cli", "serve", "--port", str(port), "--data-dir",
                             str(data_dir), "--account", ACCOUNT], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    _wait_port(port, 30)
    boot = subprocess.run([sys.executable, "-m", "chalicelib.cli", "admin", "bootstrap", "--data-dir", str(data_dir),
                           "--account", ACCOUNT], cwd=ROOT, capture_output=True, text=True, check=True)
    return proc, port, json.loads(boot.stdout)["adminToken"]  # the bootstrap admin holds every role


def _claims(token: str) -> dict[str, Any]:
    import base64

    part = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def _measure(browser: Any, port: int, token: str) -> dict[str, tuple[float, float]]:
    """section → (median first contentful paint, median content visible), ms from navigation start."""
    claims = _claims(token)
    session = json.dumps({"token": token, "account": ACCOUNT, "login": claims.get("login", ""),
                          "roles": claims.get("roles", []), "exp": claims.get("exp", 0)})
    context = browser.new_context(viewport={"width": 1280, "height": 800}, base_url=f"http://127.0.0.1:{port}")
    context.add_init_script(f"sessionStorage.setItem('fngate.session', {json.dumps(session)});")
    page = context.new_page()
    page.goto("/#/home")  # warm: the app's files cached, the gateway's first listing done
    page.wait_for_selector(SECTIONS["home"])
    out = {}
    for section, selector in SECTIONS.items():
        fcp, shown = [], []
        for _ in range(RUNS):
            page.goto("about:blank")
            page.goto(f"/#/{section}", wait_until="commit")
            at = page.wait_for_function("sel => document.querySelector(sel) && performance.now()", arg=selector,
                                        polling="raf", timeout=30_000).json_value()
            paint = page.evaluate("() => (performance.getEntriesByName('first-contentful-paint')[0] || {}).startTime")
            fcp.append(float(paint or at))
            shown.append(float(at))
        out[section] = (statistics.median(fcp), statistics.median(shown))
    context.close()
    return out


def measure() -> dict[int, dict[str, tuple[float, float]]]:
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium")
    if chromium is None:
        raise RuntimeError("Debian's chromium is needed (make test installs it)")
    results = {}
    work = Path(tempfile.mkdtemp(prefix="bench-ui-"))
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium, args=["--headless", "--no-sandbox",
                                                                         "--disable-gpu"])
            for count in (10, 1000):
                data = work / f"data-{count}"
                seed(data, count)
                proc, port, token = _serve(data)
                try:
                    results[count] = _measure(browser, port, token)
                finally:
                    os.killpg(proc.pid, 15)
                    proc.wait(timeout=15)
            browser.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return results


def rows() -> list[tuple[str, str, str, str]]:
    results = measure()
    load = os.getloadavg()[0]
    out = []
    for section in SECTIONS:
        small, big = results[10][section], results[1000][section]
        out.append((f"web UI {section}: first contentful paint / content on screen, 1,000 functions (10 beside it; "
                    f"median of {RUNS}, load {load:.1f})",
                    f"{big[0]:.0f} / {big[1]:.0f} ms ({small[0]:.0f} / {small[1]:.0f} ms; ×{big[1] / small[1]:.1f})",
                    f"≤ {TARGET_MS} ms", "met" if big[1] <= TARGET_MS else "MISSED"))
    return out


if __name__ == "__main__":
    for row in rows():
        print(" | ".join(row))
