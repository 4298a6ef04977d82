"""Invocation records, written in the background in batches so recording never sits on the invoke hot path.

A bounded queue: if storage falls far behind, records are dropped (and counted, and logged) rather than slowing
or failing invocations. ``flush()`` and ``close()`` drain it (tests, shutdown).
"""

from __future__ import annotations

import logging
import queue
import threading
from typing import Any

from chalicelib.services.stats import InvocationStats
from chalicelib.storage.base import Put, Store

log = logging.getLogger(__name__)
BATCH = 100  # DynamoDB's transaction limit
MAX_PENDING = 100_000


class InvocationRecorder:
    def __init__(self, store: Store, *, interval_s: float = 0.05) -> None:
        self._store, self._interval = store, interval_s
        self.stats = InvocationStats(store)
        self._queue: queue.Queue[Put | None] = queue.Queue(maxsize=MAX_PENDING)
        self._idle = threading.Event()
        self._idle.set()
        self.dropped = 0
        self._thread = threading.Thread(target=self._loop, name="invocation-records", daemon=True)
        self._thread.start()

    def record(self, account_id: str, function_uuid: str, sort_key: str, data: dict[str, Any]) -> None:
        try:
            self._idle.clear()
            self._queue.put_nowait(Put("invocation", f"{account_id}#{function_uuid}", sort_key, data))
        except queue.Full:
            self.dropped += 1
            if self.dropped % 1000 == 1:
                log.warning("invocation records are falling behind; %d dropped so far", self.dropped)

    def flush(self, timeout_s: float = 10.0) -> None:
        self._idle.wait(timeout_s)

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=10)

    def _loop(self) -> None:
        while True:
            first = self._queue.get()
            batch = [first]
            while len(batch) < BATCH:
                try:
                    batch.append(self._queue.get(timeout=self._interval if len(batch) == 1 else 0.001))
                except queue.Empty:
                    break
            done = None in batch
            self._write([op for op in batch if op is not None])
            if self._queue.empty():
                self._idle.set()
            if done:
                return

    def _write(self, ops: list[Put]) -> None:
        if not ops:
            return
        try:
            self._store.transact(ops)
            by_account: dict[str, list[dict[str, Any]]] = {}
            for op in ops:
                by_account.setdefault(op.pk.split("#", 1)[0], []).append(op.data)
            for account_id, records in by_account.items():
                self.stats.fold(account_id, records)
        except Exception:  # a record must never take the gateway down
            log.exception("could not write %d invocation records", len(ops))
