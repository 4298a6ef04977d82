"""Invocation statistics from daily aggregates: counts by status and latency histograms per function and day.

The recorder folds each batch of invocation records into these aggregates (one optimistic read-modify-write per
function and day touched), so reports read about 30 records a month per function instead of every invocation.
Record layout: kind "invstat", pk account, sk "<yyyymmdd>#<function uuid>".
"""

from __future__ import annotations

import functools
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from chalicelib.domain import histogram
from chalicelib.domain.errors import VersionConflict
from chalicelib.storage.base import MUST_NOT_EXIST, Query, Store

STATUSES = ("SUCCEEDED", "CODING_FAILURE", "PLATFORM_FAILURE", "TIMEOUT", "UNKNOWN")


_DAY_MS = 86_400_000


def day_of(at_ms: int) -> str:
    """The UTC day of a time in ms since the epoch, as yyyymmdd (UTC days are whole multiples of 86,400 s)."""
    return _day(int(at_ms // _DAY_MS))


@functools.lru_cache(maxsize=64)
def _day(day: int) -> str:
    return datetime.fromtimestamp(day * (_DAY_MS // 1000), tz=UTC).strftime("%Y%m%d")


class InvocationStats:
    def __init__(self, store: Store) -> None:
        self._store = store

    def fold(self, account_id: str, records: Iterable[dict[str, Any]]) -> None:
        """Add a batch of invocation records of one account to the daily aggregates."""
        groups: dict[str, dict[str, Any]] = {}
        for rec in records:
            sk = f"{day_of(rec['at'])}#{rec['function_uuid']}"
            agg = groups.setdefault(sk, {"counts": {}, "hist": {}})
            status = rec.get("status", "UNKNOWN")
            agg["counts"][status] = agg["counts"].get(status, 0) + 1
            histogram.add(agg["hist"], float(rec.get("duration_ms", 0.0)))
        for sk, delta in groups.items():
            self._apply(account_id, sk, delta)

    def _apply(self, account_id: str, sk: str, delta: dict[str, Any]) -> None:
        for _ in range(20):
            current = self._store.get("invstat", account_id, sk)
            data = dict(current.data) if current else {"function_uuid": sk.split("#", 1)[1], "day": sk[:8],
                                                       "counts": {}, "hist": {}}
            counts, hist = dict(data["counts"]), dict(data["hist"])  # type: ignore[arg-type]
            for status, n in delta["counts"].items():
                counts[status] = counts.get(status, 0) + n
            histogram.merge(hist, delta["hist"])
            try:
                self._store.put("invstat", account_id, sk, {**data, "counts": counts, "hist": hist},
                                expected_version=current.version if current else MUST_NOT_EXIST)
                return
            except VersionConflict:
                time.sleep(0.001)
        raise VersionConflict(what=f"invocation statistics {sk}")

    def _days(self, account_id: str, start_ms: int, end_ms: int) -> list[dict[str, Any]]:
        end_day = day_of(end_ms)
        records = self._store.query(Query("invstat", account_id, start=day_of(start_ms), end=end_day + "\uffff"))
        return [r.data for r in records]

    def counts(self, account_id: str, start_ms: int, end_ms: int) -> dict[str, int]:
        """Invocations by status over the days touching [start, end] (day granularity)."""
        total = dict.fromkeys(STATUSES, 0)
        for day in self._days(account_id, start_ms, end_ms):
            for status, n in day["counts"].items():
                total[status] = total.get(status, 0) + n
        return total

    def latency(self, account_id: str, function_uuid: str, start_ms: int, end_ms: int) -> dict[str, Any]:
        hist: dict[str, int] = {}
        n = 0
        for day in self._days(account_id, start_ms, end_ms):
            if day["function_uuid"] == function_uuid:
                histogram.merge(hist, day["hist"])
                n += sum(day["counts"].values())
        return {"invocations": n, "p50_ms": histogram.percentile(hist, 0.5),
                "p99_ms": histogram.percentile(hist, 0.99)}
