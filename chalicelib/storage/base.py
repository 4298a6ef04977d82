"""The Store protocol: a small document store with optimistic concurrency that both backends implement.

Records are addressed by (kind, pk, sk): ``kind`` names a collection ("function", "manifest", "user", ...),
``pk`` groups records queried together (usually an account id, or account + function uuid) and ``sk`` orders them
within the group. Every record carries a ``version`` that starts at 1 and grows by one on each put, so callers can
make writes conditional (optimistic concurrency). Typed repositories in services/ build on this; backends know
nothing of functions or users. Backends raise domain errors (VersionConflict), never driver errors.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from chalicelib.domain.errors import VersionConflict

T = TypeVar("T")

ANY_VERSION: int | None = None  # put/delete unconditionally
MUST_NOT_EXIST = 0  # put only if the record does not exist yet
# A record whose data has this top-level number (epoch seconds) expires then: purge_expired() deletes it locally,
# the table's TTL on DynamoDB (within a day or two). Until then it may still be read: callers that need a hard
# cut-off (log retention) bound their own queries by time.
EXPIRES_AT = "expires_at"


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
    # A projection: dotted paths of data fields (object keys, e.g. "manifest.code") left out of the returned
    # records, so large fields are neither read nor decoded when a listing has no use for them. A path that is
    # not there is ignored; filters still see the whole record.
    omit: tuple[str, ...] = ()
    keys_only: bool = False  # records come back with empty data, just sk and version (filters still apply)


def check_omit(omit: tuple[str, ...]) -> dict[str, Any]:
    """``omit`` as a tree of keys (a leaf is None); keys are ones JSON writes unescaped (as filter keys, see
    check_filters). A path below another one in ``omit`` adds nothing."""
    tree: dict[str, Any] = {}
    for path in omit:
        keys = path.split(".")
        if not all(key and key.isascii() and key.isprintable() and '"' not in key and "\\" not in key
                   for key in keys):
            raise ValueError(f"unsupported omit path {path!r}")
        node = tree
        for key in keys[:-1]:
            node = node.setdefault(key, {})
            if node is None:
                break
        else:
            node[keys[-1]] = None
    return tree


def omit_fields(data: dict[str, Any], tree: dict[str, Any]) -> dict[str, Any]:
    """Removes the fields of ``tree`` (check_omit's) from ``data`` in place — a document just decoded, that
    nothing else holds — and returns it."""
    for key, below in tree.items():
        if key in data:
            if below is None:
                del data[key]
            elif isinstance(data[key], dict):
                omit_fields(data[key], below)
    return data


class Store(Protocol):
    """What services need from persistence."""

    def get(self, kind: str, pk: str, sk: str) -> Record | None:
        """The record, or None."""
        ...

    def version(self, kind: str, pk: str, sk: str) -> int | None:
        """The record's version alone (no document read or decoded), or None."""
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

    def purge_expired(self, now: float, limit: int = 100_000) -> int:
        """Delete up to ``limit`` records whose EXPIRES_AT is at or before ``now``; how many went. DynamoDB's own
        TTL does this there (returns 0)."""
        ...

    def close(self) -> None:
        ...


def on_latest(attempt: Callable[[], T], *, tries: int, what: str) -> T:
    """``attempt()`` — read, decide, write conditionally on the version read — again while a concurrent writer
    beats it to the record (VersionConflict), at most ``tries`` times; then VersionConflict about ``what``."""
    for _ in range(tries):
        try:
            return attempt()
        except VersionConflict:
            continue
    raise VersionConflict(what=what)


def expiry_of(data: dict[str, Any]) -> int | None:
    """The record's EXPIRES_AT as whole seconds, or None (absent, or not a number)."""
    value = data.get(EXPIRES_AT)
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return int(value)
    return None


# -- contract rules both backends apply -------------------------------------------------------------------------
MAX_TRANSACTION_OPS = 100  # DynamoDB's TransactWriteItems limit, enforced here too so local code fails the same way


def dump(data: dict[str, Any]) -> str:
    """Compact JSON; NaN/Infinity are refused (they are not JSON, and DynamoDB would reject them too)."""
    return json.dumps(data, separators=(",", ":"), allow_nan=False)


def prefix_end(prefix: str) -> str | None:
    """The smallest string above every string starting with ``prefix`` (None if there is none)."""
    stripped = prefix.rstrip("\U0010ffff")
    if not stripped:
        return None
    nxt = ord(stripped[-1]) + 1
    return stripped[:-1] + chr(0xE000 if 0xD800 <= nxt <= 0xDFFF else nxt)  # skip surrogates: not encodable


def check_ops(ops: Sequence[Put | Delete]) -> None:
    """Limits DynamoDB imposes on a transaction, checked on both backends so they behave alike."""
    if len(ops) > MAX_TRANSACTION_OPS:
        raise ValueError(f"a transaction holds at most {MAX_TRANSACTION_OPS} operations, not {len(ops)}")
    if len({(op.kind, op.pk, op.sk) for op in ops}) != len(ops):
        raise ValueError("a transaction may touch each record only once")


def check_filters(filters: dict[str, Any]) -> None:
    """Filters compare top-level fields with scalars: what both SQL and DynamoDB can match the same way.

    Keys must be ones JSON writes unescaped (printable ASCII, no quote or backslash): SQLite's JSON paths match
    the escaped text, so "ü" (stored as "\\u00fc") would never match.
    """
    for key, value in filters.items():
        if json.dumps(key) != f'"{key}"' or not isinstance(value, str | int | float | type(None)):
            raise ValueError(f"unsupported filter {key!r}={value!r}")
        if (isinstance(value, float) and not math.isfinite(value)) or (isinstance(value, int) and abs(value) >= 2**63):
            raise ValueError(f"unsupported filter {key!r}={value!r}")


def key_range(q: Query) -> tuple[str | None, str | None] | None:
    """``q``'s prefix and [start, end) as one half-open sk range (None for no bound); None if it is empty."""
    low, high = q.start or None, q.end
    if q.prefix:
        low = q.prefix if low is None else max(low, q.prefix)
        end = prefix_end(q.prefix)
        high = end if high is None else high if end is None else min(high, end)
    if high == "" or (low is not None and high is not None and low >= high):
        return None
    return low, high
