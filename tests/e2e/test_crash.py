"""kill -9 of the real gateway in the middle of deploys, undeploys, rollbacks and invocations; after a restart on
the same data, every acknowledged operation has completed or failed visibly, no function is stuck, nothing was
done twice, and every invocation answered before the last moments before the kill is recorded."""

from __future__ import annotations

import json
import os
import random
import signal
import threading
import time
import urllib.error
import urllib.request
import uuid as uuidlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from chalicelib.storage.base import Query
from chalicelib.storage.sqlite import SqliteStore
from tests.e2e.conftest import ACCOUNT, Gateway, start_gateway, stop_gateway

# Loading takes 0.3 s (module code after the handler), so a deploy acknowledged just before the kill is still in
# progress when it comes.
PY = "def lambda_handler(input, callback):\n    callback(None, {'ok': True})\n\nimport time\ntime.sleep(0.3)\n"
FUNCTIONS = 8
CLIENTS = 4
DEPLOY_OPS_MAX = 12  # per function and crash, so the history (20 kept) holds all of them
RECORD_LOSS_BOUND_S = 1.0  # generous: the recorder writes every 50 ms; CI machines are slow and shared
BASE = f"/api/account/{ACCOUNT}"


@dataclass
class Tally:
    deploys: Counter = field(default_factory=Counter)  # acknowledged deploys + rollbacks (new deployments)
    unknown: Counter = field(default_factory=Counter)  # sent, but the answer was lost in the crash
    undeploys: Counter = field(default_factory=Counter)
    invoked: list[tuple[str, str, float]] = field(default_factory=list)  # (uuid, request id, answered at)
    last_deploy_at: float = 0.0  # when a deploy or rollback was last acknowledged
    lock: threading.Lock = field(default_factory=threading.Lock)


def call(gw: Gateway, method: str, path: str, token: str, body: object = None,
         request_id: str | None = None) -> tuple[int, object]:
    req = urllib.request.Request(gw.url + path, method=method,
                                 data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json",
                                          **({"X-Request-ID": request_id} if request_id else {})})
    try:
        with urllib.request.urlopen(req, timeout=10) as res:
            text = res.read()
            return res.status, json.loads(text) if text else None
    except urllib.error.HTTPError as err:
        return err.code, None


def client(gw: Gateway, token: str, uuids: list[str], tally: Tally, stop: threading.Event, seed: int) -> None:
    rng = random.Random(seed)
    while not stop.is_set():
        uuid = rng.choice(uuids)
        op = rng.choices(["deploy", "undeploy", "rollback", "invoke"], [3, 2, 1, 6])[0]
        if op in ("deploy", "rollback") and tally.deploys[uuid] + tally.unknown[uuid] >= DEPLOY_OPS_MAX:
            op = "invoke"
        path = {"deploy": f"{BASE}/deployments/{uuid}", "undeploy": f"{BASE}/deployments/{uuid}",
                "rollback": f"{BASE}/functions/{uuid}/deployments/1/rollback",
                "invoke": f"{BASE}/lambdas/{uuid}/invoke?v=1"}[op]
        method = {"undeploy": "DELETE"}.get(op, "POST")
        rid = str(uuidlib.uuid4())
        try:
            status, _ = call(gw, method, path, token, {"payload": {}} if op == "invoke" else None, rid)
        except OSError:  # the gateway died under this request: it may or may not have been committed
            if op in ("deploy", "rollback"):
                with tally.lock:
                    tally.unknown[uuid] += 1
            return
        with tally.lock:
            if status == 200 and op in ("deploy", "rollback"):
                tally.deploys[uuid] += 1
                tally.last_deploy_at = time.monotonic()
            elif status == 200 and op == "undeploy":
                tally.undeploys[uuid] += 1
            elif status == 200 and op == "invoke":
                tally.invoked.append((uuid, rid, time.monotonic()))
        time.sleep(rng.random() * 0.005)


def settle(gw: Gateway, token: str, uuids: list[str], timeout_s: float = 45.0) -> dict[str, dict]:
    """Every function once none has a deployment in progress (the restarted gateway finished or failed them)."""
    deadline = time.time() + timeout_s
    while True:
        fns = {u: call(gw, "GET", f"{BASE}/functions/{u}", token)[1] for u in uuids}
        busy = [u for u, fn in fns.items() if fn.get("state") == "Marked Undeployed"
                or (fn.get("lastDeployment") or {}).get("deploymentState") in ("deploying", "redeploying",
                                                                               "undeploying")]
        if not busy:
            return fns
        assert time.time() < deadline, f"functions stuck after the restart: {[fns[u] for u in busy]}"
        time.sleep(0.1)


def crash_cycle(tmp: Path, gw: Gateway, uuids: list[str], seed: int) -> Gateway:
    token = gw.creds["developerToken"]
    tally, stop = Tally(), threading.Event()
    history_before = {u: max(d["id"] for d in call(gw, "GET", f"{BASE}/functions/{u}/deployments", token)[1])
                      for u in uuids}  # the newest deployment id (ids count up; the last 20 are kept)
    threads = [threading.Thread(target=client, args=(gw, token, uuids, tally, stop, seed * 100 + i))
               for i in range(CLIENTS)]
    for t in threads:
        t.start()
    time.sleep(0.5 + random.Random(seed).random())
    deadline = time.monotonic() + 10
    while time.monotonic() - tally.last_deploy_at > 0.05 and time.monotonic() < deadline:
        time.sleep(0.002)  # kill while a just-acknowledged deploy is still loading
    killed_at = time.monotonic()
    os.killpg(gw.process.pid, signal.SIGKILL)  # the gateway and every process it started, at once
    gw.process.wait()
    stop.set()
    for t in threads:
        t.join(15)
    assert sum(tally.deploys.values()) > 0 and tally.invoked, "the load did not get going before the kill"

    gw = start_gateway(tmp, own_session=True, log=open(tmp / "gateway.log", "a"))  # noqa: SIM115
    fns = settle(gw, token, uuids)
    for u in uuids:
        history = call(gw, "GET", f"{BASE}/functions/{u}/deployments", token)[1]
        states = Counter(d["deploymentState"] for d in history)
        assert set(states) <= {"successful", "failed", "undeployed"}, (u, history)
        new = sum(d["id"] > history_before[u] for d in history)
        # each acknowledged deploy is in the history exactly once; a request cut by the kill may have landed
        assert tally.deploys[u] <= new <= tally.deploys[u] + tally.unknown[u], (u, tally, history)
        failures = [d for d in history if d["deploymentState"] == "failed"]
        assert all(d.get("deploymentError", {}).get("message") for d in failures), failures
        assert fns[u]["state"] in ("Draft", "Productive", "Modified", "Deploy Error", "Build Error"), fns[u]
    # a restarted gateway serves what it says is live, and takes new deploys (no 409 left over)
    for u in uuids:
        if fns[u]["state"] == "Productive":
            assert call(gw, "POST", f"{BASE}/lambdas/{u}/invoke?v=1", token, {"payload": {}})[0] == 200
        assert call(gw, "POST", f"{BASE}/deployments/{u}", token)[0] == 200
    settle(gw, token, uuids)
    check_records(gw, tally, killed_at)
    return gw


def check_records(gw: Gateway, tally: Tally, killed_at: float) -> None:
    store = SqliteStore(gw.data_dir / "fngate.db")
    try:
        kept = {r.data["request_id"] for u in {u for u, _, _ in tally.invoked}
                for r in store.query(Query("invocation", f"{ACCOUNT}#{u}", keys_only=False))}
    finally:
        store.close()
    old_enough = [rid for _, rid, at in tally.invoked if at < killed_at - RECORD_LOSS_BOUND_S]
    missing = [rid for rid in old_enough if rid not in kept]
    assert not missing, f"{len(missing)} of {len(old_enough)} invocation records lost"


def test_kill_9_in_the_middle_of_everything_loses_nothing_acknowledged(tmp_path: Path) -> None:
    log = open(tmp_path / "gateway.log", "a")  # noqa: SIM115
    gw = start_gateway(tmp_path, own_session=True, log=log)
    token = gw.creds["developerToken"]
    uuids = []
    for n in range(FUNCTIONS):
        status, fn = call(gw, "POST", f"{BASE}/functions", token,
                          {"name": f"crash{n}", "description": "crash test", "code": PY, "runtime": "python3.11"})
        assert status == 201, fn
        uuids.append(fn["uuid"])
        assert call(gw, "POST", f"{BASE}/deployments/{fn['uuid']}", token)[0] == 200
    settle(gw, token, uuids)
    try:
        for cycle in range(2):
            gw = crash_cycle(tmp_path, gw, uuids, seed=cycle + int(time.time()))
    finally:
        stop_gateway(gw)
        log.close()
    recovered = (tmp_path / "gateway.log").read_text().count("job runner starting with")
    assert recovered > 0, "no job was in flight at either kill: the test proved nothing"
