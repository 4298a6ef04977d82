"""Record expiry (EXPIRES_AT): deleted by purge_expired() on SQLite, by the table's TTL on DynamoDB."""

from __future__ import annotations

import sqlite3

import pytest

from chalicelib.storage.base import EXPIRES_AT, Put, Query
from chalicelib.storage.dynamodb import TTL_ATTRIBUTE, DynamoStore
from chalicelib.storage.sqlite import SqliteStore


def _raw_expiry(store, kind: str, pk: str, sk: str) -> int | None:
    """The expiry the backend itself keeps beside the document (a column, or the TTL attribute)."""
    if isinstance(store, DynamoStore):
        item = store._db.get_item(TableName=store._table, Key={"pk": {"S": f"{kind}#{pk}"}, "sk": {"S": sk}})["Item"]
        return int(item[TTL_ATTRIBUTE]["N"]) if TTL_ATTRIBUTE in item else None
    with store._pool.connection() as conn:
        row = conn.execute("SELECT expires FROM records WHERE kind=? AND pk=? AND sk=?", (kind, pk, sk)).fetchone()
    return row[0]


def test_a_record_with_expires_at_carries_it_beside_its_document_on_every_write_path(store):
    # GIVEN records written by put, by a conditional put and by a transaction, each with an expiry
    store.put("log", "p", "a", {EXPIRES_AT: 1000, "x": 1})
    created = store.put("log", "p", "b", {EXPIRES_AT: 2000.7}, expected_version=0)
    store.put("log", "p", "b", {EXPIRES_AT: 2500}, expected_version=created.version)
    store.transact([Put("log", "p", "c", {EXPIRES_AT: 3000}), Put("log", "p", "d", {"x": 2}, expected_version=0)])
    # THEN the backend keeps each expiry (whole seconds), and none for a record without one
    assert [_raw_expiry(store, "log", "p", sk) for sk in "abcd"] == [1000, 2500, 3000, None]
    # AND the document itself is unchanged
    assert store.get("log", "p", "a").data == {EXPIRES_AT: 1000, "x": 1}


def test_writing_a_record_again_without_expiry_clears_it(store):
    store.put("log", "p", "a", {EXPIRES_AT: 1000})
    store.put("log", "p", "a", {"kept": True})
    assert _raw_expiry(store, "log", "p", "a") is None


@pytest.mark.parametrize("value", ["1000", True, None, [1]])
def test_an_expiry_that_is_not_a_number_is_ignored(store, value):
    store.put("log", "p", "a", {EXPIRES_AT: value})
    assert _raw_expiry(store, "log", "p", "a") is None


def test_sqlite_purge_deletes_exactly_the_records_expired_by_now(tmp_path):
    # GIVEN 12,000 expired records (more than one purge batch), one expiring later and one that never expires
    store = SqliteStore(tmp_path / "db.sqlite")
    for start in range(0, 12_000, 100):
        store.transact([Put("log", "p", f"{i:05d}", {EXPIRES_AT: 500 + i % 7}) for i in range(start, start + 100)])
    store.put("log", "p", "later", {EXPIRES_AT: 2000})
    store.put("log", "p", "forever", {"x": 1})
    # WHEN purging at t=1000
    purged = store.purge_expired(1000)
    # THEN the expired ones are gone, the others stay
    assert purged == 12_000
    assert [r.sk for r in store.query(Query("log", "p"))] \
        == ["forever", "later"]
    assert store.purge_expired(1999) == 0 and store.purge_expired(2000) == 1


def test_sqlite_purge_respects_its_limit(tmp_path):
    store = SqliteStore(tmp_path / "db.sqlite")
    store.transact([Put("log", "p", f"{i}", {EXPIRES_AT: 1}) for i in range(30)])
    assert store.purge_expired(10, limit=20) == 20
    assert store.purge_expired(10) == 10


def test_sqlite_file_from_before_expiry_gains_the_column_and_keeps_its_records(tmp_path):
    # GIVEN a store file with the older schema (no expires column) holding a record
    path = tmp_path / "old.sqlite"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE records (kind TEXT NOT NULL, pk TEXT NOT NULL, sk TEXT NOT NULL, version INTEGER "
                 "NOT NULL, data TEXT NOT NULL, PRIMARY KEY (kind, pk, sk)) WITHOUT ROWID")
    conn.execute("INSERT INTO records VALUES ('f', 'p', 's', 3, '{\"a\": 1}')")
    conn.commit()
    conn.close()
    # WHEN it is opened
    store = SqliteStore(path)
    # THEN the record is there and expiry works
    assert store.get("f", "p", "s").version == 3
    store.put("log", "p", "x", {EXPIRES_AT: 5})
    assert store.purge_expired(10) == 1


def test_dynamodb_purge_leaves_it_to_the_table_ttl(fake_aws):
    from tests.storage.conftest import dynamo_store

    store = dynamo_store(fake_aws)
    store.put("log", "p", "a", {EXPIRES_AT: 1})
    ttl = fake_aws.describe_time_to_live(TableName=store._table)["TimeToLiveDescription"]
    assert ttl["AttributeName"] == TTL_ATTRIBUTE and ttl["TimeToLiveStatus"] in ("ENABLED", "ENABLING")
    assert store.purge_expired(10) == 0
