"""The Store protocol: a small document store with optimistic concurrency that both backends implement.

Records are addressed by (kind, pk, sk): ``kind`` names a collection ("function", "manifest", "user", ...),
``pk`` groups records queried together (usually an account id, or account + function uuid) and ``sk`` orders them
within the group. Every record carries a ``version`` that starts at 1 and grows by one on each put, so callers can
make writes conditional (optimistic concurrency). Typed repositories in services/ build on this; backends know
nothing of functions or users. Backends raise domain errors (VersionConflict), never driver errors.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

ANY_VERSION: int | None = None  # put/delete unconditionally
MUST_NOT_EXIST = 0  # put only if the record does not exist yet


@dataclass(frozen=True)
class Record:
    kind: str
    pk: str
    sk: str
    version: int
    data: dict[str, Any]


@dataclass(frozen=True)
class Put:
    """A write inside a transaction; ``expected_version`` as for Store.put."""

    kind: str
    pk: str
    sk: str
    data: dict[str, Any]
    expected_version: int | None = ANY_VERSION


@dataclass(frozen=True)
class Delete:
    kind: str
    pk: str
    sk: str
    expected_version: int | None = ANY_VERSION


@dataclass(frozen=True)
class Query:
    """Records of one (kind, pk), ordered by sk; ``prefix`` and the half-open range [start, end) narrow it."""

    kind: str
    pk: str
    prefix: str = ""
    start: str | None = None
    end: str | None = None
    limit: int | None = None
    reverse: bool = False
    filters: dict[str, Any] = field(default_factory=dict)  # top-level data fields that must equal these values


class Store(Protocol):
    """What services need from persistence."""

    def get(self, kind: str, pk: str, sk: str) -> Record | None:
        """The record, or None."""
        ...

    def put(self, kind: str, pk: str, sk: str, data: dict[str, Any], *,
            expected_version: int | None = ANY_VERSION) -> Record:
        """Create or replace; with ``expected_version`` (0 = must not exist) raise VersionConflict on mismatch."""
        ...

    def delete(self, kind: str, pk: str, sk: str, *, expected_version: int | None = ANY_VERSION) -> bool:
        """True if a record was deleted; VersionConflict if ``expected_version`` does not match."""
        ...

    def query(self, query: Query) -> list[Record]:
        ...

    def count(self, query: Query) -> int:
        ...

    def transact(self, ops: Sequence[Put | Delete]) -> None:
        """All or nothing; VersionConflict if any condition fails (then nothing is written)."""
        ...

    def close(self) -> None:
        ...
