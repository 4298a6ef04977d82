"""Logs and reports at scale: search over 1M stored log entries, export of 100,000 lines (throughput and gateway RSS
growth), reports over 1M invocations. Runs alone (`python -m bench.logs` prints the rows) and from bench/run.py.

Everything goes through the Chalice app in-process (routing, auth, rendering; no sockets), on a SQLite store in a
temporary directory. The export's memory is measured in a child process that does nothing else, from its
resident-set high-water mark (reset before the export through /proc/self/clear_refs).
"""

from __future__ import annotations

import json
import logging
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid as uuidlib
from pathlib import Path
from typing import Any

from chalicelib.clock import FrozenClock
from chalicelib.config import Settings
from chalicelib.services.container import Services, build_services, use_services
from chalicelib.storage.base import EXPIRES_AT, Put
from tests.fakes import FakeExecutor

ACCOUNT = "benchlogs"
DAY_MS = 86_400_000
NOW_S = 1_767_225_600 + 29 * 86_400  # 2026-01-30T00:00Z: a month of data before it
T0 = (NOW_S - 10 * 86_400) * 1000  # log records span the 10 days before now
LEVELS = ("Info", "Info", "Info", "Warn", "Error")


def _quiet() -> None:
    """The access line of every request would drown the figures."""
    for name in ("fngate", "chalicelib"):
        logging.getLogger(name).setLevel(logging.WARNING)


def _services(data: Path) -> Services:
    _quiet()
    settings = Settings(data_dir=data, jobs="inline", records="sync")
    return build_services(settings, executor=FakeExecutor(), clock=FrozenClock(NOW_S))


def _function(svc: Services, name: str) -> str:
    from chalicelib.domain.permissions import ALL_ROLES, Principal
    from chalicelib.services.functions import FunctionChanges

    dev = Principal(ACCOUNT, "bench", "user", roles=ALL_ROLES)
    return svc.functions.create(dev, FunctionChanges(name=name, description="bench")).uuid


def _records(svc: Services, fns: list[str], records: int, per_record: int, span_ms: int, start_ms: int) -> None:
    rng = random.Random(11)
    ops: list[Put] = []
    for i in range(records):
        fn = fns[i % len(fns)]
        at = start_ms + rng.randrange(span_ms)
        rid = str(uuidlib.UUID(int=rng.getrandbits(128), version=4))
        logs = [{"level": LEVELS[(i + j) % 5], "message": f"step {j} of order {i} went {rng.choice(('ok', 'slow'))}",
                 "extras": [{"order": i}], "timestamp": at} for j in range(per_record)]
        ops.append(Put("invocation", f"{ACCOUNT}#{fn}", f"{at:013d}#{rid}",
                       {"function_uuid": fn, "request_id": rid, "status": "SUCCEEDED", "at": at, "logs": logs,
                        "duration_ms": 1.0, "source": "bench", EXPIRES_AT: NOW_S + 20 * 86_400}))
        if len(ops) == 100:
            svc.store.transact(ops)
            ops = []
    if ops:
        svc.store.transact(ops)


def _p50_ms(call: Any, n: int = 30) -> tuple[float, float]:
    call()
    times = []
    for _ in range(n):
        t = time.perf_counter()
        call()
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95)]


def search_and_reports(work: Path) -> dict[str, Any]:
    from chalice.test import Client

    from app import app

    svc = _services(work / "search")
    creds = svc.identity.bootstrap(ACCOUNT)
    token = {"Authorization": f"Bearer {creds['developerToken']}"}
    fns = [_function(svc, f"f{i}") for i in range(10)]
    started = time.perf_counter()
    _records(svc, fns, 100_000, 10, 10 * DAY_MS, T0)  # 1M log entries: 10 functions × 10 days × 1,000 runs
    write_s = time.perf_counter() - started
    started = time.perf_counter()
    rng = random.Random(5)
    month_start = (NOW_S - 29 * 86_400) * 1000
    batch = []
    for i in range(1_000_000):
        batch.append({"function_uuid": fns[i % 10], "at": month_start + rng.randrange(29 * DAY_MS),
                      "status": "SUCCEEDED" if rng.random() > 0.02 else "CODING_FAILURE",
                      "duration_ms": rng.lognormvariate(0, 0.6)})
        if len(batch) == 20_000:
            svc.recorder.stats.fold(ACCOUNT, batch)
            batch = []
    fold_s = time.perf_counter() - started
    base = f"/api/account/{ACCOUNT}"
    day = f"startTimestamp={T0 + 3 * DAY_MS}&endTimestamp={T0 + 4 * DAY_MS - 1}"
    out: dict[str, Any] = {"write_s": write_s, "fold_s": fold_s}
    with use_services(svc), Client(app) as client:
        def get(path: str) -> Any:
            res = client.http.get(path, headers=token)
            assert res.status_code == 200, res.body
            return json.loads(res.body)

        assert len(get(f"{base}/logs?lambdaUUID={fns[3]}&{day}")["logs"]) == 100
        out["search"] = _p50_ms(lambda: get(f"{base}/logs?lambdaUUID={fns[3]}&{day}"))
        out["search_all"] = _p50_ms(lambda: get(f"{base}/logs?{day}"))
        out["search_level"] = _p50_ms(lambda: get(f"{base}/logs?lambdaUUID={fns[3]}&{day}&filterLevels=Error"))
        out["search_rid"] = _p50_ms(lambda: get(f"{base}/logs?lambdaUUID={fns[3]}&{day}&requestId=none"), 10)
        out["search_text"] = _p50_ms(lambda: get(f"{base}/logs?lambdaUUID={fns[3]}&{day}&text=order 99999 "), 10)
        now_ms = NOW_S * 1000
        out["counts"] = _p50_ms(lambda: get(f"{base}/reports/invocationCounts?v=1&startTimestamp={month_start}"
                                            f"&endTimestamp={now_ms}"))
        out["counts_cut"] = _p50_ms(lambda: get(f"{base}/reports/invocationCounts?v=1&startTimestamp="
                                                f"{month_start + 3_600_000}&endTimestamp={now_ms - 3_600_000}"))
        out["metrics"] = _p50_ms(lambda: get(f"{base}/reports/invocations/{fns[0]}?v=1&startTimestamp="
                                             f"{now_ms - 29 * DAY_MS}&endTimestamp={now_ms}&bucketSize=86400"))
        out["metrics_7d"] = _p50_ms(lambda: get(f"{base}/reports/invocations/{fns[0]}?v=1&startTimestamp="
                                                f"{now_ms - 7 * DAY_MS}&endTimestamp={now_ms}&bucketSize=3600"))
        out["home"] = _p50_ms(lambda: get(f"{base}/reports/home"))
    svc.close()
    return out


_CHILD = """
import json, sys, time
from pathlib import Path
from bench.logs import _export_child
print(json.dumps(_export_child(Path(sys.argv[1]), sys.argv[2] == "gzip")))
"""


def _rss_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _export_child(data: Path, gzip: bool) -> dict[str, Any]:
    """One export in a fresh process; the gzip body is built by the route's own writer (the in-process test client
    can't carry bytes), the plain one through the app."""
    from chalice.test import Client

    from app import app

    svc = _services(data)
    creds = svc.identity.bootstrap(ACCOUNT)
    fn = (data / "fn").read_text()
    headers = {"Authorization": f"Bearer {creds['developerToken']}"}
    path = f"/api/account/{ACCOUNT}/logs/export?v=1&lambdaUUID={fn}&startTimestamp={T0}&endTimestamp={NOW_S * 1000}"
    with use_services(svc), Client(app) as client:
        client.http.get(path.replace(f"={T0}&", f"={NOW_S * 1000 - 1}&"), headers=headers)  # warm up the route
        _gzip_export(svc, fn, NOW_S * 1000 - 1)
        Path("/proc/self/clear_refs").write_text("5")  # reset the high-water mark
        before = _rss_kb("VmRSS")
        started = time.perf_counter()
        if gzip:
            size = len(_gzip_export(svc, fn, T0))
        else:
            res = client.http.get(path, headers=headers)
            assert res.status_code == 200 and res.body.count(b"\n") == 100_001
            size = len(res.body)
        took = time.perf_counter() - started
        peak = _rss_kb("VmHWM")
    svc.close()
    return {"seconds": took, "bytes": size, "growth_mb": (peak - before) / 1024}


def _gzip_export(svc: Services, fn: str, start_ms: int) -> bytes:
    from chalicelib.api.logs import body_of, csv_lines
    from chalicelib.domain.permissions import ALL_ROLES, Principal
    from chalicelib.services.logs import LogFilter

    who = Principal(ACCOUNT, "bench", "user", roles=ALL_ROLES)
    entries = svc.logs.export(who, LogFilter(start_ms, NOW_S * 1000, (fn,)))
    body = body_of(csv_lines(entries), gzip=True)
    assert isinstance(body, bytes)
    return body


def export(work: Path) -> dict[str, Any]:
    data = work / "export"
    svc = _services(data)
    svc.identity.bootstrap(ACCOUNT)
    fn = _function(svc, "exported")
    _records(svc, [fn], 10_000, 10, 10 * DAY_MS, T0)  # 100,000 lines
    (data / "fn").write_text(fn)
    svc.close()
    out = {}
    for mode in ("plain", "gzip"):
        run = subprocess.run([sys.executable, "-c", _CHILD, str(data), mode], capture_output=True, text=True,
                             check=True, cwd=Path(__file__).resolve().parents[1])
        out[mode] = json.loads(run.stdout.strip().splitlines()[-1])
    return out


def access_line_us(n: int = 20_000) -> float:
    """The cost of one access line (bind the request's keys, format the JSON line, write it), written to
    /dev/null, median of 5 rounds: what FNGATE_LOG_LEVEL=WARNING saves on every answered request."""
    from chalicelib.observability import LOGGER, configure

    configure()
    handler = LOGGER.registered_handler
    stream, level = handler.stream, logging.getLogger("fngate").level
    fields = {"route": "/api/account/{account_id}/lambdas/{uuid}/invoke", "method": "POST", "status": 200,
              "duration_ms": 0.312, "outcome": "ok", "function": str(uuidlib.uuid4())}
    rounds = []
    with open("/dev/null", "w") as sink:
        handler.stream = sink
        logging.getLogger("fngate").setLevel(logging.INFO)
        try:
            for _ in range(5):
                started = time.perf_counter()
                for _ in range(n):
                    LOGGER.thread_safe_append_keys(request_id="r", account="a")
                    LOGGER.info("request", extra=fields)
                    LOGGER.thread_safe_clear_keys()
                rounds.append((time.perf_counter() - started) / n * 1e6)
        finally:
            handler.stream = stream
            logging.getLogger("fngate").setLevel(level)
    return statistics.median(rounds)


def rows() -> list[tuple[str, str, str, str]]:
    access_us = access_line_us()
    work = Path(tempfile.mkdtemp(prefix="fngate-bench-logs-"))
    s = search_and_reports(work)
    e = export(work)

    def ms(pair: tuple[float, float]) -> str:
        return f"{pair[0]:.1f} ms (p95 {pair[1]:.1f})"

    def verdict(ok: bool) -> str:
        return "met" if ok else "**missed**"

    plain, packed = e["plain"], e["gzip"]
    return [
        ("access line per request (Powertools Logger: bind keys, format, write; to /dev/null)",
         f"{access_us:.0f} µs", "– (FNGATE_LOG_LEVEL=WARNING leaves it out)", "–"),
        ("log search, one function and one day, first page of 100, over 1M stored log entries (100,000 "
         "invocations × 10 lines, 10 functions, 10 days) — in-process app", ms(s["search"]),
         f"≤ 50 ms (storing them took {s['write_s']:.0f} s)", verdict(s["search"][0] <= 50)),
        ("… the same over all 10 functions (no lambdaUUID) / with filterLevels=Error / with a requestId that "
         "matches nothing / with a text that matches nothing (both read the whole day: 10,000 lines)",
         f"{ms(s['search_all'])} / {ms(s['search_level'])} / {ms(s['search_rid'])} / {ms(s['search_text'])}",
         "–", "–"),
        ("log export, 100,000 lines of one function as CSV: time, throughput, size / gateway RSS growth while "
         "writing it (plain text, then gzip as lpf asks)",
         f"{plain['seconds'] * 1000:.0f} ms, {100_000 / plain['seconds']:.0f} lines/s, "
         f"{plain['bytes'] / 1e6:.1f} MB / {plain['growth_mb']:.1f} MB; gzip {packed['seconds'] * 1000:.0f} ms, "
         f"{packed['bytes'] / 1e6:.1f} MB / {packed['growth_mb']:.1f} MB",
         "RSS growth ≤ 10 MB", verdict(packed["growth_mb"] <= 10)),
        ("reports over 1M invocations (10 functions, one month): invocationCounts for the month / the month cut "
         "1 h inside both ends (5-minute edges) — in-process app", f"{ms(s['counts'])} / {ms(s['counts_cut'])}",
         f"≤ 200 ms (folding 1M records took {s['fold_s']:.0f} s)",
         verdict(max(s["counts"][0], s["counts_cut"][0]) <= 200)),
        ("reports over 1M invocations: one function's metrics, 29 days in 1-day buckets / 7 days in 1-hour "
         "buckets (lpf metrics) / Home figures", f"{ms(s['metrics'])} / {ms(s['metrics_7d'])} / {ms(s['home'])}",
         "≤ 200 ms", verdict(max(s["metrics"][0], s["metrics_7d"][0], s["home"][0]) <= 200)),
    ]


if __name__ == "__main__":
    for row in rows():
        print("| " + " | ".join(row) + " |")
