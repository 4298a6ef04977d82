"""Email reports (seed 001, Settings → email reports): per account settings and recipients, and a periodic summary
(invocations, failures, slowest functions, deployments) sent as a job of the durable queue.

Each period's report is one job, enqueued in the same transaction as its delivery record (kind "emailreport",
sk "delivery#<period>", created only if absent): a period is reported once however many gateways tick, a failed
send is retried with backoff by the queue, and one that fails for good is recorded on the delivery and the
settings (and stays in the dead-letter list, where it can be retried) — never dropped silently.
"""

from __future__ import annotations

import html
import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.clock import Clock
from chalicelib.domain.errors import BadInput, NotFound, VersionConflict
from chalicelib.domain.permissions import Action, Principal, require
from chalicelib.jobs import Handler, Job, JobQueue
from chalicelib.jobs.model import Backoff
from chalicelib.mail import Mailer, Message
from chalicelib.services.reports import ReportService
from chalicelib.services.repository import FunctionRepository
from chalicelib.storage.base import MUST_NOT_EXIST, Delete, Put, Query, Store, on_latest

log = logging.getLogger(__name__)
KIND, DUE = "emailreport", "emailreport-due"  # per-account records; the index of accounts with reports on
JOB_KIND = "email-report"
FREQUENCIES = ("daily", "weekly")
RECIPIENTS_MAX = 20
_EMAIL = re.compile(r"^[^@\s<>\"',;]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
_DAY = timedelta(days=1)


@dataclass(frozen=True)
class Period:
    name: str  # "2026-01-05" (daily) or "2026-W02" (weekly)
    start_ms: int
    end_ms: int  # inclusive


def last_complete_period(frequency: str, now_s: float) -> Period:
    """The latest UTC day (or Monday-to-Sunday week) that has ended by ``now_s``."""
    today = datetime.fromtimestamp(now_s, tz=UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if frequency == "weekly":
        end = today - timedelta(days=today.weekday())  # this week's Monday
        start = end - 7 * _DAY
        year, week, _ = start.isocalendar()
        name = f"{year}-W{week:02d}"
    else:
        start, end = today - _DAY, today
        name = start.strftime("%Y-%m-%d")
    return Period(name, int(start.timestamp() * 1000), int(end.timestamp() * 1000) - 1)


def check_email(email: Any) -> str:
    if not isinstance(email, str) or len(email) > 254 or not _EMAIL.match(email.strip()):
        raise BadInput(detail="'email' must be an email address")
    return email.strip().lower()


class EmailReportService:
    def __init__(self, store: Store, queue: JobQueue, reports: ReportService, repo: FunctionRepository,
                 mailer: Mailer, clock: Clock, sender: str) -> None:
        self._store, self._queue, self._reports, self._repo = store, queue, reports, repo
        self._mailer, self._clock, self._sender = mailer, clock, sender

    def handlers(self) -> list[Handler]:
        return [Handler(JOB_KIND, self._run, on_dead=self._gave_up, max_attempts=5, concurrency=2,
                        backoff=Backoff(base_s=30.0, max_s=1800.0))]

    # -- settings and recipients ----------------------------------------------------------------------------------
    def get(self, who: Principal) -> dict[str, Any]:
        require(who, "emailReport", Action.READ)
        return {"settings": self._settings(who.account_id),
                "recipients": [r.data for r in self._store.query(Query(KIND, who.account_id, prefix="recipient#"))]}

    def update_settings(self, who: Principal, enabled: Any, frequency: Any) -> dict[str, Any]:
        require(who, "emailReportSettings", Action.WRITE)
        if not isinstance(enabled, bool):
            raise BadInput(detail="'enabled' must be true or false")
        if frequency not in FREQUENCIES:
            raise BadInput(detail=f"'frequency' is one of {', '.join(FREQUENCIES)}")

        def attempt() -> dict[str, Any]:
            current = self._store.get(KIND, who.account_id, "settings")
            data = {**(current.data if current else self._defaults()), "enabled": enabled, "frequency": frequency,
                    "updatedAt": self._clock.iso(), "updatedBy": who.display_name}
            index = Put(DUE, "all", who.account_id, {"account_id": who.account_id}) if enabled \
                else Delete(DUE, "all", who.account_id)
            self._store.transact([Put(KIND, who.account_id, "settings", data,
                                      current.version if current else MUST_NOT_EXIST), index])
            return data

        return on_latest(attempt, tries=10, what="email report settings")

    def add_recipient(self, who: Principal, email: Any) -> dict[str, Any]:
        require(who, "emailReportRecipients", Action.WRITE)
        email = check_email(email)
        if self._store.count(Query(KIND, who.account_id, prefix="recipient#")) >= RECIPIENTS_MAX:
            raise BadInput(detail=f"at most {RECIPIENTS_MAX} recipients")
        data = {"email": email, "addedAt": self._clock.iso(), "addedBy": who.display_name}
        self._store.put(KIND, who.account_id, f"recipient#{email}", data)
        return data

    def remove_recipient(self, who: Principal, email: str) -> None:
        require(who, "emailReportRecipients", Action.WRITE)
        if not self._store.delete(KIND, who.account_id, f"recipient#{email.strip().lower()}"):
            raise NotFound(what="recipient", key=email)

    def deliveries(self, who: Principal, limit: int = 50) -> list[dict[str, Any]]:
        require(who, "emailReport", Action.READ)
        return [r.data for r in self._store.query(Query(KIND, who.account_id, prefix="delivery#", reverse=True,
                                                        limit=limit))]

    # -- sending --------------------------------------------------------------------------------------------------
    def send_now(self, who: Principal) -> dict[str, Any]:
        """A report of the last complete period, now, whether or not the schedule sent one (an admin's test)."""
        require(who, "emailReportSettings", Action.WRITE)
        period = last_complete_period(self._settings(who.account_id)["frequency"], self._clock.now())
        return self._enqueue(who.account_id, period, f"{period.name}@{int(self._clock.now() * 1000)}")

    def tick(self) -> int:
        """Enqueue the due report of every account with reports on; how many were enqueued. Safe to run anywhere,
        any number of times (the delivery record decides)."""
        queued = 0
        for record in self._store.query(Query(DUE, "all")):
            account_id = record.sk
            settings = self._settings(account_id)
            if not settings["enabled"]:
                continue
            period = last_complete_period(settings["frequency"], self._clock.now())
            try:
                self._enqueue(account_id, period, period.name)
                queued += 1
            except VersionConflict:
                pass  # reported already
        return queued

    def _enqueue(self, account_id: str, period: Period, key: str) -> dict[str, Any]:
        job = self._queue.create(JOB_KIND, {"account_id": account_id, "delivery": key, "period": period.name,
                                            "start_ms": period.start_ms, "end_ms": period.end_ms},
                                 account_id=account_id, max_attempts=5)
        delivery = {"delivery": key, "period": period.name, "state": "queued", "jobId": job.id,
                    "queuedAt": self._clock.iso(), "attempts": 0, "errors": []}
        self._store.transact([Put(KIND, account_id, f"delivery#{key}", delivery, MUST_NOT_EXIST),
                              self._queue.put_op(job)])
        self._queue.notify([job])
        return delivery

    def _run(self, job: Job) -> None:
        p = job.payload
        account_id = p["account_id"]
        recipients = tuple(r.data["email"] for r in self._store.query(Query(KIND, account_id, prefix="recipient#")))
        if not recipients:
            self._settle(account_id, p["delivery"], state="skipped", note="no recipients")
            return
        message = self.compose(account_id, Period(p["period"], p["start_ms"], p["end_ms"]), recipients)
        try:
            message_id = self._mailer.send(message)
        except Exception as exc:
            self._settle(account_id, p["delivery"], state="retrying", error=str(exc), attempt=job.attempts)
            raise
        self._settle(account_id, p["delivery"], state="sent", messageId=message_id, recipients=list(recipients),
                     attempt=job.attempts)
        log.info("email report sent", extra={"account": account_id, "period": p["period"],
                                             "recipients": len(recipients), "attempts": job.attempts})

    def _gave_up(self, job: Job, error: str) -> None:
        p = job.payload
        self._settle(p["account_id"], p["delivery"], state="failed", attempt=job.attempts, lastError=error[:500])
        settings = self._store.get(KIND, p["account_id"], "settings")
        if settings is not None:
            self._store.put(KIND, p["account_id"], "settings", {**settings.data, "lastError": error,
                                                                "lastErrorAt": self._clock.iso()})
        log.error("email report failed for good", extra={"account": p["account_id"], "period": p["period"],
                                                         "error": error[:500]})

    def _settle(self, account_id: str, key: str, *, state: str, error: str = "", attempt: int = 0,
                **fields: Any) -> None:
        current = self._store.get(KIND, account_id, f"delivery#{key}")
        data: dict[str, Any] = dict(current.data) if current else {"delivery": key}
        data |= {"state": state, "updatedAt": self._clock.iso(), "attempts": max(attempt, data.get("attempts", 0)),
                 **fields}
        if error:
            data["errors"] = [*data.get("errors", []), error[:500]][-10:]
        self._store.put(KIND, account_id, f"delivery#{key}", data)

    # -- content --------------------------------------------------------------------------------------------------
    def compose(self, account_id: str, period: Period, recipients: tuple[str, ...]) -> Message:
        figures = self._reports.functions(account_id, period.start_ms, period.end_ms)
        invocations = sum(f.invocations for f in figures)
        failures = sum(f.failures for f in figures)
        slowest = sorted((f for f in figures if f.p99_ms is not None), key=lambda f: -(f.p99_ms or 0))[:5]
        deployments = self._deployments(account_id, period)
        failed_deploys = sum(1 for d in deployments if d.state == "failed")
        rate = f"{failures * 100 / invocations:.1f} %" if invocations else "–"
        lines = [f"fngate report for account {account_id}, {period.name} (UTC)", "",
                 f"Invocations: {invocations}", f"Failures: {failures} ({rate})",
                 f"Deployments: {len(deployments)} ({failed_deploys} failed)", "", "Slowest functions (p99):"]
        lines += [f"  {f.name}: p99 {f.p99_ms} ms, p50 {f.p50_ms} ms, {f.invocations} invocations, "
                  f"{f.failures} failures" for f in slowest] or ["  (no invocations)"]
        rows = "".join(f"<tr><td>{html.escape(f.name)}</td><td>{f.p99_ms}</td><td>{f.p50_ms}</td>"
                       f"<td>{f.invocations}</td><td>{f.failures}</td></tr>" for f in slowest)
        body = (f"<h2>fngate report for account {html.escape(account_id)}, {html.escape(period.name)} (UTC)</h2>"
                f"<p>Invocations: {invocations}<br>Failures: {failures} ({rate})<br>Deployments: "
                f"{len(deployments)} ({failed_deploys} failed)</p><table><tr><th>Function</th><th>p99 ms</th>"
                f"<th>p50 ms</th><th>Invocations</th><th>Failures</th></tr>{rows}</table>")
        return Message(self._sender, recipients, f"fngate report {account_id}: {period.name}", "\n".join(lines) + "\n",
                       body)

    def _deployments(self, account_id: str, period: Period) -> list[Any]:
        lo, hi = _iso(period.start_ms), _iso(period.end_ms)
        return [d for f in self._repo.list_meta(account_id) for d in self._repo.deployments(account_id, f.uuid)
                if lo <= (d.created_at or "") <= hi]

    def _settings(self, account_id: str) -> dict[str, Any]:
        record = self._store.get(KIND, account_id, "settings")
        return {**self._defaults(), **(record.data if record else {})}

    @staticmethod
    def _defaults() -> dict[str, Any]:
        return {"enabled": False, "frequency": "daily", "lastError": "", "lastErrorAt": ""}


def _iso(ms: int) -> str:
    moment = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
