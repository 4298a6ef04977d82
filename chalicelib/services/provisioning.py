"""Account provisioning (seed 000): the two app-key secrets and the default allowlist, once terms are accepted.

fngate issues both app keys itself, so the Toolbelt's LpClient and OrchestratorClient authenticate against fngate's
own token endpoint. Default domains are CSDS service names; fngate answers some of them itself (its public host) and
resolves the rest through the configured domain map, skipping (and reporting) those the map lacks. Every step is
create-if-missing and the account is marked provisioned last, so an interrupted run is completed by the next one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from chalicelib.domain.errors import FngateError, ValidationFailed, VersionConflict
from chalicelib.domain.models import Account
from chalicelib.domain.permissions import INVOKE_SCOPE, ORCHESTRATOR_SCOPE, Action, Principal, require
from chalicelib.domain.secrets import DEFAULT_APP_KEY, ORCHESTRATOR_APP_KEY
from chalicelib.services.domains import DomainService
from chalicelib.services.identity import IdentityService
from chalicelib.services.secrets import SecretService
from chalicelib.storage.base import Store

PROVISIONER = "fngate-provisioning"
APP_KEY_SECRETS: tuple[tuple[str, str], ...] = (  # secret (and app key) name, the key's only scope
    (DEFAULT_APP_KEY, INVOKE_SCOPE), (ORCHESTRATOR_APP_KEY, ORCHESTRATOR_SCOPE))
# seed 000's default allowlist, spelled as CSDS names (the seed writes faaSGW, Msdkgw, Sentinel)
DEFAULT_DOMAIN_SERVICES: tuple[str, ...] = (
    "faasGW", "msgHist", "agentVep", "accountConfigReadOnly", "accountConfigReadWrite", "asyncMessaging",
    "asyncMessagingEnt", "engHistDomain", "rtbf", "smt", "pusher", "leDataReporting", "msgEwtAPI", "msdkgw", "swift",
    "sentinel", "mTLSGateway")
SELF_SERVICES = frozenset({"faasgw", "sentinel", "agentvep"})  # served by fngate itself (as its CSDS answer says)


@dataclass(frozen=True)
class ProvisioningReport:
    account_id: str
    provisioned: bool
    secrets_created: tuple[str, ...] = ()
    domains_added: tuple[str, ...] = ()
    skipped_services: dict[str, str] = field(default_factory=dict)  # CSDS service → why no domain was added

    def to_dict(self) -> dict[str, Any]:
        return {"accountId": self.account_id, "provisioned": self.provisioned,
                "secretsCreated": list(self.secrets_created), "domainsAdded": list(self.domains_added),
                "skippedServices": dict(self.skipped_services)}


def host_only(value: str) -> str:
    """``https://host:port/path`` or ``host:port`` → ``host``: the allowlist matches host names only."""
    host = value.strip().split("://", 1)[-1].split("/", 1)[0]
    if host.startswith("["):  # an IPv6 literal cannot be allowlisted; leave it for validation to reject
        return host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


class ProvisioningService:
    def __init__(self, store: Store, identity: IdentityService, secrets: SecretService, domains: DomainService,
                 domain_map: Mapping[str, str], public_host: str = "") -> None:
        self._store, self._identity, self._secrets, self._domains = store, identity, secrets, domains
        self._map = {name.lower(): host for name, host in domain_map.items()}
        self._public_host = public_host

    def provision(self, account_id: str, *, public_host: str | None = None, force: bool = False,
                  by: str = PROVISIONER) -> ProvisioningReport:
        """Create what seed 000 lists that is missing, then mark the account provisioned.

        An account already provisioned is left alone unless ``force`` (an admin may have removed defaults on
        purpose); ``public_host`` (host[:port]) is what faasGW, sentinel and agentVep resolve to.
        """
        account = self._identity.ensure_account(account_id)
        if account.provisioned and not force:
            return ProvisioningReport(account_id, provisioned=True)
        secrets = [name for name, scope in APP_KEY_SECRETS if self._ensure_app_key_secret(account_id, name, scope, by)]
        resolved, skipped = self.default_domains(public_host)
        added: list[str] = []
        for service, host in resolved:
            try:
                if self._domains.ensure(account_id, host, service, by=by):
                    added.append(host)
            except ValidationFailed:  # e.g. an IP address as public host: nothing to allowlist by name
                skipped[service] = f"{host} is not a valid domain name"
        self._mark_provisioned(account_id)
        return ProvisioningReport(account_id, True, tuple(secrets), tuple(added), skipped)

    def accept_terms(self, who: Principal, *, public_host: str | None = None) -> ProvisioningReport:
        """A FaaS-Admin accepts the terms of use: provisioning creates secrets and domains, so it needs both rights."""
        require(who, "secret", Action.WRITE)
        require(who, "whitelist", Action.WRITE)
        return self.provision(who.account_id, public_host=public_host, by=who.display_name)

    def status(self, who: Principal) -> dict[str, Any]:
        """Whether the account is provisioned; any authenticated caller of the account may ask."""
        record = self._store.get("account", "accounts", who.account_id)
        provisioned = bool(record and Account.from_dict(record.data).provisioned)
        return {"accountId": who.account_id, "provisioned": provisioned,
                "status": "provisioned" if provisioned else "pending",
                "secrets": {name: self._secrets.exists(who.account_id, name) for name, _ in APP_KEY_SECRETS}}

    def default_domains(self, public_host: str | None = None) -> tuple[list[tuple[str, str]], dict[str, str]]:
        """([(service, host)], {service: reason skipped}) for seed 000's default allowlist, in the seed's order."""
        own = host_only(public_host or self._public_host)
        resolved: list[tuple[str, str]] = []
        skipped: dict[str, str] = {}
        for service in DEFAULT_DOMAIN_SERVICES:
            mapped = self._map.get(service.lower())
            host = host_only(mapped) if mapped else (own if service.lower() in SELF_SERVICES else "")
            if not host:
                skipped[service] = ("the gateway's public host is not known" if service.lower() in SELF_SERVICES
                                    else "not in the domain map")
            elif host not in (h for _, h in resolved):
                resolved.append((service, host))
        return resolved, skipped

    def _ensure_app_key_secret(self, account_id: str, name: str, scope: str, by: str) -> bool:
        if self._secrets.exists(account_id, name):
            return False
        key, secret = self._identity.ensure_app_key(account_id, name, [scope])
        return self._secrets.ensure(account_id, name, {"client_id": key.client_id, "client_secret": secret}, by=by)

    def _mark_provisioned(self, account_id: str) -> None:
        for _ in range(5):
            record = self._store.get("account", "accounts", account_id)
            if record is None or record.data.get("provisioned"):
                return
            try:
                self._store.put("account", "accounts", account_id, {**record.data, "provisioned": True},
                                expected_version=record.version)
                return
            except VersionConflict:
                continue
        raise FngateError("could not mark the account provisioned")
