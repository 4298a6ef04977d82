"""The local scheduler: a thread that claims due slots on time and otherwise sleeps.

It sleeps until the earliest next slot in the store, or ``poll_s`` at most: schedule changes made in this process
wake it at once (ScheduleService.on_change), changes made by other processes on the same data dir are seen within
``poll_s`` (one indexed read of one row). Several processes may run one each: a slot is claimed by a conditional
write, so it runs once whoever wakes first.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from chalicelib.clock import Clock

log = logging.getLogger(__name__)


class LocalScheduler:
    def __init__(self, fire_due: Callable[[], float | None], clock: Clock, *, poll_s: float = 5.0) -> None:
        self._fire_due, self._clock, self._poll = fire_due, clock, poll_s
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.ticks = 0  # passes over the store so far (for tests and the idle benchmark)

    def start(self) -> LocalScheduler:
        self._thread = threading.Thread(target=self._loop, name="scheduler", daemon=True)
        self._thread.start()
        return self

    def wake(self) -> None:
        """A schedule changed: look at the store again now."""
        self._wake.set()

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def _loop(self) -> None:
        while not self._stopping.is_set():
            self._wake.clear()
            self.ticks += 1
            try:
                upcoming = self._fire_due()
            except Exception:
                log.exception("could not claim due schedules; trying again")
                upcoming = None
            wait = self._poll if upcoming is None else min(self._poll, max(0.0, upcoming - self._clock.now()))
            self._wake.wait(wait)
