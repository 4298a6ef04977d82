"""The egress proxy as a network service, for function Lambdas on AWS: ``python -m chalicelib.runtime.egress_service``.

Function Lambdas sit in private subnets whose security group reaches only this service (TCP 3128). It is the local
egress proxy (egress.py: the same order of checks, rate, ports, allowlist matching and address rules) with two
changes: it listens on TCP, and a connection's proxy password is the invocation's token (a JWT the gateway signed,
typ ``function``), verified with the gateway's public keys from ``<FNGATE_GATEWAY_URL>/sentinel/well-known/jwks``,
re-read when a token names a key it has not seen (rotation). The token's ``aud`` is the account whose allowlist,
read from the store (FNGATE_STORE=dynamodb, FNGATE_TABLE; read-only: Query), applies. The gateway's own host is
always allowed, so the Toolbelt's route is reachable. Allowlist changes reach it within ALLOWLIST_TTL_S (no
change hook crosses processes). Nothing here can sign a token or read a secret: it holds public keys only.

Environment: FNGATE_GATEWAY_URL (required), FNGATE_STORE / FNGATE_TABLE / AWS_REGION (the store),
FNGATE_EGRESS_LISTEN (default 0.0.0.0:3128), FNGATE_EGRESS_PORTS, FNGATE_EGRESS_PRIVATE_CIDRS (as locally).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import threading
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from chalicelib.crypto.tokens import TokenVerifier, verify_keys_from_jwks
from chalicelib.domain.errors import NotAuthenticated
from chalicelib.domain.permissions import FUNCTION_PRINCIPAL, TOOLBELT_SCOPE
from chalicelib.runtime.egress import EgressProxy, Grant, public_resolver

log = logging.getLogger("fngate.egress.service")

ENV_LISTEN = "FNGATE_EGRESS_LISTEN"
DEFAULT_LISTEN = "0.0.0.0:3128"
JWKS_PATH = "/sentinel/well-known/jwks"
ALLOWLIST_TTL_S = 5.0


def fetch_jwks(gateway_url: str, timeout_s: float = 5.0) -> Callable[[], Mapping[str, Any]]:
    """A loader of the gateway's public keys (called at start and whenever a token names an unknown kid)."""
    url = gateway_url.rstrip("/") + JWKS_PATH

    def load() -> Mapping[str, Any]:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(url, timeout=timeout_s) as response:
            return verify_keys_from_jwks(json.loads(response.read()))

    return load


def grant_of(claims: Mapping[str, Any]) -> Grant | None:
    """The (account, function) a verified token stands for; None unless it is a function's invocation token."""
    scopes = str(claims.get("scope", "")).split()
    if claims.get("typ") != FUNCTION_PRINCIPAL or TOOLBELT_SCOPE not in scopes or not claims.get("sub"):
        return None
    return Grant(str(claims["aud"]), str(claims["sub"]))


def gateway_host(gateway_url: str) -> tuple[str, int]:
    parts = urlsplit(gateway_url)
    if not parts.hostname:
        raise ValueError(f"FNGATE_GATEWAY_URL must be an absolute URL, not {gateway_url!r}")
    return parts.hostname.lower(), parts.port or (443 if parts.scheme == "https" else 80)


class TokenEgressProxy(EgressProxy):
    """EgressProxy on TCP whose passwords are signed invocation tokens (see the module docstring)."""

    def __init__(self, allowlist_for: Callable[[str], Iterable[str]], verifier: TokenVerifier, *, listen: str,
                 gateway_url: str, allowed_ports: Iterable[int] = (80, 443), **kw: Any) -> None:
        host, port = gateway_host(gateway_url)
        self._verifier = verifier
        self._listen = _address(listen)

        def with_gateway(account_id: str) -> list[str]:
            return [*allowlist_for(account_id), host]

        super().__init__(with_gateway, socket_path="", allowed_ports=allowed_ports,
                         host_ports={host: [port]}, **kw)

    @property
    def address(self) -> tuple[str, int]:
        """Where it listens (the port is the bound one when 0 was asked for)."""
        assert self._server is not None
        name = self._server.getsockname()
        return str(name[0]), int(name[1])

    def _bind(self) -> socket.socket:
        return socket.create_server(self._listen, backlog=512)

    def _grant_for(self, token: str) -> Grant | None:
        if not token:
            return None
        try:
            return grant_of(self._verifier.verify(token))
        except NotAuthenticated:
            return None


def _address(listen: str) -> tuple[str, int]:
    host, _, port = listen.rpartition(":")
    return host.strip("[]") or "0.0.0.0", int(port)


def build(env: Mapping[str, str] | None = None, store: Any = None, **overrides: Any) -> TokenEgressProxy:
    """The service from the environment (a store and EgressProxy arguments may be handed in); not started."""
    from chalicelib.clock import Clock
    from chalicelib.config import Settings
    from chalicelib.services.container import build_store
    from chalicelib.services.domains import DomainService

    environ = dict(os.environ if env is None else env)
    settings = Settings.from_env(environ)
    gateway_url = environ.get("FNGATE_GATEWAY_URL", "")
    gateway_host(gateway_url)  # fail at start, not at the first connection
    store = store if store is not None else build_store(settings)
    loader = fetch_jwks(gateway_url)
    try:
        keys: Mapping[str, Any] = loader()
    except OSError as err:  # the gateway may come up after us: the first unknown kid loads them
        log.warning("gateway keys not loaded yet (%s); will retry on the first token", err)
        keys = {}
    verifier = TokenVerifier(keys, reload_keys=loader)
    ports = (80, 443, *settings.egress_ports)
    options: dict[str, Any] = {"allowed_ports": tuple(sorted(set(ports))), "allowlist_ttl_s": ALLOWLIST_TTL_S,
                               "resolver": public_resolver(settings.egress_private_cidrs), "max_connections": 1024,
                               **overrides}
    return TokenEgressProxy(DomainService(store, Clock()).allowlist_for, verifier,
                            listen=environ.get(ENV_LISTEN, DEFAULT_LISTEN), gateway_url=gateway_url, **options)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    proxy = build()
    proxy.start()
    log.info("egress proxy listening on %s:%d", *proxy.address)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    proxy.close()


if __name__ == "__main__":
    main()
