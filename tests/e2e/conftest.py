"""A real `fngate serve` process on a free port, plus credentials from `fngate admin bootstrap`."""

from __future__ import annotations

import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT = "e2eacct"


LPF_DIR = Path(__file__).parent / "lpf_cli"


def install_lpf() -> Path:
    """LivePerson's `lpf` CLI (liveperson-functions-cli, pinned in lpf_cli/package-lock.json), installed once."""
    lpf = LPF_DIR / "node_modules" / ".bin" / "lpf"
    if not lpf.exists():
        npm = shutil.which("npm")
        assert npm, "npm is needed to install LivePerson's lpf CLI"
        subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--silent"], cwd=LPF_DIR, check=True, timeout=600)
    return lpf


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fngate(*args: str, data_dir: Path, env: dict[str, str] | None = None, **kw: Any) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "chalicelib.cli", *args, "--data-dir", str(data_dir)],
                          cwd=ROOT, capture_output=True, text=True, timeout=60, env=env or os.environ.copy(), **kw)


@dataclass
class Gateway:
    url: str
    port: int
    data_dir: Path
    creds: dict[str, str]
    process: subprocess.Popen
    console: Path | None = None  # the file its output goes to (start_gateway's default)

    def request(self, method: str, path: str, *, token: str | None = None, body: Any = None,
                raw: bytes | None = None, headers: dict[str, str] | None = None) -> tuple[int, Any, Any]:
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        try:
            context = ssl._create_unverified_context() if self.url.startswith("https") else None  # test certs
            with urllib.request.urlopen(req, timeout=30, context=context) as res:
                text = res.read()
                return res.status, json.loads(text) if text else None, res.headers  # names: any case
        except urllib.error.HTTPError as err:
            text = err.read()
            return err.code, json.loads(text) if text else None, err.headers


    def deploy(self, name: str, code: str, **extra: Any) -> str:
        """Create a function as a developer, deploy it and wait until it is Productive; its uuid."""
        token = self.creds["developerToken"]
        status, fn, _ = self.request("POST", f"/api/account/{ACCOUNT}/functions", token=token,
                                     body={"name": name, "description": "e2e", "code": code, **extra})
        assert status == 201, fn
        status, answer, _ = self.request("POST", f"/api/account/{ACCOUNT}/deployments/{fn['uuid']}", token=token)
        assert status == 200 and "uuid" not in answer, answer
        deadline = time.time() + 20
        while time.time() < deadline:
            _, got, _ = self.request("GET", f"/api/account/{ACCOUNT}/functions/{fn['uuid']}", token=token)
            if got["state"] in ("Productive", "Build Error", "Deploy Error"):
                assert got["state"] == "Productive", got
                return fn["uuid"]
            time.sleep(0.05)
        raise AssertionError(f"{name} did not deploy")


def start_gateway(tmp: Path, extra_env: dict[str, str] | None = None, args: tuple[str, ...] = (),
                  host: str = "127.0.0.1", port: int | None = None,
                  log: Any = None) -> Gateway:
    """The gateway and everything it starts form one process group (to kill it whole); ``log``: where its output
    goes; by default a file (``Gateway.console``) that stop_gateway returns, since the gateway writes a line per
    request and a pipe nobody reads until the end would fill up and stall it."""
    port = port or free_port()
    data_dir = tmp / "data"
    console = None
    if log is None:
        console = tmp / f"console-{port}.log"
        log = open(console, "w")  # noqa: SIM115 (the child writes it until it stops)
    env = {**os.environ, "FNGATE_FUNCTION_TIMEOUT_S": "5", **(extra_env or {})}
    proc = subprocess.Popen([sys.executable, "-m", "chalicelib.cli", "serve", "--host", host, "--port",
                             str(port), "--data-dir", str(data_dir), "--account", ACCOUNT, *args],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)  # its own process group, as a terminal gives it
    if console is not None:
        log.close()  # the child has its own copy
    deadline = time.time() + 30
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"fngate serve exited: {proc.stdout.read() if proc.stdout else ''}"
                               f"{console.read_text() if console else log}")
        try:
            with socket.create_connection((host, port), timeout=0.2):
                break
        except OSError:
            time.sleep(0.05)
    boot = fngate("admin", "bootstrap", "--account", ACCOUNT, "--public-host", f"localhost:{port}", data_dir=data_dir)
    assert boot.returncode == 0, boot.stderr
    scheme = "https" if "--tls-cert" in args else "http"
    return Gateway(f"{scheme}://{host}:{port}", port, data_dir, json.loads(boot.stdout), proc, console)


def stop_gateway(gw: Gateway) -> str:
    gw.process.terminate()
    try:
        out, _ = gw.process.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        gw.process.kill()
        out, _ = gw.process.communicate()
    return gw.console.read_text() if gw.console else out or ""


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    gw = start_gateway(tmp_path_factory.mktemp("gw"))
    yield gw
    stop_gateway(gw)
