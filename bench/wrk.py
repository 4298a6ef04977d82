"""wrk (C, epoll) as the load generator: it needs far less CPU per request than bench/loadgen.py, so on a 2-core
machine most of the CPU is left to the gateway. bench/invoke.lua builds the V1 invoke POST and prints a JSON summary
(throughput, latency percentiles, error counters, optionally every status) from wrk's ``done`` hook.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

SCRIPT = Path(__file__).with_name("invoke.lua")
ROUND_ROBIN = Path(__file__).with_name("roundrobin.lua")
TALLY = Path(__file__).with_name("tally.lua")  # response() and done(), loaded by both scripts
MARK = "FNGATE_WRK "


def available() -> str | None:
    return shutil.which("wrk")


def run(url: str, token: str, *, connections: int, seconds: float, threads: int = 1,
        count_statuses: bool = False) -> dict:
    """Drive the invoke ``url`` (path and query included) over ``connections`` keep-alive sockets.

    Returns the summary in bench/loadgen.py's shape: requests, rps, p50/p99/max ms, statuses, errors (socket
    errors + timeouts; answers with status >= 400 are counted in ``http_errors`` and, when counted, by status
    in ``statuses``).
    """
    env = {"FNGATE_WRK_COUNT": "1" if count_statuses else "0"}
    return _run(SCRIPT, url, [token], env, connections=connections, seconds=seconds, threads=threads)


def run_round_robin(base_url: str, targets: list[tuple[str, str]], *, connections: int, seconds: float,
                    threads: int = 1) -> dict:
    """Invoke each (path, token) of ``targets`` in turn; every status counted."""
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
        f.write("".join(f"{path} {token}\n" for path, token in targets))
    try:
        return _run(ROUND_ROBIN, base_url, [], {"FNGATE_WRK_TARGETS": f.name}, connections=connections,
                    seconds=seconds, threads=threads)
    finally:
        os.unlink(f.name)


def _run(script: Path, url: str, args: list[str], env: dict[str, str], *, connections: int, seconds: float,
         threads: int) -> dict:
    binary = available()
    if binary is None:
        raise RuntimeError("wrk is not installed")
    argv = [binary, "-t", str(threads), "-c", str(connections), "-d", f"{seconds:g}s", "--timeout", "10s",
            "-s", str(script), url, "--", *args]
    env = {**os.environ, **env, "FNGATE_WRK_TALLY": str(TALLY)}
    out = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=seconds + 30,
                         check=True).stdout
    line = next((x for x in out.splitlines() if x.startswith(MARK)), None)
    if line is None:
        raise RuntimeError(f"no summary in wrk's output:\n{out}")
    raw = json.loads(line[len(MARK):])
    err = raw["errors"]
    elapsed = raw["duration_us"] / 1e6
    return {"requests": raw["requests"], "rps": raw["requests"] / elapsed if elapsed else 0.0,
            "p50_ms": raw["p50_us"] / 1000, "p90_ms": raw["p90_us"] / 1000, "p99_ms": raw["p99_us"] / 1000,
            "max_ms": raw["max_us"] / 1000, "statuses": {int(k): v for k, v in raw["statuses"].items()},
            "errors": err["connect"] + err["read"] + err["write"] + err["timeout"], "socket_errors": err,
            "http_errors": err["status"], "no_retry_after": raw["no_retry_after"], "tool": "wrk"}
