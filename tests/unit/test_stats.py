"""Daily invocation aggregates: counts by status and latency percentiles from histograms."""

from __future__ import annotations

from chalicelib.domain import histogram
from chalicelib.services.stats import InvocationStats
from chalicelib.storage.sqlite import SqliteStore

DAY_MS = 86_400_000
T0 = 1_767_225_600_000  # 2026-01-01T00:00Z


def test_percentiles_are_within_the_bucket_resolution():
    hist: dict[str, int] = {}
    for i in range(1, 1001):
        histogram.add(hist, i / 10)  # 0.1 … 100 ms
    assert abs(histogram.percentile(hist, 0.5) - 50) / 50 < 0.13
    assert abs(histogram.percentile(hist, 0.99) - 99) / 99 < 0.13
    assert histogram.percentile({}, 0.5) is None


def test_fold_counts_by_status_and_day(tmp_path):
    stats = InvocationStats(SqliteStore(tmp_path / "db"))
    records = [{"function_uuid": "f1", "at": T0 + i * 1000, "status": "SUCCEEDED", "duration_ms": 1.0}
               for i in range(10)]
    records += [{"function_uuid": "f1", "at": T0 + DAY_MS, "status": "CODING_FAILURE", "duration_ms": 50.0}]
    records += [{"function_uuid": "f2", "at": T0 + 40 * DAY_MS, "status": "SUCCEEDED", "duration_ms": 1.0}]
    stats.fold("acc", records[:5])
    stats.fold("acc", records[5:])
    month = stats.counts("acc", T0, T0 + 30 * DAY_MS)
    assert month["SUCCEEDED"] == 10 and month["CODING_FAILURE"] == 1
    lat = stats.latency("acc", "f1", T0, T0 + 30 * DAY_MS)
    assert lat["invocations"] == 11 and lat["p50_ms"] < 1.2 and lat["p99_ms"] > 40
    assert stats.counts("other", T0, T0 + 30 * DAY_MS)["SUCCEEDED"] == 0
