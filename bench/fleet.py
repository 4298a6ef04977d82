"""Cold paths and scale with a real gateway: the first invoke of an evicted function (with and without a pre-started
spare), and 1,000 deployed functions invoked round robin under the warm-pool cap (FNGATE_MAX_WORKERS).

The functions are spread over accounts of 50 (the per-account limit), created and deployed through the API by a
few threads at once; the accounts and their credentials are made in-process on the gateway's data dir, as
`fngate admin bootstrap` does.
"""

from __future__ import annotations

import http.client
import json
import statistics
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from bench import wrk
from chalicelib.domain.limits import FUNCTIONS_PER_ACCOUNT

INVOKE = "/api/account/{account}/lambdas/{uuid}/invoke?v=1&skillId=&externalSystem=bench"
BODY = b'{"timestamp":0,"headers":[],"payload":{}}'


@dataclass(frozen=True)
class Fn:
    account: str
    uuid: str
    token: str  # the account's client-credentials token (invocations)

    @property
    def path(self) -> str:
        return INVOKE.format(account=self.account, uuid=self.uuid)


class Client:
    """Keep-alive HTTP to the gateway, one connection per thread."""

    def __init__(self, port: int) -> None:
        self._port, self._local = port, threading.local()

    def call(self, method: str, path: str, token: str, body: bytes | None = None) -> tuple[int, Any]:
        for attempt in range(2):
            conn = getattr(self._local, "conn", None)
            if conn is None:
                conn = self._local.conn = http.client.HTTPConnection("127.0.0.1", self._port, timeout=60)
            try:
                conn.request(method, path, body=body, headers={"Authorization": f"Bearer {token}",
                                                               "Content-Type": "application/json"})
                res = conn.getresponse()
                text = res.read()
                return res.status, json.loads(text) if text else None
            except (OSError, http.client.HTTPException):
                conn.close()
                self._local.conn = None
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def invoke_ms(self, fn: Fn) -> float:
        started = time.perf_counter()
        status, _ = self.call("POST", fn.path, fn.token, BODY)
        if status != 200:
            raise RuntimeError(f"invoke {fn.uuid} answered {status}")
        return (time.perf_counter() - started) * 1000


def deploy_fleet(data_dir: Any, client: Client, count: int, code: str, runtime: str, prefix: str,
                 threads: int = 4) -> list[Fn]:
    """``count`` functions over accounts ``prefix``0, 1, ... (50 each), created and deployed, all Productive."""
    from chalicelib.cli import _admin
    from chalicelib.config import Settings

    admin = _admin(Settings(data_dir=data_dir))
    accounts = []
    for i in range(-(-count // FUNCTIONS_PER_ACCOUNT)):
        creds = admin.identity.bootstrap(f"{prefix}{i}")
        token = admin.identity.app_token(f"{prefix}{i}", creds["clientId"], creds["clientSecret"])["access_token"]
        accounts.append((f"{prefix}{i}", creds["developerToken"], token))
    admin.store.close()

    def create(n: int) -> tuple[Fn, str]:
        account, dev, token = accounts[n // FUNCTIONS_PER_ACCOUNT]
        body = json.dumps({"name": f"f{n}", "code": code, "runtime": runtime}).encode()
        status, created = client.call("POST", f"/api/account/{account}/functions", dev, body)
        if status >= 300:
            raise RuntimeError(f"create answered {status}: {created}")
        status, answer = client.call("POST", f"/api/account/{account}/deployments/{created['uuid']}", dev)
        if status >= 300:
            raise RuntimeError(f"deploy answered {status}: {answer}")
        return Fn(account, created["uuid"], token), dev

    with ThreadPoolExecutor(threads) as pool:
        made = list(pool.map(create, range(count)))
    pending = {fn.uuid for fn, _ in made}
    devs = {fn.account: dev for fn, dev in made}
    deadline = time.monotonic() + 300
    while pending and time.monotonic() < deadline:  # deployments run in the gateway's background pool
        for account, dev in devs.items():
            _, listed = client.call("GET", f"/api/account/{account}/functions", dev)
            pending -= {f["uuid"] for f in listed if f["state"] == "Productive"}
        if pending:
            time.sleep(0.2)
    if pending:
        raise RuntimeError(f"{len(pending)} functions did not deploy")
    return [fn for fn, _ in made]


def evicted_first_invoke(client: Client, fillers: list[Fn], targets: list[Fn], cap: int, rounds: int,
                         refill_s: float) -> dict[str, float]:
    """Median ms of the first invoke of an evicted function, when a spare is ready and when it is not.

    Each round invokes ``cap`` fillers (evicting every worker of ``targets``), waits ``refill_s`` for the spares
    to be started again, then invokes two evicted targets back to back: the first loads its code into the ready
    spare, the second finds the spare just taken and waits for a new worker (a zygote fork for Python, a node
    process for Node).
    """
    spare, fresh = [], []
    for r in range(rounds):
        for i in range(cap):
            client.invoke_ms(fillers[(r * cap + i) % len(fillers)])
        time.sleep(refill_s)
        first, second = targets[(2 * r) % len(targets)], targets[(2 * r + 1) % len(targets)]
        spare.append(client.invoke_ms(first))
        fresh.append(client.invoke_ms(second))
    return {"spare_ms": statistics.median(spare), "no_spare_ms": statistics.median(fresh),
            "spare_all": spare, "no_spare_all": fresh}


class RssSampler:
    """Peak total RSS of a process tree (MB), sampled every ``interval`` seconds in the background."""

    def __init__(self, measure: Callable[[], tuple[float, list[float]]], interval: float = 0.1) -> None:
        self._measure, self._interval = measure, interval
        self.peak_total = self.peak_workers = 0.0
        self.peak_count = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            own, kids = self._measure()
            self.peak_total = max(self.peak_total, own + sum(kids))
            self.peak_workers = max(self.peak_workers, sum(kids))
            self.peak_count = max(self.peak_count, len(kids))
            self._stop.wait(self._interval)


def round_robin(port: int, fns: list[Fn], *, connections: int, seconds: float) -> dict:
    return wrk.run_round_robin(f"http://127.0.0.1:{port}/", [(fn.path, fn.token) for fn in fns],
                               connections=connections, seconds=seconds)
