"""Where the time goes per invocation: cProfile of the invoke route in-process (LocalGateway, real warm worker).

Writes bench/profile.txt. The HTTP server's own cost is the floor route measured in bench/run.py.
"""

from __future__ import annotations

import cProfile
import io
import pstats
import tempfile
import time
from pathlib import Path

from chalice.config import Config
from chalice.local import LocalGateway

from app import app
from chalicelib.config import Settings
from chalicelib.services.container import build_services, install
from chalicelib.services.functions import FunctionChanges

NOOP = "def lambda_handler(input, callback):\n    callback(None, None)\n"


def profile(n: int = 2000) -> str:
    svc = build_services(Settings(data_dir=Path(tempfile.mkdtemp()), sync_deployments=True))
    install(svc)
    try:
        creds = svc.identity.bootstrap("acc")
        dev = svc.identity.authenticate("acc", "Bearer " + creds["developerToken"])
        fn = svc.functions.create(dev, FunctionChanges(name="noop", runtime="python3.11", code=NOOP))
        svc.deployments.deploy(dev, fn.uuid)
        token = svc.identity.app_token("acc", creds["clientId"], creds["clientSecret"])["access_token"]
        gw = LocalGateway(app, Config())
        headers = {"authorization": "Bearer " + token, "content-type": "application/json", "host": "bench"}
        body, path = b'{"timestamp":0,"headers":[],"payload":{}}', f"/api/account/acc/lambdas/{fn.uuid}/invoke?v=1"
        for _ in range(200):
            gw.handle_request("POST", path, headers, body)
        started = time.perf_counter()
        for _ in range(n):
            gw.handle_request("POST", path, headers, body)
        plain_us = (time.perf_counter() - started) / n * 1e6
        prof = cProfile.Profile()
        prof.enable()
        for _ in range(n):
            gw.handle_request("POST", path, headers, body)
        prof.disable()
    finally:
        svc.close()
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("cumulative").print_stats(30)
    text = (f"Invoke route in-process, no profiler: {plain_us:.0f} µs per call (LocalGateway → app → "
            f"warm Python worker and back).\n\n" + out.getvalue())
    (Path(__file__).parent / "profile.txt").write_text(text.replace(str(Path.cwd()) + "/", ""))
    return text


if __name__ == "__main__":
    print(profile()[:3000])
