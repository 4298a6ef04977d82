"""Fixtures every tier shares: no real AWS, a frozen clock, services over a temporary SQLite store."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from chalicelib.clock import FrozenClock
from chalicelib.config import Settings
from chalicelib.services.container import Services, build_services
from tests.fakes import FakeExecutor

ACCOUNT = "le12345678"
OTHER_ACCOUNT = "le87654321"


@pytest.fixture(autouse=True)
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test can reach a real AWS account by accident."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SECURITY_TOKEN", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(start=__import__("time").time())


@pytest.fixture
def make_services(tmp_path: Path, clock: FrozenClock) -> Iterator[Callable[..., Services]]:
    built: list[Services] = []

    def _make(executor: Any = None, **overrides: Any) -> Services:
        settings = Settings(data_dir=tmp_path / "data", **{"jobs": "inline", **overrides})
        svc = build_services(settings, executor=executor or FakeExecutor(), clock=clock)
        built.append(svc)
        return svc

    yield _make
    for svc in built:
        svc.close()


def as_json(response: Any) -> Any:
    return json.loads(response.body) if response.body else None


def json_request(client: Any, method: str, path: str, token: str | None = None, body: Any = None,
                 headers: dict[str, str] | None = None, raw: bytes | str | None = None) -> Any:
    """One request through chalice.test.Client: ``body`` as JSON (or ``raw`` bytes as they are), a Bearer token."""
    hdrs = {"Content-Type": "application/json", **(headers or {})}
    if token:
        hdrs["Authorization"] = f"Bearer {token}"
    data = raw if raw is not None else (json.dumps(body) if body is not None else b"")
    return client.http.request(method, path, headers=hdrs, body=data.encode() if isinstance(data, str) else data)
