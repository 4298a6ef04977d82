"""Invocation records, written in the background in batches so recording never sits on the invoke hot path.

A bounded queue: if storage falls far behind, records are dropped (and counted, and logged) rather than slowing
or failing invocations. ``flush()`` and ``close()`` drain it (tests, shutdown).

What a crash can lose: a ``kill -9`` of the gateway loses the records gathered since the last batch was written —
those of the last ``interval_s`` (50 ms) plus any batch being written (normally a few ms), more only when the store
is falling behind. With ``sync=True`` (AWS Lambda, where nothing may be left behind the answer) each record is
written before the invocation answers, and nothing is lost.

Recording costs the invoking thread one deque append: the writer is woken once per batch (when the first record
of a batch arrives) and then gathers for ``interval_s``, rather than being handed every record through a
condition variable (a thread switch per invocation).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from typing import Any

from chalicelib.services.stats import InvocationStats
from chalicelib.storage.base import Put, Store

log = logging.getLogger(__name__)
BATCH = 100  # records folded into the statistics at once
CHUNK = 20  # records per store transaction (DynamoDB allows 100)
MAX_PENDING = 100_000


class InvocationRecorder:
    def __init__(self, store: Store, *, interval_s: float = 0.05, sync: bool = False) -> None:
        self._store, self._interval, self._sync = store, interval_s, sync
        self.stats = InvocationStats(store)
        self._pending: deque[Put | threading.Event] = deque()  # records, and flush() markers
        self._wake = threading.Event()  # set: something is pending
        self._hurry = threading.Event()  # set: write now, do not gather (flush, close)
        self._closing = False
        self.dropped = 0
        self._thread = threading.Thread(target=self._loop, name="invocation-records", daemon=True)
        if not sync:
            self._thread.start()

    def record(self, account_id: str, function_uuid: str, sort_key: str, data: dict[str, Any]) -> None:
        if self._sync:
            self._write([Put("invocation", f"{account_id}#{function_uuid}", sort_key, data)])
            return
        if len(self._pending) >= MAX_PENDING:
            self.dropped += 1
            if self.dropped % 1000 == 1:
                log.warning("invocation records are falling behind; %d dropped so far", self.dropped)
            return
        self._pending.append(Put("invocation", f"{account_id}#{function_uuid}", sort_key, data))
        if not self._wake.is_set():
            self._wake.set()

    def flush(self, timeout_s: float = 10.0) -> None:
        """Returns once every record made before the call is written (or after ``timeout_s``)."""
        if not self._thread.is_alive():
            return
        written = threading.Event()
        self._pending.append(written)
        self._hurry.set()
        self._wake.set()
        written.wait(timeout_s)

    def close(self) -> None:
        if not self._thread.is_alive():
            return
        self._closing = True
        self._hurry.set()
        self._wake.set()
        self._thread.join(timeout=10)

    def _loop(self) -> None:
        while True:
            self._wake.wait()
            self._hurry.wait(self._interval)  # let a batch gather, unless someone waits for it
            self._wake.clear()  # before draining: a record appended from here on sets it again
            self._hurry.clear()
            self._drain()
            if self._closing and not self._pending:
                return

    def _drain(self) -> None:
        batch: list[Put] = []
        while self._pending:
            item = self._pending.popleft()
            if isinstance(item, Put):
                batch.append(item)
                if len(batch) == BATCH:
                    self._write(batch)
                    batch = []
            else:  # a flush marker: everything before it is in batch or written
                self._write(batch)
                batch = []
                item.set()
        self._write(batch)

    def _write(self, ops: list[Put]) -> None:
        """Writes in transactions of CHUNK records, letting other threads run in between (the writer's Python work,
        encoding records, holds the GIL: in small pieces it adds no more than ~0.1 ms to an invocation's wait)."""
        written: list[Put] = []
        for i in range(0, len(ops), CHUNK):
            chunk = ops[i:i + CHUNK]
            try:
                self._store.transact(chunk)
                written += chunk
            except Exception:  # a record must never take the gateway down
                log.exception("could not write %d invocation records", len(chunk))
            time.sleep(0)  # yields the GIL to a waiting request thread
        by_account: dict[str, list[dict[str, Any]]] = {}
        for op in written:
            by_account.setdefault(op.pk.split("#", 1)[0], []).append(op.data)
        for account_id, records in by_account.items():
            try:
                self.stats.fold(account_id, records)
            except Exception:
                log.exception("could not fold %d invocation records into the statistics", len(records))
