"""The images' Dockerfiles, without Docker: every file they copy exists, base images are pinned by digest, and the
function image's ENTRYPOINT + CMD run for real — its COPY lines staged into a scratch root, its ENV applied (paths
moved under that root), under the Lambda runtime interface client (awslambdaric), which takes events from a fake
Lambda Runtime API here, as it would from Lambda's."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from queue import Empty, Queue
from typing import Any

import pytest

from tests.aws.registries import needs_pypi

ROOT = Path(__file__).resolve().parents[2]
IMAGES = ROOT / "infra" / "images"
DOCKERFILES = sorted(IMAGES.glob("*.Dockerfile"))
NODE = shutil.which("node")
API = "/2018-06-01/runtime"


@dataclass
class Dockerfile:
    froms: list[str] = field(default_factory=list)
    copies: list[tuple[list[str], str]] = field(default_factory=list)  # (sources, destination), build context only
    env: dict[str, str] = field(default_factory=dict)
    entrypoint: list[str] = field(default_factory=list)
    cmd: list[str] = field(default_factory=list)
    workdir: str = "/"


def parse(path: Path) -> Dockerfile:
    out = Dockerfile()
    text = re.sub(r"\\\n\s*", " ", path.read_text())
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        op, _, rest = line.strip().partition(" ")
        op = op.upper()
        if op == "FROM":
            out.froms.append(rest.split()[0])
        elif op == "COPY" and "--from=" not in rest:
            *sources, dest = shlex.split(rest)
            out.copies.append((sources, dest))
        elif op == "ENV":
            out.env.update(dict(item.split("=", 1) for item in shlex.split(rest)))
        elif op == "ENTRYPOINT":
            out.entrypoint = json.loads(rest)
        elif op == "CMD":
            out.cmd = json.loads(rest)
        elif op == "WORKDIR":
            out.workdir = rest.strip()
    return out


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: p.name)
def test_dockerfile_copies_files_that_exist_and_pins_base_images_by_digest(path: Path) -> None:
    spec = parse(path)
    assert spec.froms and spec.copies and spec.cmd
    for image in spec.froms:
        assert re.fullmatch(r"[\w./-]+:[\w.-]+@sha256:[0-9a-f]{64}", image), image
    for sources, _ in spec.copies:
        for source in sources:
            assert (ROOT / source).exists(), f"{path.name} copies {source}, which is not in the repository"


def test_images_are_the_ones_the_design_names() -> None:
    assert {p.name for p in DOCKERFILES} >= {"function.Dockerfile", "egress.Dockerfile"}
    assert parse(IMAGES / "egress.Dockerfile").cmd == ["python", "-m", "chalicelib.runtime.egress_service"]


def test_function_image_pins_the_runtime_client_the_tests_run() -> None:
    image = re.search(r"awslambdaric==([\d.]+)", (IMAGES / "function-requirements.txt").read_text())
    dev = re.search(r"awslambdaric==([\d.]+)", (ROOT / "requirements-dev.txt").read_text())
    assert image and dev and image.group(1) == dev.group(1)


# -- the function image's entry point under the runtime interface client ----------------------------------------
class RuntimeApi(ThreadingHTTPServer):
    """Lambda's Runtime API, as far as a runtime client uses it: next event, its response, errors."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _RuntimeHandler)
        self.events: Queue[tuple[str, Any]] = Queue()
        self.answers: Queue[tuple[str, str, Any]] = Queue()


class _RuntimeHandler(BaseHTTPRequestHandler):
    """HTTP/1.1 with every header Lambda sends: the client keeps one connection, and its C part expects them all."""

    server: RuntimeApi
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # the runtime client blocks here until an event comes
        if self.path != f"{API}/invocation/next":
            self._reply(404, b"{}")
            return
        request_id, event = self.server.events.get()
        self._reply(200, json.dumps(event).encode(), {
            "Lambda-Runtime-Aws-Request-Id": request_id, "Lambda-Runtime-Deadline-Ms": "9999999999999",
            "Lambda-Runtime-Invoked-Function-Arn": "arn:aws:lambda:us-east-1:123456789012:function:fngate-fn-x",
            "Lambda-Runtime-Trace-Id": "Root=1-0-0", "Lambda-Runtime-Client-Context": "{}",
            "Lambda-Runtime-Cognito-Identity": "{}", "Content-Type": "application/json"})

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        parts = self.path.removeprefix(API + "/").split("/")  # invocation/<id>/response | .../error | init/error
        kind = parts[-1] if parts[0] == "invocation" else "init-error"
        request_id = parts[1] if parts[0] == "invocation" else ""
        self.server.answers.put((request_id, kind, json.loads(body or b"null")))
        self._reply(202, b"{}")

    def _reply(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def stage(spec: Dockerfile, root: Path) -> None:
    """Each COPY line of the build context, into ``root`` (a trailing / on the destination means a directory)."""
    for sources, dest in spec.copies:
        for source in sources:
            src, target = ROOT / source, root / dest.lstrip("/")
            if src.is_dir():
                shutil.copytree(src, target, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                into = target / src.name if dest.endswith("/") else target
                into.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, into)


def rooted(value: str, root: Path) -> str:
    """An ENV value with the image's absolute paths moved under ``root`` (binaries: the machine's own)."""
    if value == "/usr/local/bin/node":
        return NODE or value
    return ":".join(str(root / part.lstrip("/")) if part.startswith("/") else part for part in value.split(":"))


@dataclass
class Container:
    api: RuntimeApi
    proc: subprocess.Popen[bytes]
    log: Path
    count: int = 0

    def invoke(self, event: Any) -> tuple[str, Any]:
        self.count += 1
        request_id = f"req-{self.count}"
        self.api.events.put((request_id, event))
        try:
            got_id, kind, body = self.api.answers.get(timeout=60)
        except Empty:
            raise AssertionError(f"no answer from the runtime client: {self.log.read_text()[-3000:]}") from None
        assert got_id == request_id, (got_id, kind, body)
        return kind, body


@pytest.fixture
def container(tmp_path: Path) -> Iterator[Container]:
    spec = parse(IMAGES / "function.Dockerfile")
    stage(spec, tmp_path)
    env = {name: rooted(value, tmp_path) for name, value in spec.env.items()}
    api = RuntimeApi()
    threading.Thread(target=api.serve_forever, daemon=True).start()
    argv = [sys.executable, *spec.entrypoint[1:], *spec.cmd]  # the image's python is this one, with awslambdaric
    assert spec.entrypoint[0].endswith("/python")
    log = tmp_path / "container.log"
    proc = subprocess.Popen(argv, cwd=rooted(spec.workdir, tmp_path), stdout=log.open("wb"),
                            stderr=subprocess.STDOUT, env={
                                "PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(tmp_path), **env,
                                "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{api.server_address[1]}",
                                "AWS_LAMBDA_FUNCTION_NAME": "fngate-fn-x", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
                                "_HANDLER": spec.cmd[0], "AWS_SECRET_ACCESS_KEY": "the-role-credentials",
                                "FNGATE_DEPS_ROOT": str(tmp_path / "tmp" / "fngate-deps")})
    try:
        yield Container(api, proc, log)
    finally:
        proc.kill()
        proc.wait(timeout=10)
        api.shutdown()


def bundle(language: str, code: str) -> dict[str, Any]:
    return {"runtime": "python3.11" if language == "python" else "nodejs20", "language": language, "code": code,
            "env": {"GREETING": "hi"}, "limits": {"log_entries": 10, "log_chars": 5000}}


PY = """import fngate_toolbelt
def lambda_handler(input, callback):
    import os
    console.info("in the image")
    callback(None, {"got": input["payload"], "env": sorted(os.environ), "toolbelt": fngate_toolbelt.__name__})
"""
NODE_CODE = """const { Toolbelt } = require("lp-faas-toolbelt");
function lambda(input, callback) {
  callback(null, { got: input.payload, toolbelt: typeof Toolbelt.SecretClient, node: process.version });
}
"""


def test_function_image_entry_point_checks_and_runs_python(container: Container) -> None:
    kind, ready = container.invoke({"op": "check", "bundle": bundle("python", PY)})
    assert (kind, ready) == ("response", {"op": "ready", "form": "callback"})
    kind, answer = container.invoke({"op": "invoke", "input": {"headers": [], "payload": 7}, "timeout_ms": 5000,
                                     "bundle": bundle("python", PY)})
    assert kind == "response" and answer["ok"] is True, answer
    assert answer["result"]["got"] == 7 and answer["result"]["toolbelt"] == "fngate_toolbelt"
    assert "GREETING" in answer["result"]["env"] and "AWS_SECRET_ACCESS_KEY" not in answer["result"]["env"]
    assert answer["logs"][0]["message"] == "in the image"


@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_function_image_entry_point_runs_node_with_its_toolbelt(container: Container) -> None:
    kind, answer = container.invoke({"op": "invoke", "input": {"headers": [], "payload": "n"}, "timeout_ms": 5000,
                                     "bundle": bundle("node", NODE_CODE)})
    assert kind == "response" and answer["ok"] is True, answer
    assert answer["result"]["got"] == "n" and answer["result"]["toolbelt"] == "function"


def test_function_image_answers_a_load_error_as_such(container: Container) -> None:
    kind, answer = container.invoke({"op": "check", "bundle": bundle("python", "def lambda_handler(:\n")})
    assert kind == "response" and answer["op"] == "load-error"


@needs_pypi
def test_function_image_builds_dependencies_with_the_builder_it_ships(container: Container) -> None:
    code = "def lambda_handler(input, callback):\n    import six\n    callback(None, six.__version__)\n"
    deps = {"declared": {"six": "1.17.0"}, "key": "", "limits": {"max_bytes": 50_000_000, "timeout_s": 120}}
    kind, built = container.invoke({"op": "build", "bundle": {**bundle("python", code), "deps": deps}})
    assert kind == "response" and built["op"] == "built" and built["key"].startswith("python-"), built
    kind, answer = container.invoke({"op": "invoke", "input": {"headers": [], "payload": None}, "timeout_ms": 5000,
                                     "bundle": {**bundle("python", code), "deps": {**deps, "key": built["key"]}}})
    assert answer["ok"] is True and answer["result"] == "1.17.0", answer
