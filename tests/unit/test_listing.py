"""FunctionRepository listings: decoded functions are reused per record version, yet every listing is exact."""

from __future__ import annotations

import uuid
from dataclasses import replace
from pathlib import Path

import pytest

from chalicelib.domain.models import Function, Manifest
from chalicelib.domain.states import State
from chalicelib.services.repository import FunctionRepository
from chalicelib.storage.sqlite import SqliteStore


def make(i: int, event_id: str | None = None) -> Function:
    m = Manifest(id=str(uuid.uuid4()), version=1, runtime="nodejs20", code=f"// code {i}\n",
                 environment={"K": str(i)})
    return Function(account_id="acc", uuid=f"u{i:03d}", name=f"fn{i}", description="d", event_id=event_id,
                    state=State.DRAFT, manifest=m, created_at=f"{i:06d}", sample_payload={"i": i})


@pytest.fixture
def store(tmp_path: Path) -> SqliteStore:
    s = SqliteStore(tmp_path / "db")
    yield s
    s.close()


@pytest.mark.parametrize("count", [5, 40], ids=["one-by-one", "one-query"])
def test_listings_see_changes_made_through_another_repository(store, count):
    mine, other = FunctionRepository(store), FunctionRepository(store)  # other: another process, in effect
    for i in range(count):
        mine.create(make(i, event_id="ev" if i % 2 else None))
    assert [f.name for f in mine.list("acc")] == [f"fn{i}" for i in range(count)]
    assert mine.list_meta("acc")[1].manifest.code == "" and mine.list("acc")[1].manifest.code == "// code 1\n"

    changed = [(i, *other.get("acc", f"u{i:03d}")) for i in range(0, count, 2)]
    for i, fn, version in changed:
        other.save(replace(fn, description=f"new {i}", event_id="ev"), version)
    first, version = other.get("acc", "u001")
    other.delete(first, version)

    for listing in (mine.list("acc"), mine.list_meta("acc")):
        assert [f.uuid for f in listing] == [f"u{i:03d}" for i in range(count) if i != 1]
        assert [f.description for f in listing][:3] == ["new 0", "new 2", "d"]
    assert [f.uuid for f in mine.list("acc", event_id="ev")] == [f"u{i:03d}" for i in range(count) if i != 1]
    meta = mine.list_meta("acc", event_id="ev")[0]
    assert (meta.manifest.code, meta.manifest.environment, meta.sample_payload) == ("", {}, None)
    assert meta.manifest.runtime == "nodejs20"


def test_a_fresh_repository_sees_another_process_s_write_on_the_next_lookup(store):
    # GIVEN two gateway processes on one store, the first with the function cached
    mine, other = FunctionRepository(store, fresh=True), FunctionRepository(store, fresh=True)
    mine.create(make(1))
    assert mine.get_cached("acc", "u001").description == "d"
    # WHEN the other process changes it
    fn, version = other.get("acc", "u001")
    other.save(replace(fn, description="deployed elsewhere"), version)
    # THEN the first sees it at once, and an unchanged function is not decoded again
    assert mine.get_cached("acc", "u001").description == "deployed elsewhere"
    assert mine.get_cached("acc", "u001") is mine.get_cached("acc", "u001")


def test_a_ttl_repository_sees_another_process_s_write_after_its_ttl(store):
    now = [0.0]
    mine = FunctionRepository(store, clock=lambda: now[0])
    other = FunctionRepository(store)
    mine.create(make(2))
    mine.get_cached("acc", "u002")
    fn, version = other.get("acc", "u002")
    other.save(replace(fn, description="changed"), version)
    assert mine.get_cached("acc", "u002").description == "d"  # within the TTL: the documented bound
    now[0] += FunctionRepository.CACHE_TTL_S + 0.01
    assert mine.get_cached("acc", "u002").description == "changed"
