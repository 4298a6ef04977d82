"""Fixtures for the toolbelt tests: certificates, upstream servers, proxies, a fake LivePerson (see fakes.py)."""

from __future__ import annotations

import os
import ssl
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.toolbelt.fakes import (
    ConnectProxy,
    FakeLivePerson,
    Pki,
    RealEgress,
    Route,
    Upstream,
    make_pki,
    real_egress_at,
)


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def upstreams(pki: Pki) -> Iterator[Callable[..., Upstream]]:
    made: list[Upstream] = []

    def make(route: Route, *, tls: bool = False, client_ca: bool = False) -> Upstream:
        context = None
        if tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(pki.server_cert, pki.server_key)
            if client_ca:
                context.verify_mode = ssl.CERT_REQUIRED
                context.load_verify_locations(pki.ca)
        server = Upstream(route, context)
        made.append(server)
        return server

    yield make
    for server in made:
        server.close()


@pytest.fixture
def proxy() -> Iterator[ConnectProxy]:
    server = ConnectProxy()
    yield server
    server.close()


@pytest.fixture
def unix_proxy(tmp_path: Path) -> Iterator[tuple[ConnectProxy, str]]:
    path = str(tmp_path / "egress.sock")
    server = ConnectProxy(unix_path=path)
    yield server, path
    server.close()
    if os.path.exists(path):
        os.unlink(path)


@pytest.fixture
def lp(upstreams: Callable[..., Upstream]) -> tuple[FakeLivePerson, Upstream]:
    fake = FakeLivePerson()
    return fake, upstreams(fake, tls=True)


@pytest.fixture
def real_egress(tmp_path: Path) -> Iterator[RealEgress]:
    with real_egress_at(str(tmp_path / "eg.sock")) as egress:
        yield egress
