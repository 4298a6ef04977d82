"""Login timing for a known user with a wrong password and for an unknown user (their ratio should be ~1), and the
throttle's answers to a burst of guesses — measured on IdentityService directly (no HTTP), interleaved so that
machine load hits both alike.

Run alone: ``python -m bench.credentials``.
"""

from __future__ import annotations

import contextlib
import logging
import statistics
import tempfile
import time
from pathlib import Path

from chalicelib.clock import FrozenClock
from chalicelib.config import Settings
from chalicelib.domain.errors import NotAuthenticated, TooManyRequests
from chalicelib.services.container import build_services
from tests.fakes import FakeExecutor

ROUNDS = 40


def _time_login(identity, login: str, address: str) -> float:
    started = time.perf_counter()
    with contextlib.suppress(NotAuthenticated):
        identity.login("bench", login, "wrong-password", address)
    return time.perf_counter() - started


def measure() -> list[tuple[str, str, str, str]]:
    logging.getLogger("fngate.audit").disabled = True  # one audit line per failed login: not for the report
    with tempfile.TemporaryDirectory() as tmp:
        svc = build_services(Settings(data_dir=Path(tmp)), executor=FakeExecutor(), clock=FrozenClock())
        try:
            identity = svc.identity
            identity.ensure_account("bench")
            identity.create_user("bench", "known", "the-password", ["FaaS-Developer"])
            _time_login(identity, "warm-up", "192.0.2.0")
            known, unknown = [], []
            for n in range(ROUNDS):  # a fresh address and name each time: the throttle stays out of the way
                known.append(_time_login(identity, "known", f"192.0.2.{n + 1}"))
                svc.store.delete("throttle", "login", "bench/known")
                unknown.append(_time_login(identity, f"unknown-{n}", f"198.51.100.{n + 1}"))
            k, u = statistics.median(known) * 1000, statistics.median(unknown) * 1000
            answers = []
            for _ in range(8):
                try:
                    identity.login("bench", "known", "wrong-password", "203.0.113.1")
                    answers.append("200")
                except NotAuthenticated:
                    answers.append("401")
                except TooManyRequests as err:
                    answers.append(f"429 (Retry-After {err.retry_after})")
        finally:
            svc.close()
    return [("login, known user, wrong password (median)", f"{k:.1f} ms", "", ""),
            ("login, unknown user (median)", f"{u:.1f} ms", "", ""),
            ("ratio known / unknown", f"{k / u:.2f}", "≈ 1", "ok" if 0.8 <= k / u <= 1.25 else "check"),
            ("8 wrong passwords in a row, one name", ", ".join(answers), "429 after 6", "")]


if __name__ == "__main__":
    for row in measure():
        print(" | ".join(row))
