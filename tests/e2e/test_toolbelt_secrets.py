"""A deployed function reads a secret through the Toolbelt; an update is seen on its next read, no redeploy."""

from __future__ import annotations

from pathlib import Path

import pytest

from chalicelib.config import Settings
from chalicelib.services.container import build_services
from chalicelib.services.functions import FunctionChanges
from chalicelib.services.invocations import Call

ACCOUNT = "tbacct"
NODE = """async function lambda(input) {
  const { Toolbelt } = require('lp-faas-toolbelt');
  const secret = await Toolbelt.SecretClient().readSecret('api-key');
  return secret.value;
}
"""
PY = """def lambda_handler(input, callback):
    from fngate_toolbelt import Toolbelt
    callback(None, Toolbelt.secret_client().read_secret('api-key')['value'])
"""


@pytest.fixture
def svc(tmp_path: Path):
    built = build_services(Settings(data_dir=tmp_path / "data", jobs="inline", function_timeout_s=10))
    yield built
    built.close()


@pytest.mark.parametrize(("runtime", "code"), [("nodejs20", NODE), ("python3.11", PY)])
def test_rotated_secret_is_seen_by_a_deployed_function_without_redeploy(svc, runtime, code):
    creds = svc.identity.bootstrap(ACCOUNT)
    admin = svc.identity.authenticate(ACCOUNT, f"Bearer {creds['adminToken']}")
    svc.secrets.create(admin, "api-key", "first")
    fn = svc.functions.create(admin, FunctionChanges(name=f"reader-{runtime[:4]}", runtime=runtime, code=code))
    svc.deployments.deploy(admin, fn.uuid)
    assert svc.invocations.invoke(admin, fn.uuid, Call(body={"payload": {}})).result == "first"
    svc.secrets.update(admin, "api-key", "second")
    assert svc.invocations.invoke(admin, fn.uuid, Call(body={"payload": {}})).result == "second"
