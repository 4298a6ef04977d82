"""The Store contract: every backend passes the same tests."""

from __future__ import annotations

import os
import threading

import pytest

from chalicelib.domain.errors import VersionConflict
from chalicelib.storage.base import MUST_NOT_EXIST, Delete, Put, Query

DOC = {"name": "ünïcode ✓", "n": 1.5, "nested": {"list": [1, "a", None, True], "empty": {}}, "none": None}


def test_get_missing_returns_none(store):
    assert store.get("function", "acc", "nope") is None


def test_put_then_get_round_trips_json(store):
    record = store.put("function", "acc", "a", DOC)
    assert record.version == 1
    got = store.get("function", "acc", "a")
    assert got.data == DOC and got.version == 1 and got.sk == "a"


def test_version_grows_by_one_on_each_put(store):
    for expected in (1, 2, 3):
        assert store.put("k", "p", "s", {"i": expected}).version == expected
    assert store.get("k", "p", "s").data == {"i": 3}


def test_create_only_put_conflicts_when_the_record_exists(store):
    store.put("k", "p", "s", {}, expected_version=MUST_NOT_EXIST)
    with pytest.raises(VersionConflict):
        store.put("k", "p", "s", {"x": 1}, expected_version=MUST_NOT_EXIST)
    assert store.get("k", "p", "s").data == {}


def test_put_with_stale_version_raises_conflict(store):
    store.put("k", "p", "s", {"v": 1})
    store.put("k", "p", "s", {"v": 2}, expected_version=1)
    with pytest.raises(VersionConflict):
        store.put("k", "p", "s", {"v": 3}, expected_version=1)
    assert store.get("k", "p", "s").data == {"v": 2}


def test_delete_with_and_without_condition(store):
    store.put("k", "p", "s", {})
    with pytest.raises(VersionConflict):
        store.delete("k", "p", "s", expected_version=5)
    assert store.delete("k", "p", "s", expected_version=1) is True
    assert store.get("k", "p", "s") is None
    assert store.delete("k", "p", "s") is False


def test_query_orders_filters_and_limits(store):
    for sk in ("b", "a", "c1", "c2", "d"):
        store.put("item", "p", sk, {"sk": sk, "even": sk in ("b", "c2")})
    store.put("item", "other", "a", {})
    store.put("other", "p", "a", {})
    sks = lambda **kw: [r.sk for r in store.query(Query("item", "p", **kw))]
    assert sks() == ["a", "b", "c1", "c2", "d"]
    assert sks(reverse=True, limit=2) == ["d", "c2"]
    assert sks(prefix="c") == ["c1", "c2"]
    assert sks(start="b", end="c2") == ["b", "c1"]
    assert sks(filters={"even": True}) == ["b", "c2"]
    assert sks(filters={"even": False}, limit=2) == ["a", "c1"]
    assert store.count(Query("item", "p")) == 5
    assert store.count(Query("item", "p", prefix="c")) == 2
    assert store.count(Query("item", "p", filters={"even": True})) == 2


def test_transaction_is_all_or_nothing(store):
    store.put("k", "p", "taken", {})
    with pytest.raises(VersionConflict):
        store.transact([Put("k", "p", "new", {"x": 1}, MUST_NOT_EXIST),
                        Put("k", "p", "taken", {"x": 2}, MUST_NOT_EXIST)])
    assert store.get("k", "p", "new") is None
    store.transact([Put("k", "p", "new", {"x": 1}, MUST_NOT_EXIST), Delete("k", "p", "taken", 1)])
    assert store.get("k", "p", "new").data == {"x": 1} and store.get("k", "p", "taken") is None


def test_concurrent_optimistic_increments_lose_no_update(store):
    if type(store).__name__ == "DynamoStore":
        pytest.skip("moto serialises nothing across threads; real DynamoDB conditions are atomic (covered above)")
    store.put("counter", "p", "c", {"n": 0})

    def bump(times: int) -> None:
        for _ in range(times):
            while True:
                record = store.get("counter", "p", "c")
                try:
                    store.put("counter", "p", "c", {"n": record.data["n"] + 1}, expected_version=record.version)
                    break
                except VersionConflict:
                    continue

    threads = [threading.Thread(target=bump, args=(15,)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.get("counter", "p", "c").data["n"] == 60


def test_sqlite_is_shared_between_instances_and_private_on_disk(tmp_path):
    from chalicelib.storage.sqlite import SqliteStore

    first, second = SqliteStore(tmp_path / "db.sqlite"), SqliteStore(tmp_path / "db.sqlite")
    first.put("k", "p", "s", {"a": 1})
    assert second.get("k", "p", "s").data == {"a": 1}
    assert os.stat(tmp_path / "db.sqlite").st_mode & 0o777 == 0o600
