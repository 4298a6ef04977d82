"""One no-op Python function deployed in an in-process gateway, and a call of its invoke route through the server's
adapter (headers → event → Chalice app → warm worker → answer; no sockets): what profile.py and cpu_parts.py time."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

NOOP = "def lambda_handler(input, callback):\n    callback(None, None)\n"


@contextmanager
def invoke_route(data_dir: Path) -> Iterator[Callable[[], None]]:
    """Yields ``call()``: one V1 invocation with an app JWT, asserting a 200; the gateway closes on exit."""
    from app import app
    from chalicelib.config import Settings
    from chalicelib.server import ChaliceAdapter, _headers
    from chalicelib.services.container import build_services, install
    from chalicelib.services.functions import FunctionChanges

    svc = build_services(Settings(data_dir=data_dir, jobs="inline", account_rate_per_s=1e9))
    install(svc)
    try:
        creds = svc.identity.bootstrap("acc")
        dev = svc.identity.authenticate("acc", "Bearer " + creds["developerToken"])
        fn = svc.functions.create(dev, FunctionChanges(name="noop", runtime="python3.11", code=NOOP))
        svc.deployments.deploy(dev, fn.uuid)
        token = svc.identity.app_token("acc", creds["clientId"], creds["clientSecret"])["access_token"]
        adapter = ChaliceAdapter(app)
        body = b'{"timestamp":0,"headers":[],"payload":{}}'
        path, query = f"/api/account/acc/lambdas/{fn.uuid}/invoke", "v=1&skillId=&externalSystem=bench"
        items = [("host", "bench"), ("authorization", "Bearer " + token), ("content-type", "application/json"),
                 ("content-length", str(len(body)))]

        def call() -> None:
            headers = _headers(items)
            target = adapter.target("POST", path, headers, "1.1")
            assert adapter.body_size(headers, "1.1") == len(body)
            status, _, _ = adapter.respond(target, path, query, headers, "127.0.0.1", body)
            assert status == 200, status

        yield call
    finally:
        svc.close()
