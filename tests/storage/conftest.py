"""`store`: the same contract suite runs on SQLite and on DynamoDB (moto)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from uuid import uuid4

import pytest

from chalicelib.storage.base import Store


@pytest.fixture(params=["sqlite", "dynamodb"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        from chalicelib.storage.sqlite import SqliteStore

        s = SqliteStore(tmp_path / "fngate.db")
        yield s
        s.close()
        return
    import boto3
    from moto import mock_aws

    from chalicelib.storage.dynamodb import DynamoStore, create_table

    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        table = f"t{uuid4().hex[:8]}"
        create_table(client, table)
        yield DynamoStore(client=client, table_name=table)
