"""SQLite backend of the Store protocol: WAL, one connection per thread, BEGIN IMMEDIATE for writes."""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from chalicelib.domain.errors import VersionConflict
from chalicelib.storage.base import ANY_VERSION, Delete, Put, Query, Record

_SCHEMA = """CREATE TABLE IF NOT EXISTS records (kind TEXT NOT NULL, pk TEXT NOT NULL, sk TEXT NOT NULL,
version INTEGER NOT NULL, data TEXT NOT NULL, PRIMARY KEY (kind, pk, sk)) WITHOUT ROWID"""


class SqliteStore:
    def __init__(self, path: str | Path) -> None:
        self._path = Path(path)
        self._path.parent.mkdir(parents=True, exist_ok=True)
        if not self._path.exists():
            os.close(os.open(self._path, os.O_CREAT | os.O_WRONLY, 0o600))
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        with self._conn() as conn:
            conn.execute(_SCHEMA)

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self._path, timeout=5.0, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=5000")
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    def get(self, kind: str, pk: str, sk: str) -> Record | None:
        row = self._conn().execute("SELECT version, data FROM records WHERE kind=? AND pk=? AND sk=?",
                                   (kind, pk, sk)).fetchone()
        return Record(kind, pk, sk, row[0], json.loads(row[1])) if row else None

    def put(self, kind: str, pk: str, sk: str, data: dict[str, Any], *,
            expected_version: int | None = ANY_VERSION) -> Record:
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = self._put(conn, Put(kind, pk, sk, data, expected_version))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return Record(kind, pk, sk, version, data)

    def _put(self, conn: sqlite3.Connection, op: Put) -> int:
        row = conn.execute("SELECT version FROM records WHERE kind=? AND pk=? AND sk=?",
                           (op.kind, op.pk, op.sk)).fetchone()
        current = row[0] if row else 0
        if op.expected_version is not None and op.expected_version != current:
            raise VersionConflict(what=f"{op.kind} {op.pk}/{op.sk}")
        conn.execute("INSERT OR REPLACE INTO records (kind, pk, sk, version, data) VALUES (?, ?, ?, ?, ?)",
                     (op.kind, op.pk, op.sk, current + 1, json.dumps(op.data, separators=(",", ":"))))
        return current + 1

    def _delete(self, conn: sqlite3.Connection, op: Delete) -> bool:
        row = conn.execute("SELECT version FROM records WHERE kind=? AND pk=? AND sk=?",
                           (op.kind, op.pk, op.sk)).fetchone()
        if op.expected_version is not None and op.expected_version != (row[0] if row else 0):
            raise VersionConflict(what=f"{op.kind} {op.pk}/{op.sk}")
        if row:
            conn.execute("DELETE FROM records WHERE kind=? AND pk=? AND sk=?", (op.kind, op.pk, op.sk))
        return row is not None

    def delete(self, kind: str, pk: str, sk: str, *, expected_version: int | None = ANY_VERSION) -> bool:
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            deleted = self._delete(conn, Delete(kind, pk, sk, expected_version))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return deleted

    def transact(self, ops: Sequence[Put | Delete]) -> None:
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            for op in ops:
                if isinstance(op, Put):
                    self._put(conn, op)
                else:
                    self._delete(conn, op)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def _where(self, q: Query) -> tuple[str, list[Any]]:
        clauses, args = ["kind=?", "pk=?"], [q.kind, q.pk]
        if q.prefix:
            clauses.append("sk >= ? AND sk < ?")
            args += [q.prefix, q.prefix + "\U0010ffff"]
        if q.start is not None:
            clauses.append("sk >= ?")
            args.append(q.start)
        if q.end is not None:
            clauses.append("sk < ?")
            args.append(q.end)
        for key, value in q.filters.items():
            clauses.append("json_extract(data, ?) = json_extract(?, '$')")
            args += [f"$.{key}", json.dumps(value)]
        return " AND ".join(clauses), args

    def query(self, query: Query) -> list[Record]:
        where, args = self._where(query)
        sql = f"SELECT sk, version, data FROM records WHERE {where} ORDER BY sk {'DESC' if query.reverse else 'ASC'}"
        if query.limit is not None:
            sql += f" LIMIT {int(query.limit)}"
        rows = self._conn().execute(sql, args).fetchall()
        return [Record(query.kind, query.pk, r[0], r[1], json.loads(r[2])) for r in rows]

    def count(self, query: Query) -> int:
        where, args = self._where(query)
        return self._conn().execute(f"SELECT COUNT(*) FROM records WHERE {where}", args).fetchone()[0]

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
        self._local = threading.local()
