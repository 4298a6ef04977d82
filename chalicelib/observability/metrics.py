"""Request figures per account: counts by outcome and a latency histogram, kept in the process; on AWS Lambda each
request is also emitted as CloudWatch EMF through Powertools Metrics (namespace "fngate", no per-account dimension:
accounts go in the metadata, so the metric count stays small)."""

from __future__ import annotations

import os
import threading
from typing import Any

from chalicelib.config import ENV_LAMBDA_NAME
from chalicelib.domain import histogram

NAMESPACE = "fngate"


class GatewayMetrics:
    def __init__(self, emf: bool | None = None) -> None:
        self._lock = threading.Lock()
        self._by_account: dict[str, dict[str, Any]] = {}
        self._emf = bool(os.environ.get(ENV_LAMBDA_NAME)) if emf is None else emf
        self._metrics: Any = None

    def record(self, account: str, outcome: str, duration_ms: float) -> None:
        with self._lock:
            figures = self._by_account.setdefault(account, {"requests": 0, "outcomes": {}, "hist": {}})
            figures["requests"] += 1
            figures["outcomes"][outcome] = figures["outcomes"].get(outcome, 0) + 1
            histogram.add(figures["hist"], duration_ms)
        if self._emf:
            self._emit(account, outcome, duration_ms)

    def of(self, account: str) -> dict[str, Any]:
        """What this process has seen of the account since it started."""
        with self._lock:
            figures = self._by_account.get(account, {"requests": 0, "outcomes": {}, "hist": {}})
            hist = dict(figures["hist"])
            return {"requests": figures["requests"], "outcomes": dict(figures["outcomes"]),
                    "p50Ms": histogram.percentile(hist, 0.5), "p99Ms": histogram.percentile(hist, 0.99)}

    def _emit(self, account: str, outcome: str, duration_ms: float) -> None:
        from aws_lambda_powertools import Metrics
        from aws_lambda_powertools.metrics import MetricUnit

        if self._metrics is None:
            self._metrics = Metrics(namespace=NAMESPACE, service="gateway")
        m = self._metrics
        m.add_metric(name="Requests", unit=MetricUnit.Count, value=1)
        m.add_metric(name=f"Outcome_{outcome}", unit=MetricUnit.Count, value=1)
        m.add_metric(name="Duration", unit=MetricUnit.Milliseconds, value=duration_ms)
        m.add_metadata(key="account", value=account)
        m.flush_metrics()


GATEWAY_METRICS = GatewayMetrics()
