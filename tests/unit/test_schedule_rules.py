"""The cron rules of domain/schedules.py: what is accepted, AWS's form of every supported shape, and slots in time
zones across daylight-saving changes (EventBridge Scheduler's rules: a skipped time is skipped, a repeated one
runs once)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from chalicelib.domain.schedules import (
    ScheduleInvalid,
    aws_cron,
    check_payload,
    next_due,
    parse_cron,
    parse_time_zone,
    slots_between,
)

TRANSLATIONS = [  # 5-field cron → EventBridge Scheduler's cron(min hour day-of-month month day-of-week year)
    ("* * * * *", "cron(* * * * ? *)"),
    ("*/5 * * * *", "cron(0/5 * * * ? *)"),
    ("0 */2 * * *", "cron(0 0/2 * * ? *)"),
    ("15 10 * * *", "cron(15 10 * * ? *)"),
    ("0,30 8-18 * * *", "cron(0,30 8-18 * * ? *)"),
    ("0-30/10 * * * *", "cron(0,10,20,30 * * * ? *)"),
    ("5/20 * * * *", "cron(5,25,45 * * * ? *)"),
    ("0 0 1 * *", "cron(0 0 1 * ? *)"),
    ("0 12 */2 * *", "cron(0 12 1/2 * ? *)"),
    ("0 0 1,15 * *", "cron(0 0 1,15 * ? *)"),
    ("0 0 1 1 *", "cron(0 0 1 1 ? *)"),
    ("0 0 1 */3 *", "cron(0 0 1 1/3 ? *)"),
    ("0 0 * jan,JUL *", "cron(0 0 * JAN,JUL ? *)"),
    ("0 0 1 JAN-MAR *", "cron(0 0 1 JAN-MAR ? *)"),
    ("0 9 * * 1-5", "cron(0 9 ? * MON-FRI *)"),
    ("0 9 * * MON-FRI", "cron(0 9 ? * MON-FRI *)"),
    ("0 9 * * 0", "cron(0 9 ? * SUN *)"),
    ("0 9 * * 7", "cron(0 9 ? * SUN *)"),
    ("0 9 * * 5-7", "cron(0 9 ? * SUN,FRI-SAT *)"),
    ("0 9 * * sat,sun", "cron(0 9 ? * SUN,SAT *)"),
    ("0 9 * * */2", "cron(0 9 ? * SUN,TUE,THU,SAT *)"),
    ("0 9 * * 1,3,5", "cron(0 9 ? * MON,WED,FRI *)"),
]


@pytest.mark.parametrize(("cron", "aws"), TRANSLATIONS)
def test_cron_translates_to_aws_form(cron, aws):
    assert aws_cron(cron) == aws


@pytest.mark.parametrize("cron", [c for c, _ in TRANSLATIONS])
def test_every_translated_form_is_one_croniter_accepts(cron):
    parse_cron(cron)
    assert next_due(cron, "Etc/UTC", 1_700_000_000.0) > 1_700_000_000.0


REJECTED = [
    ("* * * * * *", "6 fields given"), ("*/30 * * * * *", "6 fields given"), ("* * * *", "expected 5 fields"),
    ("60 * * * *", "minute field: 60 is outside 0-59"), ("* 24 * * *", "hour field: 24 is outside 0-23"),
    ("* * 0 * *", "day-of-month field: 0 is outside 1-31"), ("* * * 13 *", "month field: 13 is outside 1-12"),
    ("* * * * 8", "day-of-week field: 8 is outside 0-7"), ("0 0 1 * 1", "not both"),
    ("0 0 L * *", "'L' is not a number"), ("0 0 ? * *", "'?' is not"), ("0 0 * * 1#2", "'1#2' is not"),
    ("5-1 * * * *", "runs backwards"), ("*/0 * * * *", "a step must be at least 1"), ("", "required"),
    ("@hourly", "expected 5 fields"), ("0 0 31 2 *", "never"),
]


@pytest.mark.parametrize(("cron", "reason"), REJECTED)
def test_unsupported_cron_is_rejected_with_the_reason(cron, reason):
    with pytest.raises(ScheduleInvalid) as exc:
        parse_cron(cron)
    assert exc.value.message.startswith("cronExpression: ") and reason in exc.value.message


def test_time_zones_are_iana_names_defaulting_to_utc():
    assert parse_time_zone(None) == parse_time_zone("") == "Etc/UTC"
    assert parse_time_zone("America/New_York") == "America/New_York"
    for bad in ("EST5EDT+1", "Europe/Nowhere", 5, "utc "):
        with pytest.raises(ScheduleInvalid):
            parse_time_zone(bad)


def test_payload_limit_counts_json_characters():
    assert check_payload("x" * 8000) == "x" * 8000
    with pytest.raises(ScheduleInvalid):
        check_payload(["x" * 7997])  # 8001 characters as JSON text


def _slots(cron, tz, start, n):
    zone, at, out = ZoneInfo(tz), datetime(*start, tzinfo=ZoneInfo(tz)).timestamp(), []
    for _ in range(n):
        at = next_due(cron, tz, at)
        out.append(datetime.fromtimestamp(at, zone).isoformat())
    return out


DST = [  # (cron, zone, start (local), expected slots in local time with their offset)
    # spring forward in Berlin (2026-03-29 02:00 → 03:00): 02:30 does not exist that day and is skipped
    ("30 2 * * *", "Europe/Berlin", (2026, 3, 28, 12), ["2026-03-30T02:30:00+02:00", "2026-03-31T02:30:00+02:00"]),
    # ... and a time just after the gap runs as usual
    ("30 3 * * *", "Europe/Berlin", (2026, 3, 28, 12), ["2026-03-29T03:30:00+02:00", "2026-03-30T03:30:00+02:00"]),
    # every 30 minutes across the gap: 01:30 (CET), then straight to 03:00 (CEST)
    ("*/30 * * * *", "Europe/Berlin", (2026, 3, 29, 1, 0),
     ["2026-03-29T01:30:00+01:00", "2026-03-29T03:00:00+02:00", "2026-03-29T03:30:00+02:00"]),
    # fall back in Berlin (2026-10-25 03:00 CEST → 02:00 CET): 02:30 happens twice and runs once, the first time
    ("30 2 * * *", "Europe/Berlin", (2026, 10, 24, 12), ["2026-10-25T02:30:00+02:00", "2026-10-26T02:30:00+01:00"]),
    ("0 * * * *", "Europe/Berlin", (2026, 10, 25, 0, 30),
     ["2026-10-25T01:00:00+02:00", "2026-10-25T02:00:00+02:00", "2026-10-25T03:00:00+01:00"]),
    # New York: 9:00 stays 9:00 local across the change (13:00 UTC → 14:00 UTC)
    ("0 9 * * *", "America/New_York", (2026, 10, 31, 12), ["2026-11-01T09:00:00-05:00", "2026-11-02T09:00:00-05:00"]),
    ("0 9 * * *", "America/New_York", (2026, 3, 7, 12), ["2026-03-08T09:00:00-04:00", "2026-03-09T09:00:00-04:00"]),
    # UTC has no changes
    ("30 2 * * *", "Etc/UTC", (2026, 3, 28, 12), ["2026-03-29T02:30:00+00:00", "2026-03-30T02:30:00+00:00"]),
]


@pytest.mark.parametrize(("cron", "tz", "start", "expected"), DST)
def test_slots_across_daylight_saving_changes(cron, tz, start, expected):
    assert _slots(cron, tz, start, len(expected)) == expected


def test_slots_between_counts_each_slot_once_and_stops_at_the_limit():
    start = datetime(2026, 1, 1, tzinfo=ZoneInfo("Etc/UTC")).timestamp()
    assert len(slots_between("* * * * *", "Etc/UTC", start, start + 600, 1000)) == 10
    assert len(slots_between("* * * * *", "Etc/UTC", start, start + 6000, 25)) == 25
