"""A deployed function invokes another through the Toolbelt Orchestrator, with the provisioned orchestrator key,
over HTTP through the egress proxy back into the gateway — the way LivePerson's platform does it."""

from __future__ import annotations

from tests.e2e.conftest import ACCOUNT

CALLEE = "function lambda(input, callback) {\n  callback(null, {doubled: input.payload.n * 2});\n}\n"
CALLER = """async function lambda(input) {
  const { Toolbelt } = require('lp-faas-toolbelt');
  const [out] = await Toolbelt.OrchestratorClient().invoke(
    [{ uuid: input.payload.callee, payload: { n: 21 } }], 10000, { json: true });
  return out;
}
"""


def test_function_invokes_another_through_the_orchestrator(gateway):
    callee = gateway.deploy("orch-callee", CALLEE)
    caller = gateway.deploy("orch-caller", CALLER)
    status, out, _ = gateway.request("POST", f"/api/account/{ACCOUNT}/functions/{caller}/test",
                                     token=gateway.creds["developerToken"], body={"payload": {"callee": callee}})
    assert status == 200, out
    result = out["result"]
    assert result["uuid"] == callee and result["statusCode"] == 200, out
    assert result["body"] == {"doubled": 42}
