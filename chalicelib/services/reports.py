"""Reports as `lpf get account`, `lpf metrics` and the Home page read them, from the invocation aggregates.

Counts come from the daily aggregates for the UTC days wholly inside a window and from the 5-minute slots for the
days at its edges, so a window is exact to 5 minutes and a month reads ~31 records per function at most.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from chalicelib.clock import Clock
from chalicelib.domain import histogram
from chalicelib.domain.errors import BadInput
from chalicelib.domain.limits import DEPLOYED_PER_ACCOUNT, FUNCTIONS_PER_ACCOUNT, INVOCATIONS_PER_MONTH
from chalicelib.domain.permissions import Action, Principal, require
from chalicelib.services.repository import FunctionRepository
from chalicelib.services.stats import SLOT_MS, STATUSES, InvocationStats

DAY_MS = 86_400_000
METRICS_WINDOW_MS = 31 * DAY_MS  # lpf metrics asks for at most 30 days
MAX_BUCKETS = 10_000
# spec §4.4: `lpf metrics` reads these keys per bucket (UNKOWN as LivePerson spells it)
BUCKET_STATES = ("SUCCEEDED", "CODING_FAILURE", "PLATFORM_FAILURE", "TIMEOUT", "UNKOWN")


def month_start_ms(now_s: float) -> int:
    moment = datetime.fromtimestamp(now_s, tz=UTC)
    return int(moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0).timestamp() * 1000)


@dataclass(frozen=True)
class FunctionFigures:
    uuid: str
    name: str
    state: str
    counts: dict[str, int]
    p50_ms: float | None
    p99_ms: float | None

    @property
    def invocations(self) -> int:
        return sum(self.counts.values())

    @property
    def failures(self) -> int:
        return self.invocations - self.counts.get("SUCCEEDED", 0)


class ReportService:
    def __init__(self, stats: InvocationStats, repo: FunctionRepository, clock: Clock) -> None:
        self._stats, self._repo, self._clock = stats, repo, clock

    def limit_counts(self, who: Principal) -> dict[str, int]:
        require(who, "reporting", Action.READ)
        return {"limitTotalLambdas": FUNCTIONS_PER_ACCOUNT, "limitDeployedLambdas": DEPLOYED_PER_ACCOUNT,
                "invocationLimitPerMonth": INVOCATIONS_PER_MONTH}

    def lambda_counts(self, who: Principal) -> dict[str, Any]:
        require(who, "reporting", Action.READ)
        fns = self._repo.list_meta(who.account_id)
        return {"accountId": who.account_id, "total": len(fns), "deployed": sum(1 for f in fns if f.live)}

    def counts_by_function(self, who: Principal, start_ms: int, end_ms: int) -> dict[str, dict[str, int]]:
        """Invocations by function and status whose time falls in [start, end] (to 5 minutes)."""
        require(who, "reporting", Action.READ)
        _check_window(start_ms, end_ms, None)
        totals: dict[str, dict[str, int]] = {}
        first_whole = -(-start_ms // DAY_MS) * DAY_MS  # the first UTC midnight at or after start
        last_whole = (end_ms + 1) // DAY_MS * DAY_MS  # the UTC midnight ending the last whole day
        if first_whole < last_whole:
            for day in self._stats.days(who.account_id, first_whole, last_whole - 1):
                _add(totals.setdefault(day["function_uuid"], {}), day["counts"])
        edges = [(start_ms, min(end_ms, first_whole - 1)), (max(last_whole, start_ms), end_ms)] \
            if first_whole < last_whole else [(start_ms, end_ms)]
        edges = [(lo, hi) for lo, hi in edges if lo <= hi]
        if edges:
            for fn in self._repo.list_meta(who.account_id):
                for lo, hi in edges:
                    for _, counts in self._stats.slot_counts(who.account_id, fn.uuid, lo, hi):
                        _add(totals.setdefault(fn.uuid, {}), counts)
        return totals

    def invocation_buckets(self, who: Principal, uuid: str, start_ms: int, end_ms: int,
                           bucket_ms: int) -> list[dict[str, int]]:
        """Buckets of ``bucket_ms`` from ``start_ms``: {from, to, SUCCEEDED, ..., UNKOWN} as `lpf metrics` reads."""
        require(who, "reporting", Action.READ)
        self._repo.get_cached(who.account_id, uuid)  # FunctionNotFound
        _check_window(start_ms, end_ms, METRICS_WINDOW_MS)
        if bucket_ms < SLOT_MS:
            raise BadInput(detail="bucketSize is at least 300 s (5 minutes)")
        count = max(1, -(-(end_ms - start_ms) // bucket_ms))  # the last bucket holds the end instant too
        if count > MAX_BUCKETS:
            raise BadInput(detail=f"at most {MAX_BUCKETS} buckets; use a larger bucketSize")
        buckets = [{"from": start_ms + i * bucket_ms, "to": min(start_ms + (i + 1) * bucket_ms, end_ms),
                    **dict.fromkeys(BUCKET_STATES, 0)} for i in range(count)]
        # a 5-minute slot that began before the window but overlaps it counts in the first bucket
        for at, counts in self._stats.slot_counts(who.account_id, uuid, start_ms - SLOT_MS + 1, end_ms):
            bucket = buckets[min(count - 1, max(0, (at - start_ms) // bucket_ms))]
            for status, n in counts.items():
                key = "UNKOWN" if status not in BUCKET_STATES else status
                bucket[key] += n
        return buckets

    def functions(self, account_id: str, start_ms: int, end_ms: int) -> list[FunctionFigures]:
        """Per function: counts and p50/p99 over the UTC days touching [start, end] (the Home page, reports)."""
        days = self._stats.days(account_id, start_ms, end_ms)
        counts: dict[str, dict[str, int]] = {}
        hists: dict[str, dict[str, int]] = {}
        for day in days:
            _add(counts.setdefault(day["function_uuid"], {}), day["counts"])
            histogram.merge(hists.setdefault(day["function_uuid"], {}), day["hist"])
        known = {f.uuid: f for f in self._repo.list_meta(account_id)}
        out = []
        for uuid in dict.fromkeys([*known, *counts]):
            fn, hist = known.get(uuid), hists.get(uuid, {})
            out.append(FunctionFigures(uuid, fn.name if fn else "(deleted)", fn.state.value if fn else "",
                                       counts.get(uuid, {}), histogram.percentile(hist, 0.5),
                                       histogram.percentile(hist, 0.99)))
        return out

    def home(self, who: Principal) -> dict[str, Any]:
        """The Home page's figures for this month: functions by state, invocations, errors, p50/p99."""
        require(who, "reporting", Action.READ)
        now_ms = int(self._clock.now() * 1000)
        figures = self.functions(who.account_id, month_start_ms(self._clock.now()), now_ms)
        by_state: dict[str, int] = {}
        for f in figures:
            if f.state:
                by_state[f.state] = by_state.get(f.state, 0) + 1
        hist: dict[str, int] = {}
        for day in self._stats.days(who.account_id, month_start_ms(self._clock.now()), now_ms):
            histogram.merge(hist, day["hist"])
        total = {s: sum(f.counts.get(s, 0) for f in figures) for s in STATUSES}
        return {"accountId": who.account_id, "from": month_start_ms(self._clock.now()), "to": now_ms,
                "functions": {"total": sum(by_state.values()), "byState": by_state},
                "invocations": sum(total.values()), "errors": sum(total.values()) - total["SUCCEEDED"],
                "byStatus": total, "p50Ms": histogram.percentile(hist, 0.5),
                "p99Ms": histogram.percentile(hist, 0.99),
                "perFunction": [{"uuid": f.uuid, "name": f.name, "state": f.state, "invocations": f.invocations,
                                 "errors": f.failures, "p50Ms": f.p50_ms, "p99Ms": f.p99_ms} for f in figures]}


def _add(into: dict[str, int], counts: dict[str, int]) -> None:
    for status, n in counts.items():
        into[status] = into.get(status, 0) + n


def _check_window(start_ms: int, end_ms: int, max_ms: int | None) -> None:
    if end_ms < start_ms:
        raise BadInput(detail="endTimestamp is before startTimestamp")
    if max_ms is not None and end_ms - start_ms > max_ms:
        raise BadInput(detail="the time period is at most 30 days")
