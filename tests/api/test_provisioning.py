"""Provisioning (seed 000): exactly the two app-key secrets and the mapped default domains, idempotently."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlencode

import pytest
from chalice.test import Client

from app import app
from chalicelib.services.container import use_services
from chalicelib.services.provisioning import DEFAULT_DOMAIN_SERVICES
from chalicelib.storage.base import Query
from tests.api.conftest import Api, body, v1_lambda
from tests.conftest import ACCOUNT
from tests.fakes import FakeExecutor

BASE = f"/api/account/{ACCOUNT}"
GATEWAY = "gw.fngate.test"
DOMAIN_MAP = {"msgHist": "msghist.lp.test", "accountConfigReadOnly": "acr.lp.test:8443",
              "Msdkgw": "https://msdkgw.lp.test/", "swift": "swift.lp.test", "rtbf": "msghist.lp.test"}
SEED_SECRETS = {"lp-faas-default-app-key", "lp-faas-orchestrator-app-key"}


@pytest.fixture
def gw(make_services) -> Iterator[Api]:
    """Services with a domain map and a public host; the account exists but is not provisioned yet."""
    executor = FakeExecutor()
    svc = make_services(executor=executor, domain_map=DOMAIN_MAP, public_host=f"{GATEWAY}:8443")
    creds = svc.identity.bootstrap(ACCOUNT)
    with use_services(svc), Client(app) as client:
        yield Api(client, svc, creds, {}, executor)


def secret_keys(gw) -> set[str]:
    return {s.key for s in gw.services.secrets.list(_admin(gw))}


def _admin(gw):
    return gw.services.identity.authenticate(ACCOUNT, f"Bearer {gw.creds['adminToken']}")


def test_provision_creates_exactly_the_seed_secrets_and_mapped_domains(gw):
    # WHEN the account is provisioned
    report = gw.services.provisioning.provision(ACCOUNT)
    # THEN the two seed secrets exist, and the seed's domains that resolve are allowlisted (each host once)
    assert set(report.secrets_created) == SEED_SECRETS == secret_keys(gw)
    expected = [GATEWAY, "msghist.lp.test", "acr.lp.test", "msdkgw.lp.test", "swift.lp.test"]
    assert gw.services.domains.allowlist_for(ACCOUNT) == expected == list(report.domains_added)
    names = {d.domain: d.name for d in gw.services.domains.entries(ACCOUNT)}
    assert names[GATEWAY] == "faasGW" and names["msdkgw.lp.test"] == "msdkgw"
    # AND every seed service without a mapping is reported, not silently dropped
    assert set(report.skipped_services) == set(DEFAULT_DOMAIN_SERVICES) - {
        "faasGW", "sentinel", "agentVep", "msgHist", "accountConfigReadOnly", "msdkgw", "swift", "rtbf"}
    assert report.provisioned and gw.services.provisioning.status(_admin(gw))["provisioned"]


def test_provisioning_is_idempotent(gw):
    gw.services.provisioning.provision(ACCOUNT)
    before_secrets = {k: gw.services.secrets.read_for_function(ACCOUNT, k) for k in SEED_SECRETS}
    before_domains = gw.services.domains.entries(ACCOUNT)
    again = gw.services.provisioning.provision(ACCOUNT)
    forced = gw.services.provisioning.provision(ACCOUNT, force=True)
    assert again.secrets_created == again.domains_added == forced.secrets_created == forced.domains_added == ()
    assert {k: gw.services.secrets.read_for_function(ACCOUNT, k) for k in SEED_SECRETS} == before_secrets
    assert gw.services.domains.entries(ACCOUNT) == before_domains
    app_keys = gw.services.store.query(Query("appkey", ACCOUNT))
    assert sorted(r.data["name"] for r in app_keys) == sorted([*SEED_SECRETS, "fngate-bootstrap"])


def test_forced_provisioning_restores_only_what_is_missing(gw):
    gw.services.provisioning.provision(ACCOUNT)
    admin = _admin(gw)
    gw.services.secrets.delete(admin, "lp-faas-orchestrator-app-key")
    gw.services.domains.remove(admin, 2)
    assert gw.services.provisioning.provision(ACCOUNT).secrets_created == ()  # provisioned: left alone
    report = gw.services.provisioning.provision(ACCOUNT, force=True)
    assert report.secrets_created == ("lp-faas-orchestrator-app-key",)
    assert report.domains_added == ("msghist.lp.test",)


def test_an_ip_public_host_is_skipped_with_a_reason(make_services):
    svc = make_services(public_host="127.0.0.1:8080")
    report = svc.provisioning.provision(ACCOUNT)
    assert svc.domains.allowlist_for(ACCOUNT) == []
    assert "not a valid domain" in report.skipped_services["faasGW"]
    assert set(report.secrets_created) == SEED_SECRETS


def test_status_is_pending_until_an_admin_accepts_the_terms(gw):
    assert body(gw.dev("GET", f"{BASE}/provisioning"))["status"] == "pending"
    assert gw.dev("POST", f"{BASE}/provisioning/terms").status_code == 403
    res = gw.call("POST", f"{BASE}/provisioning/terms", gw.creds["adminToken"])
    assert res.status_code == 200 and set(body(res)["secretsCreated"]) == SEED_SECRETS
    status = body(gw.call("GET", f"{BASE}/provisioning", gw.creds["invocationToken"]))
    assert status == {"accountId": ACCOUNT, "provisioned": True, "status": "provisioned",
                      "secrets": dict.fromkeys(sorted(SEED_SECRETS), True)}


def test_terms_without_a_configured_host_use_the_request_host(make_services):
    svc = make_services()
    creds = svc.identity.bootstrap(ACCOUNT)
    with use_services(svc), Client(app) as client:
        res = client.http.post(f"{BASE}/provisioning/terms", headers={"Authorization": f"Bearer {creds['adminToken']}",
                                                                       "Host": "fngate.example.org:9000"})
    assert res.status_code == 200, res.body
    assert svc.domains.allowlist_for(ACCOUNT) == ["fngate.example.org"]


def _token(gw, secret_name: str) -> str:
    creds = gw.services.secrets.read_for_function(ACCOUNT, secret_name)["value"]
    form = urlencode({"grant_type": "client_credentials", **creds})
    res = gw.client.http.post(f"/sentinel/api/v2/account/{ACCOUNT}/app/token?v=2.0", body=form.encode(),
                              headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert res.status_code == 200, res.body
    return body(res)["access_token"]


def test_orchestrator_key_gets_a_token_that_can_invoke_and_nothing_else(gw):
    # GIVEN a provisioned account with one deployed function
    gw.services.provisioning.provision(ACCOUNT)
    fn = body(gw.dev("POST", f"{BASE}/lambdas?v=1", v1_lambda("callee")))
    gw.dev("POST", f"{BASE}/deployments/{fn['uuid']}")
    # WHEN the orchestrator secret's credentials are exchanged for a token, as the Toolbelt does
    token = _token(gw, "lp-faas-orchestrator-app-key")
    # THEN it invokes (the OrchestratorClient's call) ...
    inv = gw.call("POST", f"{BASE}/lambdas/{fn['uuid']}/invoke?v=1&externalSystem=x", token,
                  {"timestamp": 0, "payload": {"n": 1}, "headers": []})
    assert inv.status_code == 200, inv.body
    # ... and everything else is forbidden
    for method, path, payload in [("GET", f"{BASE}/lambdas?v=1", None), ("GET", f"{BASE}/secrets", None),
                                  ("GET", f"{BASE}/proxy-settings", None),
                                  ("POST", f"{BASE}/lambdas?v=1", v1_lambda("nope")),
                                  ("POST", f"{BASE}/deployments/{fn['uuid']}", None),
                                  ("POST", f"{BASE}/provisioning/terms", None)]:
        assert gw.call(method, path, token, payload).status_code == 403, (method, path)


def test_default_key_carries_the_invoke_scope(gw):
    gw.services.provisioning.provision(ACCOUNT)
    token = _token(gw, "lp-faas-default-app-key")
    assert gw.call("GET", f"{BASE}/lambdas?v=1", token).status_code == 200
    assert gw.call("GET", f"{BASE}/secrets", token).status_code == 403
