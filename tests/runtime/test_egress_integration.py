"""End to end: a function in a sandboxed local worker reaches an allowlisted host only through the egress proxy.

The "internet" is a local HTTP server; the proxy's resolver maps ``api.fake.test:80`` to it. The same server on
127.0.0.1 is out of reach of a direct connect: the worker's loopback is its own network namespace's.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer

import pytest

from chalicelib.runtime.egress import EgressProxy, mapped_resolver
from chalicelib.runtime.local.executor import LocalExecutor
from tests.runtime.conftest import NODE, PYTHON, Upstream, deployed, need_sandbox, run

ALLOWED, OTHER = "api.fake.test", "other.fake.test"


class _Hello(Upstream):
    def do_GET(self) -> None:
        body = f"hello {self.headers.get('Host')} {self.path}".encode()
        self.answer(body)


@pytest.fixture(scope="module")
def setup() -> Iterator[tuple[LocalExecutor, int]]:
    need_sandbox()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hello)
    port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    sockdir = tempfile.mkdtemp(prefix="fngate-egress-test-")
    os.chmod(sockdir, 0o711)  # worker uids must traverse to the socket
    proxy = EgressProxy(lambda account: [ALLOWED], socket_path=f"{sockdir}/egress.sock",
                        resolver=mapped_resolver({f"{ALLOWED}:80": f"127.0.0.1:{port}"}, fallback=None)).start()
    executor = LocalExecutor(timeout_s=10.0, egress=proxy, spares=0)
    try:
        yield executor, port
    finally:
        executor.close()
        proxy.close()
        server.shutdown()
        server.server_close()
        shutil.rmtree(sockdir, ignore_errors=True)


CODE = {
    PYTHON: (
        "import socket, urllib.error, urllib.request\n"
        "def lambda_handler(input):\n"
        "    p = input['payload']\n"
        "    if p['op'] == 'raw':\n"
        "        try:\n"
        "            socket.create_connection(('127.0.0.1', p['port']), timeout=2)\n"
        "            return 'connected'\n"
        "        except OSError as err:\n"
        "            return type(err).__name__\n"
        "    try:\n"
        "        with urllib.request.urlopen(f\"http://{p['host']}/hi\", timeout=5) as reply:\n"
        "            return [reply.status, reply.read().decode()]\n"
        "    except urllib.error.HTTPError as err:\n"
        "        return [err.code, '']\n"),
    NODE: (
        "const http = require('http'); const net = require('net');\n"
        "async function lambda(input) {\n"
        "  const p = input.payload;\n"
        "  if (p.op === 'raw') return await new Promise((resolve) => {\n"
        "    const s = net.connect(p.port, '127.0.0.1', () => { s.destroy(); resolve('connected'); });\n"
        "    s.on('error', (e) => resolve(e.code));\n"
        "  });\n"
        "  const proxy = new URL(process.env.HTTP_PROXY);\n"
        "  const auth = Buffer.from(`${proxy.username}:${proxy.password}`).toString('base64');\n"
        "  return await new Promise((resolve, reject) => {\n"
        "    const req = http.request({ host: proxy.hostname, port: proxy.port, path: `http://${p.host}/hi`,\n"
        "      headers: { Host: p.host, 'Proxy-Authorization': `Basic ${auth}` } }, (res) => {\n"
        "      let body = ''; res.setEncoding('utf8');\n"
        "      res.on('data', (c) => { body += c; });\n"
        "      res.on('end', () => resolve([res.statusCode, res.statusCode === 200 ? body : '']));\n"
        "    });\n"
        "    req.on('error', reject); req.end();\n"
        "  });\n"
        "}\n"),
}


@pytest.mark.parametrize("runtime", [PYTHON, NODE])
def test_function_reaches_only_allowlisted_hosts_through_the_proxy(setup: tuple[LocalExecutor, int],
                                                                   runtime: str) -> None:
    executor, port = setup
    t = deployed(executor, runtime, CODE[runtime])
    assert run(executor, t, {"op": "get", "host": ALLOWED}).result == [200, f"hello {ALLOWED} /hi"]
    assert run(executor, t, {"op": "get", "host": OTHER}).result == [403, ""]
    assert run(executor, t, {"op": "raw", "port": port}).result in ("ECONNREFUSED", "ConnectionRefusedError")


def test_undeploy_retires_the_workers_tokens(setup: tuple[LocalExecutor, int]) -> None:
    executor, _ = setup
    proxy = executor._egress_proxy
    assert proxy is not None
    before = len(proxy._grants)
    t = deployed(executor, PYTHON, CODE[PYTHON])
    assert len(proxy._grants) == before + 1
    executor.undeploy(t.account_id, t.function_uuid)
    assert len(proxy._grants) == before
