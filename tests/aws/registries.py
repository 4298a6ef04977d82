"""Whether the package registries answer from here: the dependency tests on AWS install real packages (as the local
dependency tests do) and are skipped, saying why, on a machine that cannot reach them."""

from __future__ import annotations

import functools
import socket

import pytest


@functools.cache
def reachable(host: str) -> bool:
    try:
        socket.create_connection((host, 443), timeout=5).close()
    except OSError:
        return False
    return True


needs_pypi = pytest.mark.skipif(not reachable("pypi.org"), reason="PyPI is not reachable from this machine")
needs_npm = pytest.mark.skipif(not reachable("registry.npmjs.org"), reason="npm's registry is not reachable")
