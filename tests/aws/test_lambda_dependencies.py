"""Dependencies of functions on AWS Lambda, built in the function's own container (lambda_shim/packages.py):
the shim with real workers and the real builder, installing from PyPI and npm (reachable from CI, like the local
dependency tests). The deploy's build reports the lock key; a cold start that resolves to another lock refuses to
run; an installer's failure is a build error with its message."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chalicelib.runtime.aws_lambda import make_bundle
from chalicelib.runtime.base import Target
from chalicelib.runtime.deps import BuildLimits, DependencyBuilder
from chalicelib.runtime.lambda_shim import handler
from chalicelib.runtime.lambda_shim.handler import Shim
from tests.aws.registries import needs_npm, needs_pypi
from tests.aws.test_lambda_shim import Context

LOCAL = Path(handler.__file__).resolve().parent.parent / "local"
NPM, NODE = shutil.which("npm"), shutil.which("node")
PY = """def lambda_handler(input, callback):
    import six
    callback(None, {"six": six.__version__, "where": six.__file__})
"""
NODE_CODE = """function lambda(input, callback) {
  const isNumber = require('is-number');
  callback(null, {five: isNumber(5), where: require.resolve('is-number')});
}
"""


def target(code: str = PY, runtime: str = "python3.11", deps: tuple[tuple[str, str], ...] = (("six", "1.17.0"),),
           build_key: str = "") -> Target:
    return Target("le12345678", "4a1c9d3e-0000-4000-8000-000000000001", 1, runtime, code, dependencies=deps,
                  build_key=build_key)


def bundle_of(t: Target, **limits: Any) -> dict[str, Any]:
    return make_bundle(t, "node" if t.runtime.startswith("node") else "python", "", BuildLimits(**limits))


@pytest.fixture
def shim(tmp_path: Path) -> Iterator[Shim]:
    s = Shim(worker_dir=LOCAL, node_binary=NODE, deps_root=str(tmp_path / "deps"))
    yield s
    s.close()


@needs_pypi
def test_build_reports_the_lock_key_the_local_builder_finds(shim: Shim, tmp_path: Path) -> None:
    built = shim.handle({"op": "build", "bundle": bundle_of(target())}, Context())
    assert built["op"] == "built" and built["key"].startswith("python-"), built
    local = DependencyBuilder(tmp_path / "local", build_uid=None).build("python", [{"key": "six", "value": "1.17.0"}])
    assert built["key"] == local


@needs_pypi
def test_invoke_runs_with_the_installed_dependencies(shim: Shim, tmp_path: Path) -> None:
    key = shim.handle({"op": "build", "bundle": bundle_of(target())}, Context())["key"]
    answer = shim.handle({"op": "invoke", "input": {"headers": [], "payload": None}, "timeout_ms": 10_000,
                          "bundle": bundle_of(target(build_key=key))}, Context())
    assert answer["ok"] is True, answer
    assert answer["result"]["six"] == "1.17.0" and answer["result"]["where"].startswith(str(tmp_path / "deps"))


@needs_pypi
def test_a_cold_start_resolving_to_another_lock_refuses_to_run(shim: Shim) -> None:
    answer = shim.handle({"op": "check", "bundle": bundle_of(target(build_key="python-" + "0" * 40))}, Context())
    assert answer["op"] == "shim-error" and "redeploy" in answer["message"]


@needs_pypi
def test_an_installer_failure_is_a_load_error_with_its_message(shim: Shim) -> None:
    bad = target(deps=(("fngate-no-such-package-7f3a9c", "1.0.0"),))
    answer = shim.handle({"op": "build", "bundle": bundle_of(bad)}, Context())
    assert answer["op"] == "load-error" and "pip could not resolve" in answer["message"]


@needs_pypi
def test_the_operators_deny_list_applies_in_the_container(shim: Shim) -> None:
    answer = shim.handle({"op": "build", "bundle": bundle_of(target(), deny=("six",))}, Context())
    assert answer["op"] == "load-error" and "deny list" in answer["message"]


@needs_npm
@pytest.mark.skipif(not (NPM and NODE), reason="npm or node is not installed")
def test_node_dependencies_are_built_and_found(shim: Shim, tmp_path: Path) -> None:
    t = target(NODE_CODE, "nodejs20", (("is-number", "7.0.0"),))
    key = shim.handle({"op": "build", "bundle": bundle_of(t)}, Context())["key"]
    assert key.startswith("node-")
    answer = shim.handle({"op": "invoke", "input": {"headers": [], "payload": None}, "timeout_ms": 10_000,
                          "bundle": bundle_of(target(NODE_CODE, "nodejs20", (("is-number", "7.0.0"),), key))},
                         Context())
    assert answer["ok"] is True and answer["result"]["five"] is True, answer
    assert answer["result"]["where"].startswith(str(tmp_path / "deps"))
