"""The floor: a trivial JSON Chalice route in fngate's server (granian + ChaliceRSGI), and under `chalice local`.

Both are measured in the same run as the gateway's own figures so every number has a peer.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.loadgen import Spec, run


def floor_route(seconds: float, port: int = 18600) -> dict:
    """bench.edge's trivial route in fngate's server, one process."""
    proc = subprocess.Popen([sys.executable, "-m", "bench.edge", "floor", "granian", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_port(port)
        time.sleep(0.5)
        return run(Spec("127.0.0.1", port, "GET", "/ping", {}), seconds=seconds)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def chalice_local(seconds: float, port: int) -> dict:
    """The same trivial route under `chalice local --no-autoreload` (Nagle + delayed ACK: ~44 ms per request)."""
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp) / "floorapp"
        (project / ".chalice").mkdir(parents=True)
        (project / ".chalice" / "config.json").write_text('{"version": "2.0", "app_name": "floorapp"}')
        (project / "app.py").write_text("from chalice import Chalice\napp = Chalice(app_name='floorapp')\n"
                                        "@app.route('/ping')\ndef ping():\n    return {'ok': True}\n")
        chalice = Path(sys.executable).parent / "chalice"
        proc = subprocess.Popen([str(chalice), "local", "--no-autoreload", "--port", str(port)], cwd=project,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=os.environ.copy())
        try:
            _wait_port(port)
            return run(Spec("127.0.0.1", port, "GET", "/ping", {}), seconds=seconds)
        finally:
            proc.terminate()
            proc.wait(timeout=10)


def _wait_port(port: int, timeout: float = 20.0) -> None:
    import socket

    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listening on {port}")
