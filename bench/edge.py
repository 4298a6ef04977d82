"""The HTTP edge, measured side by side in one run.

1. Servers on one trivial Chalice route (1 worker process each): granian + ChaliceRSGI, gunicorn gthread with the
   same adapter read synchronously (WSGI), and granian + the WSGI adapter of BASE (the commit before the RSGI
   adapter, unpacked from git and run with the same virtualenv).
2. The gateway itself: `fngate serve --processes 1` and `--processes 2`, today's and BASE's: no-op invocations,
   gateway CPU per invocation, RSS; account overload across processes; 1,000 functions round robin under the
   warm-worker cap. The hand-written server fngate had before granian no longer runs beside today's code (its
   commit's requirements and store differ); its figures are quoted from the earlier run that measured it.
3. Where the CPU went: the request path's parts before and after, each measured both ways in this run.
4. What handing invocations to one owner process would add per call: a JSON round trip over a unix socket.

Commands: ``python -m bench.edge`` runs all of it and puts the section into bench/results.md (the rest of the file
is `make bench`'s); ``python -m bench.edge floor granian|gunicorn PORT`` serves the trivial route.
"""

from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import tarfile
import time
from io import BytesIO
from pathlib import Path
from typing import Any

from chalice import Chalice

ROOT = Path(__file__).resolve().parents[1]
PREVIOUS = "d29d1ba"  # the last commit with the hand-written HTTP server (chalicelib/server.py before granian)
# Its rows, measured side by side with granian + the WSGI adapter in the run of 2026-11-27 08:26 UTC
PREVIOUS_FIGURES = {"python": "0.242 / 2.154 ms", "node": "0.239 / 1.690 ms", "rps": "2499 req/s, 0 socket errors",
                    "cpu_us": "431 µs", "rss": "32 / 41 MB (1 process)", "workers": "217 MB",
                    "floor": "0.088 / 0.157 ms", "floor_rps": "11887"}
BASE = "34b85ce"  # the gateway with granian's WSGI interface, before the RSGI adapter and the CPU cuts
ROUND_BASE = "04d6fba"  # RSGI, every request (invocations too) run on a request thread: the round before the loop
ROUNDS = 3  # each server measured this many times, all taking turns, so load from elsewhere hits them alike
FLOOR_APP = Chalice(app_name="floor")


@FLOOR_APP.route("/ping", methods=["GET", "POST"], content_types=["*/*"])
def ping() -> dict[str, bool]:
    return {"ok": True}


def floor_rsgi() -> Any:
    from chalicelib.server import ChaliceRSGI

    return ChaliceRSGI(FLOOR_APP)


def floor_wsgi() -> Any:
    """gunicorn's side of the comparison: the same adapter, the body read synchronously."""
    from chalicelib.server import ChaliceAdapter, Refused

    adapter = ChaliceAdapter(FLOOR_APP)

    def wsgi(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        headers = {k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")}
        for key, name in (("CONTENT_TYPE", "content-type"), ("CONTENT_LENGTH", "content-length")):
            if environ.get(key):
                headers[name] = environ[key]
        method, path, query = environ["REQUEST_METHOD"], environ["PATH_INFO"], environ.get("QUERY_STRING", "")
        version = environ["SERVER_PROTOCOL"].removeprefix("HTTP/")
        try:
            target = adapter.target(method, path, headers, version)
            size = adapter.body_size(headers, version)
            body = environ["wsgi.input"].read(size) if size else None
            status, out, data = adapter.respond(target, path, query, headers, environ.get("REMOTE_ADDR", ""), body)
        except Refused as refused:
            status, out, data = adapter.refusal(refused, method, path, headers, query)
        start_response(f"{status} -", out)
        return [data]

    return wsgi


def serve_floor(kind: str, port: int) -> None:
    if kind == "granian":
        from chalicelib.server import serve

        serve(floor_rsgi, "127.0.0.1", port, processes=1)
    else:
        os.execv(sys.executable, [sys.executable, "-m", "gunicorn", "-k", "gthread", "--threads", "16", "-w", "1",
                                  "-b", f"127.0.0.1:{port}", "--log-level", "warning", "bench.edge:floor_wsgi()"])


def _start(argv: list[str], port: int, cwd: Path = ROOT, env: dict[str, str] | None = None) -> subprocess.Popen:
    from bench.floor import _wait_port

    proc = subprocess.Popen(argv, cwd=cwd, env={**os.environ, **(env or {})}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    _wait_port(port)
    return proc


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def server_comparison(base: Path, port: int = 18620) -> list[tuple[str, dict, dict, float]]:
    """(server, 1-connection result, 16-connection result, CPU µs per request) for each server on the trivial
    route (wrk); ``base`` is BASE's checkout. The servers run at once and take ROUNDS turns; medians."""
    from bench import wrk

    kinds = (("granian", "granian", ROOT), ("gunicorn", "gunicorn", ROOT), ("base", "granian", base))
    procs = {}
    try:
        for offset, (kind, server, cwd) in enumerate(kinds):
            procs[kind] = (_start([sys.executable, "-m", "bench.edge", "floor", server, str(port + offset)],
                                  port + offset, cwd=cwd), port + offset)
        time.sleep(0.5)
        turns: dict[str, list[tuple[dict, dict, float]]] = {kind: [] for kind in procs}
        for turn in range(ROUNDS):
            order = list(procs)
            for kind in order[turn % len(order):] + order[:turn % len(order)]:
                proc, at = procs[kind]
                pids = [proc.pid, *_children(proc.pid)]
                url = f"http://127.0.0.1:{at}/ping"
                wrk.run(url, "", connections=1, seconds=1.0)  # warm-up
                one = wrk.run(url, "", connections=1, seconds=2.0)
                before = cpu_seconds(pids)
                many = wrk.run(url, "", connections=16, seconds=2.0, count_statuses=True)
                turns[kind].append((one, many, (cpu_seconds(pids) - before) / max(1, many["requests"]) * 1e6))
    finally:
        for proc, _ in procs.values():
            _stop(proc)
    out = []
    for kind, results in turns.items():
        one = {key: statistics.median(r[0][key] for r in results) for key in ("p50_ms", "p99_ms")}
        many = sorted((r[1] for r in results), key=lambda r: r["rps"])[len(results) // 2]
        out.append((kind, one, many, statistics.median(r[2] for r in results)))
    return out


def _children(pid: int) -> list[int]:
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(x) for x in found.split()]


def checkout(work: Path, commit: str) -> Path:
    """The repository as of ``commit``, unpacked (run with this virtualenv)."""
    target = work / commit
    if not target.exists():
        archive = subprocess.run(["git", "archive", commit], cwd=ROOT, capture_output=True, check=True).stdout
        with tarfile.open(fileobj=BytesIO(archive)) as tar:
            tar.extractall(target, filter="data")
    return target


# -- the gateway ----------------------------------------------------------------------------------------------
def gateway_pids(root: int) -> list[int]:
    """The serving processes of a gateway (the process tree's Python processes running the CLI; not the zygote or
    function workers)."""
    pids, stack = [], [root]
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    while stack:
        pid = stack.pop()
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"chalicelib.cli" in cmdline:
            pids.append(pid)
            stack += children.get(pid, [])
    return pids


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def rss_mb(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().split("\n"):
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) / 1024
        except OSError:
            continue
    return total


def gateway_rows(work: Path, base: Path, port: int = 18630) -> dict[str, dict[str, Any]]:
    """Per variant: 1-conn python/node p50/p99, 16-conn python throughput, CPU µs per invocation (each the median
    of ROUNDS turns), RSS. The four gateways run at once and take turns under wrk."""
    from bench import wrk
    from bench.run import NOOP_NODE, NOOP_PY, SETTLE_S, Gateway

    variants = {"processes 1": (("--processes", "1"), ROOT), "processes 2": (("--processes", "2"), ROOT),
                "base processes 1": (("--processes", "1"), base), "base processes 2": (("--processes", "2"), base)}
    gateways: dict[str, Any] = {}
    state: dict[str, dict[str, Any]] = {}
    try:
        for offset, (name, (args, cwd)) in enumerate(variants.items()):
            gateways[name] = Gateway(work, port + offset, {"FNGATE_ACCOUNT_RATE": "1000000"}, args=args,
                                     cwd=cwd)  # no 429s here
        time.sleep(SETTLE_S)
        for name, gw in gateways.items():
            pids = gateway_pids(gw.proc.pid)
            uuids = {lang: gw.create(f"noop-{lang}", code, runtime) for lang, code, runtime in
                     (("python", NOOP_PY, "python3.11"), ("node", NOOP_NODE, "nodejs20"))}
            for uuid in uuids.values():
                gw.deploy_and_first_invoke(uuid)
                for _ in range(20):  # every process has a warm worker for it
                    gw.invoke(uuid)
            state[name] = {"pids": pids, "uuids": uuids, "idle_mb": rss_mb(pids), "one": [], "many": [], "cpu": []}
        names = list(gateways)
        for turn in range(ROUNDS):
            for name in names[turn % len(names):] + names[:turn % len(names)]:
                gw, st = gateways[name], state[name]
                st["one"].append({lang: wrk.run(gw.url(uuid), gw.token, connections=1, seconds=3.0)
                                  for lang, uuid in st["uuids"].items()})
                before = cpu_seconds(st["pids"])
                many = wrk.run(gw.url(st["uuids"]["python"]), gw.token, connections=16, seconds=4.0,
                               count_statuses=True)
                st["cpu"].append((cpu_seconds(st["pids"]) - before) / max(1, many["requests"]) * 1e6)
                st["many"].append(many)
        results: dict[str, dict[str, Any]] = {}
        for name, gw in gateways.items():
            st = state[name]
            loaded = rss_mb(gateway_pids(gw.proc.pid))
            _, everything = gw.rss_mb()
            one = {lang: {key: statistics.median(r[lang][key] for r in st["one"]) for key in ("p50_ms", "p99_ms")}
                   for lang in ("python", "node")}
            many = sorted(st["many"], key=lambda r: r["rps"])[len(st["many"]) // 2]
            results[name] = {"one": one, "many": many, "cpu_us": statistics.median(st["cpu"]), "cpu_all": st["cpu"],
                             "idle_mb": st["idle_mb"], "loaded_mb": loaded, "processes": len(st["pids"]),
                             "workers_mb": sum(everything) - (loaded - rss_mb([gw.proc.pid]))}
        return results
    finally:
        for gw in gateways.values():
            gw.stop()


def overload(work: Path, port: int = 18640) -> dict[str, Any]:
    """Account rate 500/s on 2 processes, 32 connections: the account's 200s per second and the 429s."""
    from bench import wrk
    from bench.run import NOOP_PY, Gateway

    gw = Gateway(work, port, {"FNGATE_ACCOUNT_RATE": "500"}, args=("--processes", "2"))
    try:
        uuid = gw.create("noop-over", NOOP_PY, "python3.11")
        gw.deploy_and_first_invoke(uuid)
        time.sleep(1.5)  # the bucket refills to its burst (500)
        seconds = 4.0
        result = wrk.run(gw.url(uuid), gw.token, connections=32, seconds=seconds, count_statuses=True)
    finally:
        gw.stop()
    result["ok_per_s"] = result["statuses"].get(200, 0) / seconds
    return result


def fleet_by_processes(work: Path, port: int = 18650, count: int = 1000, cap: int = 16) -> dict[int, dict]:
    """1,000 Python functions round robin under FNGATE_MAX_WORKERS=cap, with 1 and 2 processes."""
    from bench import fleet
    from bench.run import NOOP_PY, Gateway

    out = {}
    for processes in (1, 2):
        gw = Gateway(work, port, {"FNGATE_MAX_WORKERS": str(cap)}, args=("--processes", str(processes)))
        try:
            client = fleet.Client(gw.port)
            fns = fleet.deploy_fleet(gw.data, client, count, NOOP_PY, "python3.11", "fleet")
            with fleet.RssSampler(gw.rss_mb) as sampler:
                robin = fleet.round_robin(gw.port, fns, connections=4, seconds=8.0)
            out[processes] = {"robin": robin, "peak_total": sampler.peak_total,
                              "peak_workers": sampler.peak_workers, "peak_count": sampler.peak_count}
        finally:
            gw.stop()
        port += 1
    return out


def handover_round_trip(n: int = 5000) -> dict[str, float]:
    """p50/p99 µs of a ~300-byte JSON request and answer between two processes over a unix socket: what an owner
    process of all function workers would add to every invocation handed to it."""
    parent, child = socket.socketpair()
    pid = os.fork()
    if pid == 0:  # the echoing owner
        parent.close()
        reader = child.makefile("rb")
        for line in reader:
            child.sendall(json.dumps({"result": json.loads(line)["payload"], "logs": []}).encode() + b"\n")
        os._exit(0)
    child.close()
    reader = parent.makefile("rb")
    message = json.dumps({"uuid": "0" * 36, "account": "bench", "payload": {"timestamp": 0, "headers": [],
                                                                            "payload": {"x": "y" * 150}}}).encode()
    times = []
    for _ in range(n):
        started = time.perf_counter()
        parent.sendall(message + b"\n")
        json.loads(reader.readline())
        times.append((time.perf_counter() - started) * 1e6)
    parent.shutdown(socket.SHUT_RDWR)  # the owner sees end of file and exits
    reader.close()
    parent.close()
    os.waitpid(pid, 0)
    times.sort()
    return {"p50_us": statistics.median(times), "p99_us": times[int(n * 0.99)]}


def cpu_parts() -> dict[str, dict[str, float]]:
    out = subprocess.run([sys.executable, "-m", "bench.cpu_parts"], cwd=ROOT, capture_output=True, text=True,
                         check=True, timeout=600).stdout
    return json.loads(out.strip().splitlines()[-1])


def stalled_bodies(port: int = 18660, stalled: int = 600, cwd: Path = ROOT) -> dict[str, Any]:
    """`stalled` connections (more than a process's request threads) send headers and 10 of 1,000 body bytes and
    stall, on a gateway of one process (of the checkout ``cwd``); a normal client meanwhile invokes over one
    keep-alive connection."""
    import tempfile

    from bench import wrk
    from bench.run import NOOP_PY, Gateway

    gw = Gateway(Path(tempfile.mkdtemp(prefix="fngate-stall-")), port, {"FNGATE_ACCOUNT_RATE": "1000000"},
                 args=("--processes", "1"), cwd=cwd)
    socks = []
    try:
        uuid = gw.create("noop-stall", NOOP_PY, "python3.11")
        gw.deploy_and_first_invoke(uuid)
        head = (f"POST {gw.invoke_path(uuid)} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {gw.token}\r\n"
                "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n").encode()
        for _ in range(stalled):
            sock = socket.create_connection(("127.0.0.1", port))
            sock.sendall(head + b"{" * 10)
            socks.append(sock)
        result = wrk.run(gw.url(uuid), gw.token, connections=1, seconds=3.0, count_statuses=True)
    finally:
        for sock in socks:
            sock.close()
        gw.stop()
    return {"stalled": stalled, **result}


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "floor":
        serve_floor(sys.argv[2], int(sys.argv[3]))


def _lat(r: dict) -> str:
    return f"{r['p50_ms']:.3f} / {r['p99_ms']:.3f} ms"


def section(work: Path) -> list[str]:
    """The markdown of this module's measurements (wrk needed)."""
    from datetime import UTC, datetime

    from chalicelib.server import THREADS_PER_PROCESS

    load_start, started = os.getloadavg()[0], time.perf_counter()
    base = checkout(work, BASE)
    servers = server_comparison(base)
    gateways = gateway_rows(work, checkout(work, ROUND_BASE))
    parts = cpu_parts()
    stall, stall_before = stalled_bodies(), stalled_bodies(18661, cwd=base)
    over = overload(work)
    fleets = fleet_by_processes(work)
    hop = handover_round_trip()
    load_end = os.getloadavg()[0]
    lines = ["## The HTTP edge and server processes", "",
             f"Measured side by side in one run ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC, "
             f"{(time.perf_counter() - started) / 60:.1f} min; load average (1 min) {load_start:.1f} at its start, "
             f"{load_end:.1f} at its end, on this 2-core machine shared with other work: compare within a table, "
             f"and prefer the ratios). In the gateway table `before` is commit {ROUND_BASE} (every request, "
             "invocations too, run on a request thread); elsewhere it is commit "
             f"{BASE} (granian's WSGI interface); both unpacked from git and run with the same virtualenv. "
             "The hand-written server "
             f"of commit {PREVIOUS} (`previous`) no longer runs beside today's code; its figures are quoted "
             "from the earlier run of 2026-11-27 08:26 UTC that measured it beside granian (WSGI).", "",
             f"### Servers on one trivial Chalice route (1 worker process each, wrk; medians of {ROUNDS} turns)", "",
             "| server | p50 / p99, 1 keep-alive conn | req/s, 16 conns | CPU per request, 16 conns | errors |",
             "|---|---|---|---|---|"]
    names = {"granian": "granian 2.8 + ChaliceRSGI (uvloop; body read on the loop, app on a thread)",
             "gunicorn": "gunicorn 27 gthread (16 threads) + the same adapter (WSGI)",
             "base": f"before: granian 2.8 + the WSGI adapter ({BASE})"}
    for kind, one, many, cpu_us in servers:
        lines.append(f"| {names[kind]} | {_lat(one)} | {many['rps']:.0f} | {cpu_us:.0f} µs | {many['errors']} |")
    lines.append(f"| previous hand-written server (earlier run) | {PREVIOUS_FIGURES['floor']} | "
                 f"{PREVIOUS_FIGURES['floor_rps']} | – | 0 |")
    g = gateways
    order = ["processes 1", "processes 2", "base processes 1", "base processes 2"]
    lines += ["", "### The gateway: no-op invocations (V1 invoke, app JWT, wrk)", "",
              "| figure | `--processes 1` | `--processes 2` | before, 1 | before, 2 | previous server (earlier run) "
              "| target |", "|---|---|---|---|---|---|---|"]
    for lang in ("python", "node"):
        lines.append(f"| {lang} p50 / p99, 1 keep-alive conn (3 s; medians of {ROUNDS} turns) | "
                     + " | ".join(_lat(g[v]["one"][lang]) for v in order)
                     + f" | {PREVIOUS_FIGURES[lang]} | ≤ 0.4 / ≤ 1.5 ms |")
    lines.append("| python throughput, 16 keep-alive conns (the median turn) | " + " | ".join(
        f"{g[v]['many']['rps']:.0f} req/s, {g[v]['many']['errors']} socket errors, statuses {g[v]['many']['statuses']}"
        for v in order) + f" | {PREVIOUS_FIGURES['rps']} | ≥ 2,500/s, 0 errors |")
    lines.append(f"| gateway CPU per invocation (server processes' user + system time / requests, 16 conns; median "
                 f"of {ROUNDS} turns, the turns in brackets) | "
                 + " | ".join(f"{g[v]['cpu_us']:.0f} µs ({', '.join(f'{x:.0f}' for x in g[v]['cpu_all'])})"
                              for v in order) + f" | {PREVIOUS_FIGURES['cpu_us']} | ≤ 200 µs |")
    lines.append("| … after / before | " + f"{g['processes 1']['cpu_us'] / g['base processes 1']['cpu_us']:.2f} | "
                 f"{g['processes 2']['cpu_us'] / g['base processes 2']['cpu_us']:.2f} | 1 | 1 | – | – |")
    lines.append("| RSS of the server processes, idle / after load | " + " | ".join(
        f"{g[v]['idle_mb']:.0f} / {g[v]['loaded_mb']:.0f} MB ({g[v]['processes']} processes)" for v in order)
        + f" | {PREVIOUS_FIGURES['rss']} | – |")
    lines.append("| RSS of zygotes, spares and function workers after load | " + " | ".join(
        f"{g[v]['workers_mb']:.0f} MB" for v in order) + f" | {PREVIOUS_FIGURES['workers']} | – |")
    lines += ["", "### Where the CPU went: the parts cut, each measured both ways in one process "
                  "(bench/cpu_parts.py; CPU of the calling thread, best of 5)", "",
              "| part of the request path | before | after | after / before |", "|---|---|---|---|"]
    labels = {"access_line": "access line (Powertools Logger → the same JSON written directly)",
              "freshness": "function freshness check (keys-only Query → Store.version)",
              "limiter": "account admission, one process (shared file + flock → in memory)",
              "invoke_gc": "whole invoke route in-process, no HTTP (start-up objects frozen out of the collector)"}
    for key, label in labels.items():
        b, a = parts[key]["before"], parts[key]["after"]
        lines.append(f"| {label} | {b:.1f} µs | {a:.1f} µs | {a / b:.2f} |")
    b, a = parts["invoke_gc"]["pause_before"], parts["invoke_gc"]["pause_after"]
    lines.append(f"| a full collection's pause in that process (what a request waits when one runs) | {b:.2f} ms | "
                 f"{a:.2f} ms | {a / b:.2f} |")
    f0, f1 = servers[2][3], servers[0][3]
    lines.append(f"| HTTP server and hand-over, trivial route (table above: granian WSGI → RSGI + request threads) | "
                 f"{f0:.0f} µs | {f1:.0f} µs | {f1 / f0:.2f} |")
    lines += ["", "### A stalled request body holds no thread", "",
              f"{stall['stalled']} connections (more than the {THREADS_PER_PROCESS} request threads of the one "
              f"process) each send an invoke's headers and 10 of its 1,000 body bytes, then stall; meanwhile one "
              f"client invokes over a keep-alive connection for 3 s (wrk): {stall['requests']} answers, p50 / p99 "
              f"{_lat(stall)}, statuses {stall['statuses']}, socket errors {stall['errors']}. The same on `before` "
              f"(granian's WSGI interface, where each stalled body holds one of the 256 threads): "
              f"{stall_before['requests']} answers, statuses {stall_before['statuses']}, socket errors "
              f"{stall_before['errors']} (timeouts {stall_before['socket_errors']['timeout']}).", "",
              "### Overload across processes", "",
              f"Account rate 500/s (burst 500), `--processes 2`, 32 connections for 4 s (wrk): "
              f"{over['statuses'].get(200, 0)} answered 200 ({over['ok_per_s']:.0f}/s: the account's rate plus its "
              f"burst, not twice it), {over['statuses'].get(429, 0)} answered 429, 429s without Retry-After "
              f"{over['no_retry_after']}, socket errors {over['errors']}, statuses {over['statuses']}.", "",
              "### Function workers with several processes: 1,000 Python functions round robin, "
              "FNGATE_MAX_WORKERS=16, 4 conns (wrk)", "",
              "| processes | peak RSS gateway + workers | workers (processes) | invokes/s | p50 / p99 | statuses |",
              "|---|---|---|---|---|---|"]
    for processes, f in fleets.items():
        r = f["robin"]
        lines.append(f"| {processes} | {f['peak_total']:.0f} MB | {f['peak_workers']:.0f} MB (≤ {f['peak_count']}) | "
                     f"{r['rps']:.0f} | {_lat(r)} | {r['statuses']} |")
    lines += ["", f"Handing an invocation to an owner process instead (one JSON request and answer over a unix socket "
                  f"between two processes, ~300 bytes): p50 {hop['p50_us']:.0f} µs, p99 {hop['p99_us']:.0f} µs "
                  "per call, in the gateway's CPU on top of today's path (and a third process on the hot path).", ""]
    return lines


def update_results(lines: list[str]) -> None:
    """Replaces this section of bench/results.md, and the notes after it (the rest of the file is `make bench`'s)."""
    from bench.run import NOTES

    path = Path(__file__).with_name("results.md")
    text = path.read_text()
    start = text.index("## The HTTP edge and server processes")
    path.write_text(text[:start] + "\n".join([*lines, "## NOTES", "", *NOTES]) + "\n")


if __name__ == "__main__" and len(sys.argv) == 1:
    import tempfile

    from bench.run import ensure_wrk

    if not ensure_wrk():
        raise SystemExit("wrk is needed: make bench installs it")
    section_lines = section(Path(tempfile.mkdtemp(prefix="fngate-edge-")))
    update_results(section_lines)
    print("\n".join(section_lines))
