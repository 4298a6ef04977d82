"""Time comes in through a Clock so services and tests agree on "now"."""

from __future__ import annotations

import time
from datetime import UTC, datetime


class Clock:
    def now(self) -> float:
        return time.time()

    def iso(self, at: float | None = None) -> str:
        """ISO-8601 with milliseconds and Z, as LivePerson's API writes dates (2020-01-27T09:59:43.000Z)."""
        moment = datetime.fromtimestamp(self.now() if at is None else at, tz=UTC)
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class FrozenClock(Clock):
    """A clock for tests: time moves only when told to."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.t = start

    def now(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


class OffsetClock(Clock):
    """The real clock shifted by ``offset_s`` (FNGATE_CLOCK_OFFSET_S): lets an end-to-end test reach a due time."""

    def __init__(self, offset_s: float) -> None:
        self.offset_s = offset_s

    def now(self) -> float:
        return time.time() + self.offset_s
