"""`store`: every contract test runs once on SQLite and once on DynamoDB (moto)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import boto3
import pytest
from moto import mock_aws

from chalicelib.storage.base import Store
from chalicelib.storage.dynamodb import DynamoStore, create_table
from chalicelib.storage.sqlite import SqliteStore

BACKENDS = ["sqlite", "dynamodb"]


@pytest.fixture(scope="module")
def fake_aws() -> Iterator[Any]:
    """A moto DynamoDB client, shared by a module (clients are slow to make); each test gets its own table."""
    with pytest.MonkeyPatch.context() as mp:
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SECURITY_TOKEN", "AWS_SESSION_TOKEN"):
            mp.setenv(name, "testing")  # nothing can reach a real account
        mp.setenv("AWS_DEFAULT_REGION", "us-east-1")
        with mock_aws():
            yield boto3.client("dynamodb", region_name="us-east-1")


def dynamo_store(client: Any) -> DynamoStore:
    table = f"t{uuid4().hex[:8]}"  # unique, so tests neither see each other's records nor clash in parallel
    create_table(client, table)
    return DynamoStore(client=client, table_name=table)


def make_store(backend: str, directory: Path, request: pytest.FixtureRequest) -> Store:
    if backend == "sqlite":
        return SqliteStore(directory / "fngate.db")
    return dynamo_store(request.getfixturevalue("fake_aws"))


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    built = make_store(request.param, tmp_path, request)
    yield built
    built.close()
