"""A small compressed answer cannot expand past the Toolbelt's response cap (a zip bomb), in Python and in Node."""

from __future__ import annotations

import json
import os
import subprocess
import zlib

import pytest

from chalicelib.toolbelt import NODE_PATH, PYTHON_PATH


@pytest.fixture
def transport(monkeypatch):
    monkeypatch.syspath_prepend(PYTHON_PATH)
    from fngate_toolbelt import _transport

    return _transport


def _gzip(raw: bytes) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    return packer.compress(raw) + packer.flush()


@pytest.mark.parametrize(("encoding", "pack"), [("gzip", _gzip), ("deflate", zlib.compress)])
def test_python_toolbelt_refuses_a_body_that_inflates_past_the_cap(transport, encoding, pack):
    bomb = pack(bytes(transport.MAX_RESPONSE_BYTES + 1))
    assert len(bomb) < 200_000
    with pytest.raises(transport.RequestError) as exc:
        transport._decode(bomb, encoding)
    assert exc.value.code == "E2BIG"


def test_python_toolbelt_still_decodes_ordinary_bodies(transport):
    assert transport._decode(_gzip(b"hello"), "gzip") == b"hello"
    assert transport._decode(zlib.compress(b"hello"), "deflate") == b"hello"


def test_node_toolbelt_refuses_a_body_that_inflates_past_the_cap():
    script = """
const t = require('lp-faas-toolbelt/lib/transport.js'); const z = require('zlib');
const big = Buffer.alloc(t.MAX_RESPONSE_BYTES + 1);
const out = {};
for (const [enc, packed] of [['gzip', z.gzipSync(big)], ['deflate', z.deflateSync(big)],
                             ['br', z.brotliCompressSync(big)]]) {
  try { t.decode(packed, enc); out[enc] = 'decoded'; } catch (err) { out[enc] = err.message; }
}
out.ok = t.decode(z.gzipSync(Buffer.from('hello')), 'gzip').toString();
console.log(JSON.stringify(out));
"""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "NODE_PATH": NODE_PATH}
    run = subprocess.run(["node", "-e", script], capture_output=True, text=True, env=env, timeout=60, check=True)
    out = json.loads(run.stdout)
    too_big = "The decompressed response exceeds 67108864 bytes"
    assert out == {"gzip": too_big, "deflate": too_big, "br": too_big, "ok": "hello"}
