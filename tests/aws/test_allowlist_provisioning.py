"""The allowlist's conditional transactions and account provisioning on the AWS backends (moto DynamoDB + KMS)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from uuid import uuid4

import boto3
import pytest
from moto import mock_aws

from chalicelib.clock import FrozenClock
from chalicelib.config import Settings
from chalicelib.crypto.envelope import KmsKeyring
from chalicelib.domain.errors import DomainExists, DomainNotFound
from chalicelib.domain.permissions import Principal, Role
from chalicelib.services.container import Services, build_services
from chalicelib.storage.dynamodb import DynamoStore, create_table
from tests.conftest import ACCOUNT
from tests.fakes import FakeExecutor

ADMIN = Principal(ACCOUNT, "u-admin", "user", roles=frozenset({Role.ADMIN}), login_name="admin")


@pytest.fixture
def aws_services(tmp_path: Path) -> Iterator[Services]:
    with mock_aws():
        db, kms = boto3.client("dynamodb", region_name="us-east-1"), boto3.client("kms", region_name="us-east-1")
        table = f"fngate-{uuid4().hex[:8]}"
        create_table(db, table)
        key_id = kms.create_key()["KeyMetadata"]["KeyId"]
        settings = Settings(data_dir=tmp_path, store="dynamodb", keyring="kms", table_name=table, kms_key_id=key_id,
                            domain_map={"msgHist": "msghist.lp.test"}, public_host="gw.fngate.test",
                            jobs="inline")
        svc = build_services(settings, store=DynamoStore(client=db, table_name=table),
                             keyring=KmsKeyring(key_id, client=kms), executor=FakeExecutor(), clock=FrozenClock())
        yield svc
        svc.close()


def test_allowlist_ids_duplicates_and_edits_on_dynamodb(aws_services):
    domains = aws_services.domains
    a = domains.add(ADMIN, "a.example.com")
    b = domains.add(ADMIN, "*.b.example.com", "B")
    with pytest.raises(DomainExists):
        domains.add(ADMIN, "a.example.com")
    with pytest.raises(DomainExists):
        domains.update(ADMIN, b.id, "a.example.com")
    domains.update(ADMIN, a.id, "c.example.com")
    domains.remove(ADMIN, b.id)
    with pytest.raises(DomainNotFound):
        domains.remove(ADMIN, b.id)
    assert (a.id, b.id, domains.add(ADMIN, "a.example.com").id) == (1, 2, 3)
    assert domains.allowlist_for(ACCOUNT) == ["c.example.com", "a.example.com"]


def test_provisioning_on_aws_backends_issues_working_app_keys(aws_services):
    report = aws_services.provisioning.provision(ACCOUNT)
    assert set(report.secrets_created) == {"lp-faas-default-app-key", "lp-faas-orchestrator-app-key"}
    assert aws_services.domains.allowlist_for(ACCOUNT) == ["gw.fngate.test", "msghist.lp.test"]
    creds = aws_services.secrets.read_for_function(ACCOUNT, "lp-faas-orchestrator-app-key")["value"]
    token = aws_services.identity.app_token(ACCOUNT, creds["client_id"], creds["client_secret"])
    who = aws_services.identity.authenticate(ACCOUNT, f"Bearer {token['access_token']}")
    assert who.scopes == frozenset({"faas.orchestrator.invoke"})
    assert aws_services.provisioning.provision(ACCOUNT).secrets_created == ()
