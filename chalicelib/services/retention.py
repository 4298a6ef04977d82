"""Deletes expired records (function logs, kept inputs, ...) beside a long-running local gateway.

On DynamoDB the table's TTL does this; on SQLite a thread of `fngate serve` purges once at start and then every
``every_s``. Readers never rely on the purge for correctness: they bound their own queries by time.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from chalicelib.clock import Clock
from chalicelib.storage.base import Store

log = logging.getLogger(__name__)


class Purger:
    def __init__(self, store: Store, clock: Clock, *, every_s: float = 3600.0) -> None:
        self._store, self._clock = store, clock
        self._periodic = Periodic("retention", self.purge_once, every_s, at_start=True)

    def purge_once(self) -> int:
        """Everything expired by now; how many records went."""
        purged = total = 0
        while True:
            purged = self._store.purge_expired(self._clock.now())
            total += purged
            if purged == 0:
                break
        if total:
            log.info("purged %d expired records", total)
        return total

    def start(self) -> Purger:
        self._periodic.start()
        return self

    def stop(self) -> None:
        self._periodic.stop()


class Periodic:
    """Runs ``task`` every ``every_s`` on a thread of a long-running local gateway (AWS uses a scheduled Lambda)."""

    def __init__(self, name: str, task: Callable[[], object], every_s: float, *, at_start: bool = False) -> None:
        """``at_start``: run once as soon as started, then every ``every_s``."""
        self._name, self._task, self._every, self._at_start = name, task, every_s, at_start
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> Periodic:
        self._thread = threading.Thread(target=self._loop, name=self._name, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _loop(self) -> None:
        if self._at_start or not self._stop.wait(self._every):
            while True:
                try:
                    self._task()
                except Exception:  # the store is busy or gone, say: try again next round
                    log.exception("%s failed; trying again in %.0f s", self._name, self._every)
                if self._stop.wait(self._every):
                    return
