"""Running the `fngate` developer commands as a user does: a subprocess, a project folder, its own config file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.e2e.conftest import ROOT


@dataclass
class Cli:
    cwd: Path
    config: Path
    env_extra: dict[str, str]

    def __call__(self, *args: str, stdin: str | None = None, cwd: Path | None = None,
                 timeout: float = 120) -> subprocess.CompletedProcess:
        env = {**os.environ, "FNGATE_CONFIG": str(self.config), "PYTHONPATH": str(ROOT), **self.env_extra}
        env.pop("FNGATE_PROFILE", None)
        return subprocess.run([sys.executable, "-m", "chalicelib.cli", *args], cwd=cwd or self.cwd, env=env,
                              input=stdin if stdin is not None else "", capture_output=True, text=True,
                              timeout=timeout)

    def ok(self, *args: str, **kw: Any) -> subprocess.CompletedProcess:
        done = self(*args, **kw)
        assert done.returncode == 0, f"{args}: {done.returncode}\n{done.stdout}\n{done.stderr}"
        assert "Traceback" not in done.stderr
        return done

    def json(self, *args: str, **kw: Any) -> Any:
        return json.loads(self.ok(*args, "--json", **kw).stdout)

    def fails(self, code: int, *args: str, **kw: Any) -> subprocess.CompletedProcess:
        done = self(*args, **kw)
        assert done.returncode == code, f"{args}: {done.returncode} != {code}\n{done.stdout}\n{done.stderr}"
        assert "Traceback" not in done.stderr
        return done


def make_cli(tmp: Path, **env: str) -> Cli:
    project = tmp / "project"
    project.mkdir(parents=True, exist_ok=True)
    return Cli(project, tmp / "config" / "fngate.json", env)
