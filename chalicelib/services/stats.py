"""Invocation statistics from daily aggregates: counts by status and latency histograms per function and day.

The recorder folds each batch of invocation records into these aggregates (one optimistic read-modify-write per
function and day touched), so reports read about 30 records a month per function instead of every invocation.
Record layout: kind "invstat", pk account, sk "<yyyymmdd>#<function uuid>". Beside them, counts by status per
5-minute slot (the finest bucket `lpf metrics` asks for): kind "invslot", pk "<account>#<function uuid>", sk
"<yyyymmdd>", data {"slots": {"<slot of the day>": {status: n}}} — a month of one function is ≤ 31 records.
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
SLOT_MS = 300_000  # 5 minutes


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
        slots: dict[tuple[str, str], dict[str, dict[str, int]]] = {}
        for rec in records:
            day = day_of(rec['at'])
            sk = f"{day}#{rec['function_uuid']}"
            agg = groups.setdefault(sk, {"counts": {}, "hist": {}})
            status = rec.get("status", "UNKNOWN")
            agg["counts"][status] = agg["counts"].get(status, 0) + 1
            histogram.add(agg["hist"], float(rec.get("duration_ms", 0.0)))
            slot = slots.setdefault((rec["function_uuid"], day), {}).setdefault(
                str(int(rec["at"] % _DAY_MS // SLOT_MS)), {})
            slot[status] = slot.get(status, 0) + 1
        for sk, delta in groups.items():
            self._apply(account_id, sk, delta)
        for (uuid, day), delta_slots in slots.items():
            self._apply_slots(f"{account_id}#{uuid}", day, delta_slots)

    def _apply_slots(self, pk: str, day: str, delta: dict[str, dict[str, int]]) -> None:
        for _ in range(20):
            current = self._store.get("invslot", pk, day)
            merged = {k: dict(v) for k, v in current.data["slots"].items()} if current else {}
            for slot, counts in delta.items():
                into = merged.setdefault(slot, {})
                for status, n in counts.items():
                    into[status] = into.get(status, 0) + n
            try:
                self._store.put("invslot", pk, day, {"slots": merged},
                                expected_version=current.version if current else MUST_NOT_EXIST)
                return
            except VersionConflict:
                time.sleep(0.001)
        raise VersionConflict(what=f"invocation slots {pk}/{day}")

    def slot_counts(self, account_id: str, function_uuid: str, start_ms: int,
                    end_ms: int) -> Iterable[tuple[int, dict[str, int]]]:
        """(slot start in ms, counts by status) of the function's 5-minute slots starting within [start, end]."""
        records = self._store.query(Query("invslot", f"{account_id}#{function_uuid}", start=day_of(start_ms),
                                          end=day_of(end_ms) + "\uffff"))
        for record in records:
            day_ms = int(datetime.strptime(record.sk, "%Y%m%d").replace(tzinfo=UTC).timestamp()) * 1000
            for slot, counts in record.data["slots"].items():
                at = day_ms + int(slot) * SLOT_MS
                if start_ms <= at <= end_ms:
                    yield at, counts

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

    def days(self, account_id: str, start_ms: int, end_ms: int) -> list[dict[str, Any]]:
        """The daily aggregates (every function) of the UTC days touching [start, end]."""
        return self._days(account_id, start_ms, end_ms)

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
