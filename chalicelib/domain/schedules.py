"""Schedules: the stored schedule and run, the cron rules (parse, next due time in a time zone, AWS's form).

No I/O. The cron dialect is the classic 5-field one (minute hour day-of-month month day-of-week) restricted to
what both the local scheduler (croniter) and EventBridge Scheduler read the same way: ``*``, numbers, ranges,
lists, steps and month/day names. Time is wall-clock time in the schedule's zone with EventBridge Scheduler's
daylight-saving rules: a time that does not exist (the hour skipped in spring) is skipped, a time that happens
twice (the hour repeated in autumn) runs once, at its first occurrence.
"""

from __future__ import annotations

import json
import re
import threading
import zoneinfo
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from enum import StrEnum
from functools import lru_cache
from typing import Any

from croniter import croniter  # type: ignore[import-untyped]

from chalicelib.domain.errors import ValidationFailed
from chalicelib.domain.models import Document

DEFAULT_TIME_ZONE = "Etc/UTC"
CRON_MAX = 120  # management-api.md §4.4 LPSchedule.cronExpression
DESCRIPTION_MAX = 200
PAYLOAD_MAX = 8_000  # §7: characters of the payload as JSON text
SCHEDULES_PER_ACCOUNT = 50  # §7, V2
SCHEDULED_FUNCTIONS_V1 = 10  # §7, V1
RUNS_KEPT = 50  # run history per schedule (ours)
MISSED_COUNT_MAX = 1000  # missed slots counted one by one up to this many (ours)


class ScheduleInvalid(ValidationFailed):
    """A schedule field breaks a rule; the message names the field."""

    template = "{field}: {detail}"
    v1_code = v2_code = "com.liveperson.faas.schedule.validation"  # ours


def invalid(field_name: str, detail: str) -> ScheduleInvalid:
    return ScheduleInvalid(field=field_name, detail=detail)


class RunStatus(StrEnum):
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    CODING_FAILURE = "CODING_FAILURE"
    PLATFORM_FAILURE = "PLATFORM_FAILURE"
    SKIPPED = "SKIPPED"  # the previous run was still going
    MISSED = "MISSED"  # due while no scheduler ran (see the catch-up policy in services/schedules.py)
    LOST = "LOST"  # its gateway stopped while it ran; never run twice


FAILED = frozenset({RunStatus.CODING_FAILURE, RunStatus.PLATFORM_FAILURE, RunStatus.LOST})


@dataclass(frozen=True)
class Schedule(Document):
    account_id: str
    id: str
    function_uuid: str
    cron: str
    is_active: bool = True
    description: str = ""
    time_zone: str = DEFAULT_TIME_ZONE
    headers: dict[str, str] = field(default_factory=dict)
    payload: Any = None
    created_at: str = ""
    created_by: str = ""
    updated_at: str = ""
    updated_by: str = ""
    next_due: float | None = None  # epoch s of the next slot (None while inactive)
    last_due: float | None = None  # the slot of the last run claimed
    last_execution: str = ""  # ISO time the last run started
    did_last_execution_fail: bool = False
    running_job: str = ""  # the job of the run in progress (queued or running), "" when none

    def to_dict(self) -> dict[str, Any]:
        return _shallow(self)  # plain JSON values only: no deep copy (asdict's) on every claim

    def function_input(self) -> dict[str, Any]:
        """The function's ``{headers, payload}``: invocationBody headers as the [{key, value}] list functions get."""
        return {"headers": [{"key": k, "value": v} for k, v in self.headers.items()],
                "payload": {} if self.payload is None else self.payload}


@dataclass(frozen=True)
class Run(Document):
    """One slot of a schedule in its history."""

    schedule_id: str
    due: float  # the slot (epoch s); for a run-now, the time it was asked
    status: str = RunStatus.QUEUED
    started: float | None = None
    duration_ms: float | None = None
    error_code: str = ""  # the V1 code of the failure (the V2 one is derived when rendered)
    error_v2_code: str = ""
    error_message: str = ""
    request_id: str = ""
    trigger: str = "schedule"  # schedule | catch-up | manual
    missed: int = 0  # MISSED: slots missed in a row, this one included
    job_id: str = ""

    def to_dict(self) -> dict[str, Any]:
        return _shallow(self)


def _shallow(doc: Any) -> dict[str, Any]:
    return {f.name: getattr(doc, f.name) for f in fields(doc)}


# -- cron ----------------------------------------------------------------------------------------------------------
_NAMES = {3: ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"],
          4: ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]}
_BOUNDS = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 7)]  # day-of-week: 0 and 7 are Sunday
_FIELD_NAMES = ["minute", "hour", "day-of-month", "month", "day-of-week"]
_ATOM = re.compile(r"^(\*|[0-9A-Z]+(?:-[0-9A-Z]+)?)(?:/([0-9]+))?$")


@dataclass(frozen=True)
class Cron:
    fields: tuple[str, ...]  # normalised: upper case, single spaces

    @property
    def text(self) -> str:
        return " ".join(self.fields)


def _value(token: str, index: int) -> int:
    names = _NAMES.get(index)
    if names and token in names:
        return names.index(token) + (1 if index == 3 else 0)
    if not token.isdigit():
        raise ValueError(f"'{token}' is not a number{' or name' if names else ''}")
    low, high = _BOUNDS[index]
    number = int(token)
    if not low <= number <= high:
        raise ValueError(f"{number} is outside {low}-{high}")
    return number


def _expand(text: str, index: int) -> list[int]:
    """The values a field selects (day-of-week 7 folds to 0)."""
    low, high = _BOUNDS[index]
    values: set[int] = set()
    for part in text.split(","):
        match = _ATOM.match(part)
        if not match:
            raise ValueError(f"'{part}' is not *, a number, a range or a list, with an optional /step")
        base, step_text = match.groups()
        step = int(step_text) if step_text else 1
        if step < 1:
            raise ValueError("a step must be at least 1")
        if base == "*":
            start, end = low, (6 if index == 4 else high)
        elif "-" in base:
            start, end = (_value(t, index) for t in base.split("-"))
            if start > end:
                raise ValueError(f"range {base} runs backwards")
        else:
            start = _value(base, index)
            end = start if not step_text else (6 if index == 4 else high)
        values.update(v % 7 if index == 4 else v for v in range(start, end + 1, step))
    return sorted(values)


def parse_cron(expression: Any, field_name: str = "cronExpression") -> Cron:
    """A 5-field cron expression, checked; ScheduleInvalid naming ``field_name`` otherwise."""
    if not isinstance(expression, str) or not expression.strip():
        raise invalid(field_name, "a cron expression is required (minute hour day-of-month month day-of-week)")
    if len(expression) > CRON_MAX:
        raise invalid(field_name, f"at most {CRON_MAX} characters")
    parts = tuple(expression.upper().split())
    if len(parts) == 6:
        raise invalid(field_name, "6 fields given: seconds (or years) are not supported; a schedule runs at most "
                                  "once a minute (minute hour day-of-month month day-of-week)")
    if len(parts) != 5:
        raise invalid(field_name, f"expected 5 fields (minute hour day-of-month month day-of-week), got "
                                  f"{len(parts)}")
    for index, text in enumerate(parts):
        try:
            _expand(text, index)
        except ValueError as exc:
            raise invalid(field_name, f"{_FIELD_NAMES[index]} field: {exc}") from None
    if parts[2] != "*" and parts[4] != "*":
        raise invalid(field_name, "restrict day-of-month or day-of-week, not both (give * for one of them)")
    if not croniter.is_valid(" ".join(parts)):
        raise invalid(field_name, "not a valid cron expression")
    try:  # 30 2 ... (February 30th) is well-formed but never fires
        croniter(" ".join(parts), datetime(2024, 1, 1), max_years_between_matches=8).get_next(datetime)
    except Exception:
        raise invalid(field_name, "never matches a date") from None
    return Cron(parts)


@lru_cache(maxsize=1024)
def zone(name: str) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(name)


def parse_time_zone(name: Any, field_name: str = "timeZone") -> str:
    if name is None or name == "":
        return DEFAULT_TIME_ZONE
    if not isinstance(name, str) or name not in _zone_names():
        raise invalid(field_name, f"{name!r} is not an IANA time zone name (e.g. Europe/Berlin, Etc/UTC)")
    return name


@lru_cache(maxsize=1)
def _zone_names() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def check_payload(payload: Any, field_name: str = "invocationBody.payload") -> Any:
    text = payload if isinstance(payload, str) else json.dumps(payload, separators=(",", ":"))
    if len(text) > PAYLOAD_MAX:
        raise invalid(field_name, f"at most {PAYLOAD_MAX} characters (got {len(text)})")
    return payload


def _exists(wall: datetime, tz: zoneinfo.ZoneInfo) -> bool:
    local = wall.replace(tzinfo=tz, fold=0)
    return local.astimezone(UTC).astimezone(tz).replace(tzinfo=None) == wall


@lru_cache(maxsize=4096)
def _iterator(cron: str, thread: int) -> croniter:
    """A parsed expression, reused (parsing costs more than finding the next slot); one per thread, as it is
    stateful."""
    return croniter(cron, datetime(2000, 1, 1), ret_type=datetime)


def next_due(cron: str, time_zone: str, after: float) -> float:
    """The first slot strictly after ``after`` (epoch s), as EventBridge Scheduler runs it (see the module doc)."""
    tz = zone(time_zone)
    wall = datetime.fromtimestamp(after, tz).replace(tzinfo=None)
    it = _iterator(cron, threading.get_ident())
    it.set_current(wall)
    for _ in range(100_000):  # a repeated hour of minutely slots is ~60 steps; a skipped one a few
        candidate: datetime = it.get_next(datetime)
        if not _exists(candidate, tz):
            continue
        due = candidate.replace(tzinfo=tz, fold=0).timestamp()
        if due > after:
            return due
    raise ValueError(f"no slot of {cron!r} after {after}")


def slots_between(cron: str, time_zone: str, after: float, until: float, limit: int) -> list[float]:
    """Slots in (after, until], at most ``limit``."""
    out: list[float] = []
    at = after
    while len(out) < limit:
        at = next_due(cron, time_zone, at)
        if at > until:
            break
        out.append(at)
    return out


# -- AWS ----------------------------------------------------------------------------------------------------------
def _ranges(values: list[int]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for v in values:
        if out and out[-1][1] == v - 1:
            out[-1] = (out[-1][0], v)
        else:
            out.append((v, v))
    return out


def _aws_field(text: str, index: int) -> str:
    if text == "*":
        return "*"
    if index == 4:  # AWS numbers days 1-7 from Sunday; names say the same without the off-by-one
        days = _expand(text, 4)
        return ",".join(_NAMES[4][a] if a == b else f"{_NAMES[4][a]}-{_NAMES[4][b]}" for a, b in _ranges(days))
    match = _ATOM.match(text)
    if match and match.group(1) == "*" and match.group(2):  # */n: AWS writes the start (0/n, 1/n)
        return f"{_BOUNDS[index][0]}/{match.group(2)}"
    if "/" in text:  # other steps become the list they select
        return ",".join(str(a) if a == b else f"{a}-{b}" for a, b in _ranges(_expand(text, index)))
    return text


def aws_cron(expression: str) -> str:
    """``cron(...)`` for EventBridge Scheduler: 6 fields with a year, and ``?`` in the unrestricted day field."""
    fields_ = parse_cron(expression).fields
    out = [_aws_field(text, index) for index, text in enumerate(fields_)]
    if fields_[4] == "*":
        out[4] = "?"
    else:
        out[2] = "?"
    return f"cron({' '.join(out)} *)"


def to_epoch(iso: str) -> float:
    """An ISO-8601 time (EventBridge's ``2026-11-27T10:00:00Z``) as epoch s."""
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def iso(at: float | None) -> str | None:
    if at is None:
        return None
    moment = datetime.fromtimestamp(at, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


__all__ = ["FAILED", "Cron", "Run", "RunStatus", "Schedule", "ScheduleInvalid", "aws_cron", "check_payload",
           "iso", "next_due", "parse_cron", "parse_time_zone", "slots_between", "to_epoch"]
