"""Bot connector figures, in process (no HTTP edge in front of the webhook; the messaging side is the fake over
HTTP): webhook acknowledgement, event-in → outbound-out with a no-op echo bot, and 100 conversations × 20
messages with redeliveries injected. Runnable alone: ``python -m bench.bots`` (prints markdown rows)."""

from __future__ import annotations

import json
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from chalicelib.bots.fake import FakeMessaging, consumer_text
from chalicelib.bots.intake import sign
from chalicelib.config import Settings
from chalicelib.domain.bots import parse_settings
from chalicelib.domain.permissions import Principal, Role
from chalicelib.runtime.base import Outcome, Target
from chalicelib.services.container import build_services

SECRET = "bench-secret"


class EchoExecutor:
    """A no-op echo bot: what the connector costs, without a function runtime."""

    def build(self, target: Target) -> str:
        return ""  # no dependencies to install

    def deploy(self, target: Target) -> None: ...
    def undeploy(self, account_id: str, function_uuid: str) -> None: ...
    def close(self) -> None: ...

    def invoke(self, target: Target, event: dict[str, Any], *, timeout_s: float | None = None) -> Outcome:
        return Outcome(result={"messages": [event["payload"].get("message") or "hi"]})


def pct(values: list[float], q: float) -> float:
    return sorted(values)[min(len(values) - 1, int(len(values) * q))]


def _deployed_echo(svc: Any) -> dict[str, Any]:
    """Account "bench" with a deployed function "echo" (created and deployed through the API, as users do)."""
    from chalice.test import Client

    from app import app
    from chalicelib.services.container import use_services

    creds = svc.identity.bootstrap("bench")
    with use_services(svc), Client(app) as client:
        auth = {"Authorization": f"Bearer {creds['developerToken']}", "Content-Type": "application/json"}
        code = "function lambda(input, callback) {\n  callback(null, {});\n}\n"
        fn: dict[str, Any] = json.loads(client.http.post("/api/account/bench/functions", headers=auth,
                                                         body=json.dumps({"name": "echo", "description": "d",
                                                                          "code": code})).body)
        client.http.post(f"/api/account/bench/deployments/{fn['uuid']}", headers=auth)
    svc.runner.drain()  # a background runner's deploy job (inline runs it in the request: nothing left)
    return fn


def main() -> None:
    rows = []
    fake = FakeMessaging("bench-app", SECRET).start()
    with tempfile.TemporaryDirectory() as tmp:
        for jobs in ("background", "inline"):
            svc = build_services(Settings(data_dir=Path(tmp) / jobs, jobs=jobs, domain_map=fake.domain_map()),
                                 executor=EchoExecutor())
            fn = _deployed_echo(svc)
            admin = Principal("bench", "admin", "user", roles=frozenset({Role.ADMIN}))
            svc.bots.create(admin, "b", parse_settings({"functionUuid": fn["uuid"], "clientSecret": SECRET,
                                                         "clientId": "bench-app", "agentId": "bot"}, creating=True))
            notes = [json.dumps(consumer_text(f"c{i % 50}", i, f"m{i}")).encode() for i in range(2000)]
            times = []
            for data in notes:
                signature = sign(SECRET, data, "sha256")
                t0 = time.perf_counter()
                svc.bots.accept("bench", "b", data, signature)
                times.append((time.perf_counter() - t0) * 1000)
            if jobs == "background":
                rows.append(("webhook acknowledgement (verify + parse + dedupe + commit job)", times))
            else:
                rows.append(("event-in → outbound-out, no-op echo bot (inline: ack + run + POST to the fake)", times))
            svc.close()
        # 100 conversations x 20 messages, 10% redelivered, drained by the background runner
        svc = build_services(Settings(data_dir=Path(tmp) / "load", jobs="background", domain_map=fake.domain_map()),
                             executor=EchoExecutor())
        fn = _deployed_echo(svc)
        svc.bots.create(Principal("bench", "admin", "user", roles=frozenset({Role.ADMIN})), "load", parse_settings(
            {"functionUuid": fn["uuid"], "clientSecret": SECRET, "clientId": "bench-app", "agentId": "bot",
             "options": {"maxConcurrency": 16}}, creating=True))
        before = len(fake.requests)
        rng = random.Random(1)
        sends = [(c, s) for s in range(20) for c in range(100)]
        sends += [rng.choice(sends) for _ in range(200)]  # redeliveries
        sends.sort(key=lambda cs: cs[1])
        t0 = time.perf_counter()
        svc.runner.start()
        for conv, seq in sends:
            data = json.dumps(consumer_text(f"load{conv}", seq, f"{conv}:{seq}")).encode()
            svc.bots.accept("bench", "load", data, sign(SECRET, data))
        ok = fake.wait_for(before + 2000, timeout_s=300)
        took = time.perf_counter() - t0
        got = [r["request"]["body"]["event"]["message"] for r in fake.requests[before:]]
        per_conv: dict[str, list[int]] = {}
        for m in got:
            c, s = m.split(":")
            per_conv.setdefault(c, []).append(int(s))
        in_order = all(v == list(range(20)) for v in per_conv.values()) and len(per_conv) == 100
        svc.close()
    fake.close()
    print("| figure | p50 ms | p99 ms | n |")
    print("|---|---|---|---|")
    for name, values in rows:
        print(f"| {name} | {statistics.median(values):.2f} | {pct(values, 0.99):.2f} | {len(values)} |")
    print(f"| 100 conversations × 20 messages, 200 redeliveries: {len(got)} answered, in order per conversation: "
          f"{in_order}, all within timeout: {ok} | {took:.1f} s total | | 2200 sent |")


if __name__ == "__main__":
    main()
