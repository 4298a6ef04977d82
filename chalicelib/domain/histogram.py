"""A fixed log-scale latency histogram: mergeable, small (≤ 90 buckets), good to ±6 % for p50/p99.

Daily aggregates carry one per function, so monthly counts and percentiles read ~30 records, not every invocation.
"""

from __future__ import annotations

import math

_BASE_MS, _RATIO, _BUCKETS = 0.01, 1.12, 160  # 0.01 ms … ~700 s


def bucket_of(duration_ms: float) -> int:
    if duration_ms <= _BASE_MS:
        return 0
    return min(_BUCKETS - 1, int(math.log(duration_ms / _BASE_MS, _RATIO)) + 1)


def bucket_upper_ms(index: int) -> float:
    return _BASE_MS * _RATIO ** index


def add(hist: dict[str, int], duration_ms: float, n: int = 1) -> None:
    key = str(bucket_of(duration_ms))
    hist[key] = hist.get(key, 0) + n


def merge(into: dict[str, int], other: dict[str, int]) -> None:
    for key, n in other.items():
        into[key] = into.get(key, 0) + n


def percentile(hist: dict[str, int], p: float) -> float | None:
    """Upper bound of the bucket holding the p-th fraction of samples (None if empty)."""
    total = sum(hist.values())
    if not total:
        return None
    rank, seen = p * total, 0
    for key in sorted(hist, key=int):
        seen += hist[key]
        if seen >= rank:
            return round(bucket_upper_ms(int(key)), 3)
    return round(bucket_upper_ms(max(int(k) for k in hist)), 3)
