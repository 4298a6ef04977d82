"""The packaged stack, built once per test run with no network: chalice installs requirements.txt from the Lambda
wheelhouse `make install-dev` fetched (manylinux x86_64 wheels for python3.11)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from chalicelib.aws import stack

WHEELHOUSE = Path(sys.prefix) / "lambda-wheels"


@pytest.fixture(scope="session")
def packaged(tmp_path_factory: pytest.TempPathFactory) -> stack.Package:
    if not (WHEELHOUSE / ".done").exists():
        pytest.fail(f"no Lambda wheelhouse at {WHEELHOUSE}: run `make install-dev`")
    return stack.package(stack.project_root(), tmp_path_factory.mktemp("stack"), wheelhouse=WHEELHOUSE)
