"""Secrets on AWS (moto): KMS data keys bound to an encryption context, DynamoDB items without plaintext, re-wrap."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import boto3
import pytest
from moto import mock_aws

from chalicelib.clock import FrozenClock
from chalicelib.crypto.envelope import DecryptionFailed, KmsKeyring
from chalicelib.domain.models import Account
from chalicelib.domain.permissions import Principal, Role
from chalicelib.services.rotation import rotate_master_key
from chalicelib.services.secrets import SecretService
from chalicelib.storage.base import Query, Store
from chalicelib.storage.sqlite import SqliteStore
from tests.conftest import ACCOUNT, OTHER_ACCOUNT

PLAINTEXT = "kms-pl41ntext-never-stored"
ADMIN = Principal(ACCOUNT, "u-admin", "user", roles=frozenset({Role.ADMIN}), login_name="admin")


@pytest.fixture
def aws() -> Iterator[dict[str, Any]]:
    with mock_aws():
        yield {"kms": boto3.client("kms", region_name="us-east-1"),
               "dynamodb": boto3.client("dynamodb", region_name="us-east-1")}


def _dynamo_store(client: Any) -> Store:
    from chalicelib.storage.dynamodb import DynamoStore, create_table

    table = f"fngate-{uuid4().hex[:8]}"
    create_table(client, table)
    return DynamoStore(table_name=table, client=client)


@pytest.fixture(params=["dynamodb", "sqlite"])
def store(request: pytest.FixtureRequest, aws: dict[str, Any], tmp_path: Path) -> Iterator[Store]:
    built = _dynamo_store(aws["dynamodb"]) if request.param == "dynamodb" else SqliteStore(tmp_path / "f.db")
    for account in (ACCOUNT, OTHER_ACCOUNT):  # rotation finds secrets through the account list
        built.put("account", "accounts", account, Account(account, created_at="").to_dict())
    yield built
    built.close()


def new_key(aws: dict[str, Any]) -> str:
    return aws["kms"].create_key(Description=f"fngate test {uuid4()}")["KeyMetadata"]["KeyId"]


def service(store: Store, aws: dict[str, Any], key_id: str) -> SecretService:
    return SecretService(store, KmsKeyring(key_id, client=aws["kms"]), FrozenClock())


def test_kms_envelope_names_the_key_and_opens_again(store, aws):
    key_id = new_key(aws)
    secrets = service(store, aws, key_id)
    secrets.create(ADMIN, "api-token", {"token": PLAINTEXT})
    envelope = store.get("secret", ACCOUNT, "api-token").data["envelope"]
    assert envelope["keyring"] == "kms" and envelope["kid"].endswith(key_id)
    assert secrets.read_for_function(ACCOUNT, "api-token")["value"] == {"token": PLAINTEXT}


def test_an_envelope_copied_to_another_key_or_account_does_not_open(store, aws):
    # GIVEN a sealed secret, and its stored data copied under another key name and another account
    secrets = service(store, aws, new_key(aws))
    secrets.create(ADMIN, "real", PLAINTEXT)
    data = store.get("secret", ACCOUNT, "real").data
    store.put("secret", ACCOUNT, "copy", {**data, "key": "copy"})
    store.put("secret", OTHER_ACCOUNT, "real", data)
    # THEN KMS refuses both: the encryption context binds account and key
    for account, key in ((ACCOUNT, "copy"), (OTHER_ACCOUNT, "real")):
        with pytest.raises(DecryptionFailed) as exc:
            secrets.read_for_function(account, key)
        assert PLAINTEXT not in exc.value.message


def test_no_plaintext_in_the_raw_dynamodb_items(aws):
    # GIVEN secrets written through the service onto DynamoDB, then updated
    store = _dynamo_store(aws["dynamodb"])
    secrets = service(store, aws, new_key(aws))
    secrets.create(ADMIN, "scan-me", {"token": PLAINTEXT})
    secrets.update_for_function(ACCOUNT, "scan-me", {"token": PLAINTEXT + "-v2"})
    # WHEN every raw item of every table is scanned
    raw = ""
    for table in aws["dynamodb"].list_tables()["TableNames"]:
        raw += json.dumps(aws["dynamodb"].scan(TableName=table)["Items"], default=str)
    # THEN the key is there (an identifier) but not the value
    assert "scan-me" in raw
    assert "pl41ntext" not in raw


def test_rewrap_moves_every_data_key_to_the_configured_kms_key(store, aws):
    # GIVEN secrets sealed under a first KMS key
    first, second = new_key(aws), new_key(aws)
    old = service(store, aws, first)
    for i in range(4):
        old.create(ADMIN, f"s{i}", {"i": i, "v": PLAINTEXT})
    sealed_before = {r.sk: r.data["envelope"]["ct"] for r in _secret_records(store)}
    # WHEN the configuration names a second key and the rotation runs
    report = rotate_master_key(store, KmsKeyring(second, client=aws["kms"]))
    # THEN every data key is wrapped by the second key; the sealed values are untouched and still open
    assert report.complete and report.rewrapped == 4 and report.new_key_id is None
    assert {r.data["envelope"]["kid"].split("/")[-1] for r in _secret_records(store)} == {second}
    assert {r.sk: r.data["envelope"]["ct"] for r in _secret_records(store)} == sealed_before
    new = service(store, aws, second)
    assert [new.read_for_function(ACCOUNT, f"s{i}")["value"]["i"] for i in range(4)] == [0, 1, 2, 3]
    # AND running it again has nothing left to do
    assert rotate_master_key(store, KmsKeyring(second, client=aws["kms"])).rewrapped == 0


def test_an_interrupted_kms_rewrap_loses_nothing(store, aws):
    first, second = new_key(aws), new_key(aws)
    old = service(store, aws, first)
    for i in range(4):
        old.create(ADMIN, f"s{i}", i)
    calls: list[str] = []

    def crash_on_third(record: Any) -> None:
        calls.append(record.sk)
        if len(calls) == 3:
            raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        rotate_master_key(store, KmsKeyring(second, client=aws["kms"]), before_write=crash_on_third)
    new = service(store, aws, second)  # decrypt needs no key id: KMS finds it in the ciphertext
    assert [new.read_for_function(ACCOUNT, f"s{i}")["value"] for i in range(4)] == [0, 1, 2, 3]
    assert rotate_master_key(store, KmsKeyring(second, client=aws["kms"])).rewrapped == 2


def _secret_records(store: Store) -> list[Any]:
    return store.query(Query("secret", ACCOUNT))
