"""The filesystem view's plan: what a worker sees, and where (runtime/local/fsview.py; the mounts themselves are
exercised by tests/runtime/test_sandbox.py)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from chalicelib.runtime.local import fsview


def _plan(tmp_path: Path, **overrides: str | None) -> dict:
    runtime = tmp_path / "runtime"
    runtime.mkdir(exist_ok=True)
    args = {"python_prefix": sys.base_prefix, "node_binary": None, "runtime_dir": str(runtime),
            "toolbelt_node": None, "toolbelt_python": None, "egress_socket": None, **overrides}
    return fsview.plan(**args)


def test_project_files_appear_under_opt_fngate_and_nothing_else_of_the_host(tmp_path: Path) -> None:
    (tmp_path / "tb-node").mkdir()
    (tmp_path / "tb-py").mkdir()
    sock = tmp_path / "egress.sock"
    sock.write_text("")
    view = _plan(tmp_path, toolbelt_node=str(tmp_path / "tb-node"), toolbelt_python=str(tmp_path / "tb-py"),
                 egress_socket=str(sock))
    inside = {there for _host, there, _kind in view["binds"]}
    assert {"/opt/fngate/runtime", "/opt/fngate/toolbelt/node", "/opt/fngate/toolbelt/python",
            fsview.EGRESS_SOCKET} <= inside
    allowed_roots = ("/usr", "/bin", "/sbin", "/lib", "/etc/", "/dev/", "/opt/fngate", "/run/fngate",
                     os.path.realpath(sys.base_prefix))
    assert all(there.startswith(allowed_roots) for there in inside), inside
    assert not any(there.startswith(("/home", "/tmp", "/var", "/proc", "/sys")) for there in inside)
    assert "/etc/shadow" not in inside and "/etc/passwd" not in inside


def test_missing_host_paths_are_skipped_and_symlinks_stay_symlinks(tmp_path: Path) -> None:
    view = _plan(tmp_path, egress_socket=str(tmp_path / "nope.sock"))
    assert fsview.EGRESS_SOCKET not in {there for _h, there, _k in view["binds"]}
    kinds = {host: kind for host, _there, kind in view["binds"]}
    for path in fsview.SYSTEM_DIRS:
        if os.path.lexists(path):
            assert kinds[path] == ("link" if os.path.islink(path) else "dir")


def test_an_interpreter_under_tmp_moves_out_of_the_workers_private_tmp(tmp_path: Path) -> None:
    view = _plan(tmp_path, python_prefix="/tmp")
    assert view["paths"]["/tmp"] == "/opt/fngate/host/tmp"


def test_inside_maps_paths_under_a_bind_and_leaves_others(tmp_path: Path) -> None:
    view = _plan(tmp_path)
    runtime = str(tmp_path / "runtime")
    assert fsview.inside(view, runtime + "/worker_node.js") == "/opt/fngate/runtime/worker_node.js"
    assert fsview.inside(view, "/usr/bin/node") == "/usr/bin/node"
    assert fsview.inside(None, runtime) == runtime
