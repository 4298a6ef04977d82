"""Where the time goes per invocation: cProfile of the invoke route in-process (the headers → event → app path
chalicelib/server.py's adapter runs for every request on its request thread, a real warm Python worker).

Writes bench/profile.txt. The HTTP server's own cost is the floor route measured in bench/run.py.
"""

from __future__ import annotations

import cProfile
import io
import pstats
import sys
import tempfile
import time
from pathlib import Path

from bench.noop_route import invoke_route


def profile(n: int = 2000) -> tuple[float, str]:
    """(µs per in-process invocation without the profiler, the profile's text); writes profile.txt."""
    with invoke_route(Path(tempfile.mkdtemp())) as call:
        for _ in range(200):
            call()
        started = time.perf_counter()
        for _ in range(n):
            call()
        plain_us = (time.perf_counter() - started) / n * 1e6
        prof = cProfile.Profile()
        prof.enable()
        for _ in range(n):
            call()
        prof.disable()
    out = io.StringIO()
    stats = pstats.Stats(prof, stream=out)
    stats.sort_stats("cumulative").print_stats(30)
    stats.sort_stats("tottime").print_stats(25)
    return plain_us, _write(plain_us, out.getvalue())


def _write(plain_us: float, table: str) -> str:
    text = (f"Invoke route in-process, no profiler: {plain_us:.0f} µs per call (chalicelib.server's headers → "
            f"event → Chalice app → warm Python worker and back; no sockets). Sorted by cumulative, then by own "
            f"time.\n\n" + table)
    for prefix, short in ((str(Path.cwd()) + "/", ""), (sys.base_prefix + "/lib/", "<python>/lib/")):
        text = text.replace(prefix, short)  # no machine paths in the checked-in file
    (Path(__file__).parent / "profile.txt").write_text(text)
    return text


if __name__ == "__main__":
    print(profile()[1][:3000])
