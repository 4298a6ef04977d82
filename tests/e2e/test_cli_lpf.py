"""One folder, two tools: a function made and pushed by `fngate` is pushed, deployed and invoked by LivePerson's
`lpf` CLI (npm liveperson-functions-cli 1.31.13, installed from tests/e2e/lpf_cli on first run).

lpf finds the gateway through LivePerson's CSDS host (https://api.liveperson.net, fixed in its code): a preloaded
script (lpf_cli/dns_hook.js) resolves that name to a loopback address where the gateway serves HTTPS on 443 with a
certificate for that name, trusted through NODE_EXTRA_CA_CERTS; the gateway publishes the same name as its host.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import os
import random
import subprocess
from pathlib import Path

import pytest

from tests.e2e.cli_helpers import make_cli
from tests.e2e.conftest import ACCOUNT, LPF_DIR, install_lpf, start_gateway, stop_gateway

CSDS_HOST = "api.liveperson.net"
PASSWORD = "lpf-password-1"
pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="binding port 443 needs root")



def _certificate(tmp: Path, ip: str) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, CSDS_HOST)])
    now = datetime.datetime.now(datetime.UTC)
    names = [x509.DNSName(CSDS_HOST), x509.IPAddress(ipaddress.ip_address(ip))]
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=1))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName(names), critical=False).sign(key, hashes.SHA256()))
    cert_path, key_path = tmp / "cert.pem", tmp / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def test_a_fngate_folder_works_with_lpf_push_deploy_invoke(tmp_path: Path) -> None:
    lpf = install_lpf()
    ip = f"127.{random.randint(1, 250)}.{random.randint(1, 250)}.{random.randint(2, 250)}"
    cert, key = _certificate(tmp_path, ip)
    gw = start_gateway(tmp_path, args=("--tls-cert", str(cert), "--tls-key", str(key)), host=ip, port=443,
                       extra_env={"FNGATE_PUBLIC_HOST": f"{CSDS_HOST}:443"})
    try:
        # GIVEN a folder made by fngate init, pushed and deployed by fngate
        cli = make_cli(tmp_path, SSL_CERT_FILE=str(cert))
        cli.ok("admin", "users", "create", "--data-dir", str(gw.data_dir), "--account", ACCOUNT, "--login", "lpf",
               "--role", "FaaS-Developer", "--password-stdin", stdin=PASSWORD)
        cli.ok("init", "both-tools", "--event", "conversational_command")
        code = cli.cwd / "functions" / "both-tools" / "index.js"
        code.write_text(code.read_text().replace('"Hello "', '"Hello from lpf "'))
        lpf_env = {**os.environ, "TMPDIR": str(tmp_path), "NODE_EXTRA_CA_CERTS": str(cert),
                   "NODE_OPTIONS": f"--require {LPF_DIR / 'dns_hook.js'}", "FNGATE_LPF_HOSTS":
                   json.dumps({CSDS_HOST: ip}), "NO_UPDATE_NOTIFIER": "1", "CI": "1"}

        def run_lpf(*args: str) -> str:
            done = subprocess.run([str(lpf), *args], cwd=cli.cwd, env=lpf_env, capture_output=True, text=True,
                                  timeout=120, stdin=subprocess.DEVNULL)
            assert done.returncode == 0, f"lpf {args}: {done.stdout}\n{done.stderr}"
            return done.stdout

        # WHEN lpf logs in and pushes, deploys and invokes the same folder
        run_lpf("login", "--accountId", ACCOUNT, "--username", "lpf", "--password", PASSWORD)
        run_lpf("push", "both-tools", "--yes", "--no-watch")  # listr prints nothing without a terminal
        run_lpf("deploy", "both-tools", "--yes", "--no-watch")
        invoked = json.loads(run_lpf("invoke", "both-tools"))

        # THEN the gateway has it live, and both tools see the same function
        assert invoked["result"] == {"text": "Hello from lpf /hello"}
        cli.ok("login", "--url", f"https://{ip}", "--account", ACCOUNT, "--user", "lpf", "--password-stdin",
               stdin=PASSWORD)
        fns = {f["name"]: f for f in cli.json("get", "functions")}
        assert fns["both-tools"]["state"] == "Productive"
        assert cli.json("invoke", "both-tools")["result"] == {"text": "Hello from lpf /hello"}
        assert cli.json("push", "both-tools", "--yes")[0]["action"] == "unchanged"
    finally:
        stop_gateway(gw)
