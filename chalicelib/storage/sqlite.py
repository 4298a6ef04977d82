"""SQLite backend of the Store protocol, for the local gateway: one WAL file shared by threads and processes.

Every put or delete is a single statement (upsert / conditional UPDATE / DELETE with RETURNING), so it is atomic on
its own and holds the write lock for one step; transactions take the lock up front (BEGIN IMMEDIATE) so a writer
never fails half way on a stale snapshot. Connections come from a small pool rather than one per thread, because
the local server runs a thread per TCP connection and per-thread connections would leak with them.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from chalicelib.domain.errors import BadInput, Unavailable, VersionConflict
from chalicelib.storage.base import (
    ANY_VERSION,
    MUST_NOT_EXIST,
    Delete,
    Put,
    Query,
    Record,
    check_filters,
    check_omit,
    check_ops,
    dump,
    expiry_of,
    key_range,
    omit_fields,
)

_MAX_IDLE = 8
_PROJECT_OVER = 4096  # bytes: documents above this lose Query.omit's fields inside SQLite
_MIN_SQLITE = (3, 35, 0)  # RETURNING

_SCHEMA = """CREATE TABLE IF NOT EXISTS records (
    kind TEXT NOT NULL, pk TEXT NOT NULL, sk TEXT NOT NULL, version INTEGER NOT NULL, data TEXT NOT NULL,
    expires INTEGER, PRIMARY KEY (kind, pk, sk)) WITHOUT ROWID"""
_EXPIRES_INDEX = "CREATE INDEX IF NOT EXISTS records_expires ON records (expires) WHERE expires IS NOT NULL"
_KEY = "kind = ? AND pk = ? AND sk = ?"
_GET = f"SELECT version, data FROM records WHERE {_KEY}"
_EXISTS = f"SELECT 1 FROM records WHERE {_KEY}"
_VERSION = f"SELECT version FROM records WHERE {_KEY}"
_UPSERT = """INSERT INTO records (kind, pk, sk, version, data, expires) VALUES (?, ?, ?, 1, ?, ?)
    ON CONFLICT (kind, pk, sk) DO UPDATE SET version = version + 1, data = excluded.data, expires = excluded.expires
    RETURNING version"""
_UPSERT_MANY = """INSERT INTO records (kind, pk, sk, version, data, expires) VALUES (?, ?, ?, 1, ?, ?)
    ON CONFLICT (kind, pk, sk) DO UPDATE SET version = version + 1, data = excluded.data, expires = excluded.expires"""
_CREATE = """INSERT INTO records (kind, pk, sk, version, data, expires) VALUES (?, ?, ?, 1, ?, ?)
    ON CONFLICT DO NOTHING RETURNING 1"""
_REPLACE = f"""UPDATE records SET version = version + 1, data = ?, expires = ? WHERE {_KEY} AND version = ?
    RETURNING version"""
_EXPIRED = "SELECT kind, pk, sk, expires FROM records WHERE expires IS NOT NULL AND expires <= ? LIMIT ?"
_DELETE_EXPIRED = f"DELETE FROM records WHERE {_KEY} AND expires <= ?"  # unless written again meanwhile
_DELETE = f"DELETE FROM records WHERE {_KEY}"
_DELETE_IF = f"DELETE FROM records WHERE {_KEY} AND version = ?"


def _conflict(kind: str, pk: str, sk: str) -> VersionConflict:
    return VersionConflict(what=f"{kind} {pk}/{sk}")


class _Pool:
    """Connections handed out one caller at a time; a few idle ones are kept, the rest closed."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._idle: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._closed = False

    def _open(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self._path, timeout=5.0, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA synchronous=NORMAL")  # per connection; safe with WAL (only the last commits may go)
        return conn

    @contextmanager
    def connection(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            if self._closed:
                raise Unavailable(detail="The store is closed")
            conn = self._idle.pop() if self._idle else None
        conn = conn or self._open()
        try:
            yield conn
        finally:
            with self._lock:
                keep = not self._closed and not conn.in_transaction and len(self._idle) < _MAX_IDLE
                if keep:
                    self._idle.append(conn)
            if not keep:
                conn.close()

    def close(self) -> None:
        with self._lock:
            self._closed, idle, self._idle = True, self._idle, []
        for conn in idle:
            conn.close()


class SqliteStore:
    """The Store on one SQLite file (created 0600, with its directory, if missing)."""

    def __init__(self, path: str | Path) -> None:
        if str(path) == ":memory:" or sqlite3.sqlite_version_info < _MIN_SQLITE:
            raise ValueError(f"SqliteStore needs a file path and SQLite >= 3.35 (have {sqlite3.sqlite_version})")
        self._path = Path(path)
        self._path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.close(os.open(self._path, os.O_CREAT | os.O_RDWR, 0o600))  # before SQLite creates it 0644
        self._pool = _Pool(self._path)
        with self._edge() as conn:
            conn.execute("PRAGMA journal_mode=WAL")  # persistent in the file: once is enough
            conn.execute(_SCHEMA)
            if "expires" not in {row[1] for row in conn.execute("PRAGMA table_info(records)")}:
                conn.execute("ALTER TABLE records ADD COLUMN expires INTEGER")  # a file from before expiry
            conn.execute(_EXPIRES_INDEX)

    @contextmanager
    def _edge(self) -> Iterator[sqlite3.Connection]:
        """A pooled connection; driver failures leave as domain errors."""
        try:
            with self._pool.connection() as conn:
                yield conn
        except sqlite3.Error as exc:
            raise Unavailable(detail="The local store is unavailable") from exc
        except UnicodeEncodeError as exc:
            raise BadInput(detail="Keys must be valid Unicode text") from exc

    def get(self, kind: str, pk: str, sk: str) -> Record | None:
        with self._edge() as conn:
            row = conn.execute(_GET, (kind, pk, sk)).fetchone()
        return Record(kind, pk, sk, row[0], json.loads(row[1])) if row else None

    def version(self, kind: str, pk: str, sk: str) -> int | None:
        with self._edge() as conn:
            row = conn.execute(_VERSION, (kind, pk, sk)).fetchone()
        return row[0] if row else None

    def put(self, kind: str, pk: str, sk: str, data: dict[str, Any], *,
            expected_version: int | None = ANY_VERSION) -> Record:
        doc = dump(data)
        with self._edge() as conn:
            version = self._put(conn, kind, pk, sk, doc, expected_version, expiry_of(data))
        return Record(kind, pk, sk, version, data)

    def delete(self, kind: str, pk: str, sk: str, *, expected_version: int | None = ANY_VERSION) -> bool:
        with self._edge() as conn:
            return self._delete(conn, kind, pk, sk, expected_version)

    def transact(self, ops: Sequence[Put | Delete]) -> None:
        check_ops(ops)
        docs = [dump(op.data) if isinstance(op, Put) else "" for op in ops]
        if not ops:
            return
        with self._edge() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                plain: list[tuple[str, str, str, str, int | None]] = []  # unconditional puts: one statement
                for op, doc in zip(ops, docs, strict=True):
                    if isinstance(op, Put) and op.expected_version is None:
                        plain.append((op.kind, op.pk, op.sk, doc, expiry_of(op.data)))
                    elif isinstance(op, Put):
                        self._put(conn, op.kind, op.pk, op.sk, doc, op.expected_version, expiry_of(op.data))
                    else:
                        self._delete(conn, op.kind, op.pk, op.sk, op.expected_version)
                if plain:  # each record is touched once (check_ops), so their order among the others is moot
                    conn.executemany(_UPSERT_MANY, plain)
            except BaseException:
                if conn.in_transaction:  # some errors (disk full, I/O) have rolled back already
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    @staticmethod
    def _put(conn: sqlite3.Connection, kind: str, pk: str, sk: str, doc: str, expected: int | None,
             expires: int | None) -> int:
        if expected is None:
            return conn.execute(_UPSERT, (kind, pk, sk, doc, expires)).fetchall()[0][0]
        if expected == MUST_NOT_EXIST:
            rows = conn.execute(_CREATE, (kind, pk, sk, doc, expires)).fetchall()
        else:
            rows = conn.execute(_REPLACE, (doc, expires, kind, pk, sk, expected)).fetchall()
        if not rows:
            raise _conflict(kind, pk, sk)
        return expected + 1

    @staticmethod
    def _delete(conn: sqlite3.Connection, kind: str, pk: str, sk: str, expected: int | None) -> bool:
        if expected == MUST_NOT_EXIST:  # nothing to delete by definition; conflict if something is there
            if conn.execute(_EXISTS, (kind, pk, sk)).fetchone():
                raise _conflict(kind, pk, sk)
            return False
        if expected is None:
            return conn.execute(_DELETE, (kind, pk, sk)).rowcount > 0
        if conn.execute(_DELETE_IF, (kind, pk, sk, expected)).rowcount == 0:
            raise _conflict(kind, pk, sk)
        return True

    @staticmethod
    def _where(q: Query) -> tuple[str, list[Any]] | None:
        """The WHERE clause for ``q``, or None when its range is empty."""
        check_filters(q.filters)
        bounds = key_range(q)
        if bounds is None:
            return None
        sql, args = ["kind = ? AND pk = ?"], [q.kind, q.pk]
        if bounds[0] is not None:
            sql.append("sk >= ?")
            args.append(bounds[0])
        if bounds[1] is not None:
            sql.append("sk < ?")
            args.append(bounds[1])
        for key, value in q.filters.items():
            path = f'$."{key}"'
            if isinstance(value, str):  # a string must not match an array or object rendered as text
                sql.append("json_type(data, ?) = 'text' AND json_extract(data, ?) = ?")
                args += [path, path, value]
            else:  # bools compare as 0/1 and null matches a missing field, as Python's == on .get() does
                sql.append("json_extract(data, ?) IS ?")
                args += [path, value]
        return " AND ".join(sql), args

    def query(self, query: Query) -> list[Record]:
        if query.limit is not None and query.limit < 0:
            raise ValueError("limit must not be negative")
        where = self._where(query)
        if where is None or query.limit == 0:
            return []
        order = "DESC" if query.reverse else "ASC"
        omit = check_omit(query.omit)
        paths = ["$" + "".join(f'."{key}"' for key in path.split(".")) for path in query.omit]
        column = "data"
        if paths:  # large documents lose the fields in SQLite (in C, before Python decodes them); small ones after:
            # re-encoding a small document costs SQLite more than decoding the fields costs Python
            removed = f"json_remove(data{', ?' * len(paths)})"
            column = f"CASE WHEN length(CAST(data AS BLOB)) > {_PROJECT_OVER} THEN {removed} ELSE data END"
        if query.keys_only:
            column, paths = "NULL", []
        sql = f"SELECT sk, version, {column} FROM records WHERE {where[0]} ORDER BY sk {order} LIMIT ?"
        with self._edge() as conn:
            rows = conn.execute(sql, [*paths, *where[1], -1 if query.limit is None else query.limit]).fetchall()
        if query.keys_only:
            return [Record(query.kind, query.pk, sk, version, {}) for sk, version, _ in rows]
        if omit:
            return [Record(query.kind, query.pk, sk, version, omit_fields(json.loads(data), omit))
                    for sk, version, data in rows]
        return [Record(query.kind, query.pk, sk, version, json.loads(data)) for sk, version, data in rows]

    def count(self, query: Query) -> int:
        where = self._where(query)
        if where is None:
            return 0
        with self._edge() as conn:
            return conn.execute(f"SELECT COUNT(*) FROM records WHERE {where[0]}", where[1]).fetchone()[0]

    def purge_expired(self, now: float, limit: int = 100_000) -> int:
        """In batches of 5,000 deletes, each its own short transaction, so writers never wait long."""
        purged = 0
        while purged < limit:
            with self._edge() as conn:
                keys = conn.execute(_EXPIRED, (int(now), min(5000, limit - purged))).fetchall()
                if not keys:
                    return purged
                conn.execute("BEGIN IMMEDIATE")
                try:
                    conn.executemany(_DELETE_EXPIRED, keys)
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
            purged += len(keys)
        return purged

    def close(self) -> None:
        self._pool.close()
