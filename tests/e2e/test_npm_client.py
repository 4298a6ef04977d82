"""LivePerson's published npm client (liveperson-functions-client 2.2.0) against a real `fngate serve` over HTTPS.

The client only reaches port 443 (it formats host:port as a hostname), so the gateway listens on 443 on a
loopback address of its own; the test installs the client with npm on first run and trusts a self-signed cert.
"""

from __future__ import annotations

import datetime
import json
import os
import random
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.e2e.conftest import ACCOUNT, start_gateway, stop_gateway

CLIENT_DIR = Path(__file__).parent / "npm_client"
pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="binding port 443 needs root")


def _install_client() -> None:
    if not (CLIENT_DIR / "node_modules" / "liveperson-functions-client").exists():
        npm = shutil.which("npm")
        assert npm, "npm is needed to install LivePerson's client"
        subprocess.run([npm, "install", "--no-audit", "--no-fund", "--silent"], cwd=CLIENT_DIR, check=True,
                       timeout=300)


def _self_signed(tmp: Path, ip: str, names: tuple[str, ...] = ()) -> tuple[Path, Path]:
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ip)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=1))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(ip)),
                                                        *(x509.DNSName(n) for n in names)]), critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp / "cert.pem", tmp / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def test_livepersons_npm_client_works_unchanged(tmp_path):
    _install_client()
    ip = f"127.{random.randint(1, 250)}.{random.randint(1, 250)}.{random.randint(2, 250)}"
    cert, key = _self_signed(tmp_path, ip)
    gw = start_gateway(tmp_path, args=("--tls-cert", str(cert), "--tls-key", str(key)), host=ip, port=443)
    try:
        ok = gw.deploy("npm-ok", "function lambda(input, callback) {\n  callback(null, {hi: input.payload.name, "
                                 "h: input.headers});\n}\n", eventId="conversational_command")
        fail = gw.deploy("npm-fail", "function lambda(input, callback) {\n  callback(new Error('nope'));\n}\n")
        case = {"host": ip, "accountId": ACCOUNT, "clientId": gw.creds["clientId"],
                "clientSecret": gw.creds["clientSecret"], "okUuid": ok, "failUuid": fail,
                "missingUuid": "00000000-0000-4000-8000-00000000dead", "eventId": "conversational_command"}
        env = {**os.environ, "FNGATE_CASE": json.dumps(case), "NODE_EXTRA_CA_CERTS": str(cert)}
        run = subprocess.run(["node", "drive.js"], cwd=CLIENT_DIR, env=env, capture_output=True, text=True,
                             timeout=120)
        assert run.returncode == 0, run.stderr
        out = json.loads(run.stdout)
    finally:
        stop_gateway(gw)

    invoked = out["invokeV1"]["value"]
    assert invoked["ok"] is True and invoked["body"] == {"hi": "npm", "h": [{"key": "k", "value": "v"}]}
    soft = out["invokeFailSoft"]["value"]
    assert soft["ok"] is False and soft["status"] == 901
    assert soft["body"]["errorCode"] == "com.liveperson.faas.handler.custom-failure"
    assert out["invokeFailStrict"]["error"]["name"] == "FaaSLambdaError"
    missing = out["invokeMissing"]["value"]
    assert missing["status"] == 404 and missing["body"]["errorMsg"] == f"There is no {case['missingUuid']} " \
                                                                       f"deployed on {ACCOUNT}"
    assert out["invokeMissingStrict"]["error"]["name"] == "FaaSInvokeError"
    assert out["isImplemented"]["value"] is True and out["isNotImplemented"]["value"] is False
    assert out["invokeEvent"]["value"]["body"] == [{"hi": "npm", "h": [{"key": "k", "value": "v"}]}]
    listed = out["getLambdas"]["value"]
    names = {f["name"] for f in listed["body"]}
    assert listed["ok"] is True and {"npm-ok", "npm-fail"} <= names
    assert {f["state"] for f in out["getLambdasProductive"]["value"]["body"]} == {"Productive"}
