"""The Store contract: every backend passes the same tests; a few at the end cover what only one backend has."""

from __future__ import annotations

import inspect
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest

from chalicelib.domain.errors import Unavailable, VersionConflict
from chalicelib.storage.base import MUST_NOT_EXIST, Delete, Put, Query, Store
from chalicelib.storage.dynamodb import DynamoStore, create_table
from chalicelib.storage.sqlite import SqliteStore
from tests.storage.conftest import BACKENDS, make_store

DOC = {"name": "ünïcode ✓ 🚀", "quote": 'a "b"\n\\', "lone": "\ud800", "float": 0.1, "tiny": 1e-300, "big": 2**62,
       "neg": -7, "yes": True, "none": None, "empty_list": [], "empty_dict": {}, "a.b": 1,
       "nested": {"list": [1, "a", None, False, {"deep": [1.5, []]}], "dict": {"k": {}}}}
SKS = ["d", "c1", "a", "é", "ca", "c", "b", "c2"]  # written in this order; sorted: a b c c1 c2 ca d é
QUERIES = [  # (Query arguments, expected sks): prefix, then [start, end), reverse and limit
    ({}, "a b c c1 c2 ca d é"),
    ({"prefix": "c"}, "c c1 c2 ca"),
    ({"prefix": "é"}, "é"),
    ({"prefix": "x"}, ""),
    ({"start": "b", "end": "c2"}, "b c c1"),
    ({"start": "c1"}, "c1 c2 ca d é"),
    ({"start": ""}, "a b c c1 c2 ca d é"),
    ({"end": "c"}, "a b"),
    ({"end": ""}, ""),
    ({"start": "d", "end": "b"}, ""),
    ({"prefix": "c", "start": "c1"}, "c1 c2 ca"),
    ({"prefix": "c", "end": "c2"}, "c c1"),
    ({"prefix": "c", "start": "c1", "end": "ca"}, "c1 c2"),
    ({"reverse": True}, "é d ca c2 c1 c b a"),
    ({"reverse": True, "limit": 2}, "é d"),
    ({"limit": 3}, "a b c"),
    ({"limit": 0}, ""),
    ({"start": "b", "end": "c2", "reverse": True}, "c1 c b"),
    ({"start": "b", "end": "c2", "reverse": True, "limit": 1}, "c1"),
    ({"prefix": "c", "reverse": True, "limit": 3}, "ca c2 c1"),
]


def sks(records: list[Any]) -> str:
    return " ".join(r.sk for r in records)


@pytest.fixture(scope="module", params=BACKENDS)
def seeded(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """One store per backend for the read-only query tests (seeding each test would be slow on moto)."""
    store = make_store(request.param, tmp_path_factory.mktemp("seeded"), request)
    for sk in SKS:
        store.put("item", "p", sk, {"sk": sk, "color": "red" if sk in ("b", "c2", "é") else "blue"})
    store.put("item", "p2", "a", {"color": "red"})  # another pk
    store.put("item", "p#x", "a", {"color": "red"})  # a pk that starts like "p"
    store.put("other", "p", "a", {"color": "red"})  # another kind
    yield store
    store.close()


# -- get / put ------------------------------------------------------------------------------------------------------
def test_get_of_a_missing_record_returns_none(store):
    assert store.get("function", "acc", "nope") is None


def test_put_then_get_round_trips_any_json_document(store):
    assert store.put("function", "acc", "a", DOC).data == DOC
    got = store.get("function", "acc", "a")
    assert (got.kind, got.pk, got.sk, got.version, got.data) == ("function", "acc", "a", 1, DOC)


def test_a_new_record_starts_at_version_one_and_each_put_adds_one(store):
    assert [store.put("k", "p", "s", {"i": i}).version for i in range(3)] == [1, 2, 3]
    assert store.put("k", "p", "s", {"i": 3}, expected_version=3).version == 4
    assert store.get("k", "p", "s").version == 4


def test_version_alone_follows_every_write_and_is_none_when_absent(store):
    assert store.version("item", "p", "v") is None
    store.put("item", "p", "v", {"n": 1})
    store.put("item", "p", "v", {"n": 2})
    assert store.version("item", "p", "v") == 2
    store.delete("item", "p", "v")
    assert store.version("item", "p", "v") is None


def test_create_only_put_of_an_existing_record_raises_conflict(store):
    store.put("k", "p", "s", {"v": 1}, expected_version=MUST_NOT_EXIST)
    with pytest.raises(VersionConflict) as exc:
        store.put("k", "p", "s", {"v": 2}, expected_version=MUST_NOT_EXIST)
    assert exc.value.v2_code == "com.liveperson.faas.fm.version-conflict"
    assert store.get("k", "p", "s").data == {"v": 1}


def test_put_with_stale_version_raises_conflict(store):
    store.put("k", "p", "s", {"v": 1})
    assert store.put("k", "p", "s", {"v": 2}, expected_version=1).version == 2
    with pytest.raises(VersionConflict):
        store.put("k", "p", "s", {"v": 3}, expected_version=1)
    assert (store.get("k", "p", "s").version, store.get("k", "p", "s").data) == (2, {"v": 2})


def test_put_with_a_version_on_a_missing_record_raises_conflict(store):
    with pytest.raises(VersionConflict):
        store.put("k", "p", "s", {}, expected_version=1)
    assert store.get("k", "p", "s") is None


def test_put_refuses_a_document_that_is_not_json(store):
    with pytest.raises(ValueError):
        store.put("k", "p", "s", {"n": float("nan")})
    assert store.get("k", "p", "s") is None


# -- delete ---------------------------------------------------------------------------------------------------------
def test_delete_without_condition_removes_the_record(store):
    store.put("k", "p", "s", {})
    assert store.delete("k", "p", "s") is True
    assert store.get("k", "p", "s") is None


def test_delete_of_a_missing_record_returns_false(store):
    assert store.delete("k", "p", "nope") is False


def test_delete_with_stale_version_raises_conflict_and_keeps_the_record(store):
    store.put("k", "p", "s", {})
    store.put("k", "p", "s", {})
    with pytest.raises(VersionConflict):
        store.delete("k", "p", "s", expected_version=1)
    assert store.delete("k", "p", "s", expected_version=2) is True
    assert store.get("k", "p", "s") is None


def test_delete_with_a_version_of_a_missing_record_raises_conflict(store):
    with pytest.raises(VersionConflict):
        store.delete("k", "p", "nope", expected_version=1)


def test_delete_with_must_not_exist_conflicts_only_when_the_record_exists(store):
    assert store.delete("k", "p", "s", expected_version=MUST_NOT_EXIST) is False
    store.put("k", "p", "s", {})
    with pytest.raises(VersionConflict):
        store.delete("k", "p", "s", expected_version=MUST_NOT_EXIST)
    assert store.get("k", "p", "s") is not None


def test_a_record_written_again_after_delete_starts_over_at_version_one(store):
    store.put("k", "p", "s", {})
    store.put("k", "p", "s", {})
    store.delete("k", "p", "s")
    assert store.put("k", "p", "s", {}, expected_version=MUST_NOT_EXIST).version == 1


# -- query / count --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("args", "expected"), QUERIES, ids=[str(q[0]) for q in QUERIES])
def test_query_orders_by_sort_key_within_prefix_range_and_limit(seeded, args, expected):
    assert sks(seeded.query(Query("item", "p", **args))) == expected
    unlimited = {k: v for k, v in args.items() if k != "limit"}
    assert seeded.count(Query("item", "p", **args)) == len(seeded.query(Query("item", "p", **unlimited)))


def test_query_returns_whole_records(seeded):
    first = seeded.query(Query("item", "p", limit=1))[0]
    assert (first.kind, first.pk, first.sk, first.version, first.data) == ("item", "p", "a", 1,
                                                                           {"sk": "a", "color": "blue"})


def test_query_is_isolated_between_kinds_and_pks(seeded):
    assert sks(seeded.query(Query("item", "p2"))) == "a"
    assert sks(seeded.query(Query("other", "p"))) == "a"
    assert seeded.count(Query("item", "p#x")) == 1
    assert seeded.query(Query("nothing", "p")) == [] and seeded.count(Query("item", "nobody")) == 0


def test_query_filters_on_top_level_fields_before_the_limit(seeded):
    red = Query("item", "p", filters={"color": "red"})
    assert sks(seeded.query(red)) == "b c2 é"
    assert sks(seeded.query(Query("item", "p", filters={"color": "red"}, limit=2))) == "b c2"
    assert sks(seeded.query(Query("item", "p", prefix="c", reverse=True, filters={"color": "blue"}))) == "ca c1 c"
    assert seeded.count(red) == 3
    assert seeded.count(Query("item", "p", start="c", filters={"color": "red", "sk": "c2"})) == 1


def test_query_omit_leaves_out_nested_fields_and_ignores_missing_paths(store):
    doc = {"name": "f", "manifest": {"code": "x" * 1000, "id": "m1"}, "last": {"manifest": {"code": "y", "id": "m0"}},
           "plain": "code"}
    store.put("k", "p", "a", doc)
    store.put("k", "p", "b", {"name": "g", "manifest": "not an object", "last": None})
    found = store.query(Query("k", "p", omit=("manifest.code", "last.manifest.code", "absent", "plain.x")))
    assert [r.data for r in found] == [
        {"name": "f", "manifest": {"id": "m1"}, "last": {"manifest": {"id": "m0"}}, "plain": "code"},
        {"name": "g", "manifest": "not an object", "last": None}]
    assert store.get("k", "p", "a").data == doc  # a projection of the answer only
    assert [r.sk for r in store.query(Query("k", "p", filters={"name": "g"}, omit=("name",)))] == ["b"]


def test_query_keys_only_gives_sort_keys_and_versions_after_filters(store):
    store.put("k", "p", "a", {"color": "red", "n": 1})
    store.put("k", "p", "a", {"color": "red", "n": 2})
    store.put("k", "p", "b", {"color": "blue"})
    found = store.query(Query("k", "p", keys_only=True))
    assert [(r.sk, r.version, r.data) for r in found] == [("a", 2, {}), ("b", 1, {})]
    red = store.query(Query("k", "p", filters={"color": "red"}, keys_only=True, limit=5))
    assert [(r.sk, r.version) for r in red] == [("a", 2)]


@pytest.mark.parametrize("path", ["", "a..b", 'a."b', "ü", "a\\b"])
def test_query_omit_paths_of_plain_keys_only(store, path):
    with pytest.raises(ValueError):
        store.query(Query("k", "p", omit=(path,)))


def test_filters_match_like_python_equality_with_missing_as_null(store):
    docs = {"s": {"v": "1"}, "i": {"v": 1}, "f": {"v": 1.0}, "t": {"v": True}, "n": {"v": None}, "m": {},
            "l": {"v": ["1"]}, "o": {"v": {"1": 1}}, "z": {"v": 0}}
    for sk, doc in docs.items():
        store.put("k", "p", sk, doc)
    match = lambda value: sorted(r.sk for r in store.query(Query("k", "p", filters={"v": value})))
    assert match("1") == ["s"]
    assert match(1) == match(1.0) == match(True) == ["f", "i", "t"]
    assert match(None) == ["m", "n"]
    assert match('["1"]') == [] and match(2) == []


@pytest.mark.parametrize("filters", [{"v": [1]}, {"v": {}}, {"v": float("nan")}, {"ü": "x"}, {'"': 1}],
                         ids=["list", "dict", "nan", "non-ascii-key", "quote-key"])
def test_filters_other_than_scalars_on_plain_keys_are_refused(store, filters):
    with pytest.raises(ValueError):
        store.query(Query("k", "p", filters=filters))
    with pytest.raises(ValueError):
        store.count(Query("k", "p", filters=filters))


# -- transactions ---------------------------------------------------------------------------------------------------
def test_transaction_writes_all_its_operations(store):
    store.put("k", "p", "old", {})
    store.put("k", "p", "kept", {"v": 1})
    store.transact([Put("k", "p", "new", {"x": 1}, MUST_NOT_EXIST), Delete("k", "p", "old", 1),
                    Put("k", "p", "kept", {"v": 2}, 1), Put("k", "p", "any", {})])
    assert store.get("k", "p", "new").data == {"x": 1} and store.get("k", "p", "old") is None
    assert (store.get("k", "p", "kept").version, store.get("k", "p", "any").version) == (2, 1)


@pytest.mark.parametrize("failing", [Put("k", "p", "taken", {}, MUST_NOT_EXIST), Put("k", "p", "taken", {}, 7),
                                     Delete("k", "p", "taken", 7), Delete("k", "p", "missing", 1)],
                         ids=["create-only", "stale-put", "stale-delete", "delete-missing"])
def test_transaction_with_a_failing_condition_writes_nothing(store, failing):
    # GIVEN a record the failing operation's condition does not hold for
    store.put("k", "p", "taken", {"v": 1})
    # WHEN a transaction writes one record, then fails on the second operation
    with pytest.raises(VersionConflict) as exc:
        store.transact([Put("k", "p", "new", {"x": 1}, MUST_NOT_EXIST), failing, Put("k", "p", "last", {})])
    # THEN nothing was written, and the error names the failing record
    assert store.get("k", "p", "new") is None and store.get("k", "p", "last") is None
    assert store.get("k", "p", "taken").data == {"v": 1}
    assert failing.sk in str(exc.value)


def test_empty_transaction_does_nothing(store):
    store.transact([])


def test_transaction_of_more_than_100_operations_is_refused(store):
    with pytest.raises(ValueError):
        store.transact([Put("k", "p", f"s{i}", {}) for i in range(101)])
    assert store.count(Query("k", "p")) == 0


def test_transaction_touching_a_record_twice_is_refused(store):
    with pytest.raises(ValueError):
        store.transact([Put("k", "p", "s", {}), Delete("k", "p", "s")])


# -- SQLite only ----------------------------------------------------------------------------------------------------
def _bump(store: Store, times: int) -> None:
    """Optimistic read-increment-write, retried on conflict; also run in a child process (see below)."""
    for _ in range(times):
        while True:
            record = store.get("counter", "p", "c")
            try:
                store.put("counter", "p", "c", {"n": record.data["n"] + 1}, expected_version=record.version)
                break
            except VersionConflict:
                continue


_CHILD = f"""from __future__ import annotations
import sys
from chalicelib.domain.errors import VersionConflict
from chalicelib.storage.sqlite import SqliteStore
{inspect.getsource(_bump)}
store = SqliteStore(sys.argv[1])
print("ready", flush=True)
sys.stdin.readline()  # "go": start together with the test's threads
_bump(store, int(sys.argv[2]))
"""


def test_sqlite_concurrent_increments_from_threads_and_a_process_lose_no_update(tmp_path):
    # GIVEN a counter, 4 threads and another process, all ready to increment it
    store = SqliteStore(tmp_path / "db.sqlite")
    store.put("counter", "p", "c", {"n": 0})
    root = Path(__file__).resolve().parents[2]
    other = subprocess.Popen([sys.executable, "-c", _CHILD, str(tmp_path / "db.sqlite"), "200"], text=True,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(root)})
    assert other.stdout.readline().strip() == "ready"
    threads = [threading.Thread(target=_bump, args=(store, 100)) for _ in range(4)]
    # WHEN they all run at once
    other.stdin.write("go\n")
    other.stdin.flush()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert other.wait(timeout=30) == 0
    # THEN every increment counted
    assert store.get("counter", "p", "c").data == {"n": 600}
    assert store.get("counter", "p", "c").version == 601


def test_sqlite_second_store_on_the_same_file_sees_writes(tmp_path):
    first, second = SqliteStore(tmp_path / "db.sqlite"), SqliteStore(tmp_path / "db.sqlite")
    first.put("k", "p", "s", {"a": 1})
    assert second.get("k", "p", "s").data == {"a": 1}
    second.delete("k", "p", "s")
    assert first.get("k", "p", "s") is None


def test_sqlite_creates_missing_directories_and_a_private_file(tmp_path):
    old = os.umask(0)  # the mode must not depend on the caller's umask
    try:
        store = SqliteStore(tmp_path / "a" / "b" / "db.sqlite")
        store.put("k", "p", "s", {})
    finally:
        os.umask(old)
    for name in ("db.sqlite", "db.sqlite-wal"):
        assert os.stat(tmp_path / "a" / "b" / name).st_mode & 0o777 == 0o600


def test_sqlite_short_lived_threads_do_not_leak_connections(tmp_path):
    store = SqliteStore(tmp_path / "db.sqlite")
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(40):  # the local server runs one thread per connection
        t = threading.Thread(target=store.get, args=("k", "p", "s"))
        t.start()
        t.join()
    assert len(os.listdir("/proc/self/fd")) - before < 10


def test_sqlite_driver_failures_surface_as_domain_errors(tmp_path):
    (tmp_path / "junk.db").write_bytes(b"this is not a database" * 100)
    with pytest.raises(Unavailable):
        SqliteStore(tmp_path / "junk.db")
    store = SqliteStore(tmp_path / "db.sqlite")
    store.close()
    with pytest.raises(Unavailable):
        store.get("k", "p", "s")


# -- DynamoDB only --------------------------------------------------------------------------------------------------
class _ShortPages:
    """A DynamoDB client whose queries return at most two items a page, so every pagination path runs."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def query(self, **params: Any) -> Any:
        return self._client.query(**{**params, "Limit": min(params.get("Limit", 2), 2)})


@pytest.mark.parametrize("seeded", ["dynamodb"], indirect=True)
@pytest.mark.parametrize(("args", "expected"), QUERIES, ids=[str(q[0]) for q in QUERIES])
def test_dynamodb_query_and_count_follow_pagination(seeded, fake_aws, args, expected):
    paged = DynamoStore(client=_ShortPages(fake_aws), table_name=seeded._table)
    assert sks(paged.query(Query("item", "p", **args))) == expected
    assert paged.count(Query("item", "p", **args)) == seeded.count(Query("item", "p", **args))
    blue = Query("item", "p", filters={"color": "blue"}, **args)
    assert sks(paged.query(blue)) == sks(seeded.query(blue)) and paged.count(blue) == seeded.count(blue)


def test_dynamodb_service_errors_surface_as_domain_errors(fake_aws):
    store = DynamoStore(client=fake_aws, table_name=f"missing{uuid4().hex[:8]}")
    with pytest.raises(Unavailable):
        store.get("k", "p", "s")
    with pytest.raises(Unavailable):
        store.transact([Put("k", "p", "s", {})])


def test_dynamodb_create_table_tolerates_an_existing_table(fake_aws):
    table = f"t{uuid4().hex[:8]}"
    create_table(fake_aws, table)
    create_table(fake_aws, table)
    assert DynamoStore(client=fake_aws, table_name=table).put("k", "p", "s", {}).version == 1
