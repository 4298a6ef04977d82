"""Function logs through the routes: what is kept, search filters and pages, export formats, retention."""

from __future__ import annotations

import csv
import gzip
import io
import json
from typing import Any

import pytest

from chalicelib.api.logs import body_of
from chalicelib.storage.base import Query
from tests.api.conftest import Api, body
from tests.api.scripted import BASE, deployed, invoke, scripted_api
from tests.conftest import ACCOUNT

DAY_MS = 86_400_000


@pytest.fixture
def api(make_services, clock):
    with scripted_api(make_services, clock) as built:
        yield built


def search(api: Api, query: str, token: str | None = None) -> Any:
    api.services.recorder.flush()
    now = int(api.services.clock.now() * 1000)
    res = api.call("GET", f"{BASE}/logs?startTimestamp={now - DAY_MS}&endTimestamp={now}&{query}",
                   token or api.creds["developerToken"])
    return res.status_code, body(res)


def test_what_a_function_logs_is_kept_with_its_request_id_function_level_and_time(api, clock):
    # GIVEN a function invoked with logs of every level, and a test invocation
    uuid = deployed(api)
    invoke(api, uuid, [["Debug", "dbg"], ["Info", "hello", [{"k": 1}]], ["Warn", "careful"], ["Error", "bad"]],
           rid="rid-1")
    invoke(api, uuid, [["Info", "from a test run"]], rid="rid-test", test=True)
    # WHEN searching the function's logs, oldest first
    status, found = search(api, f"lambdaUUID={uuid}&order=asc")
    # THEN the stored entries are those of the real invocation, without Debug
    assert status == 200 and found["cursor"] == ""
    assert [(e["level"], e["message"]) for e in found["logs"]] == [("Info", "hello"), ("Warn", "careful"),
                                                                    ("Error", "bad")]
    first = found["logs"][0]
    assert first == {"functionUuid": uuid, "requestId": "rid-1", "level": "Info", "message": "hello",
                     "extras": [{"k": 1}], "timestamp": int(clock.now() * 1000), "invocationStatus": "SUCCEEDED"}


def test_the_log_limit_error_is_stored_as_the_one_error_entry_of_a_failed_invocation(api):
    uuid = deployed(api)
    assert invoke(api, uuid, [["Info", "x"]] * 11, fail="log-limit", rid="over") == 901
    _, found = search(api, f"lambdaUUID={uuid}")
    assert [(e["level"], e["message"], e["invocationStatus"]) for e in found["logs"]] == \
        [("Error", "log limit reached", "CODING_FAILURE")]
    record = api.services.store.query(Query("invocation", f"{ACCOUNT}#{uuid}"))[0].data
    assert record["error_code"] == "com.liveperson.faas.handler.log-limit-reached"


def test_a_timeout_is_recorded_as_timeout(api):
    uuid = deployed(api)
    invoke(api, uuid, [["Info", "slow"]], fail="timeout")
    _, found = search(api, f"lambdaUUID={uuid}")
    assert found["logs"][0]["invocationStatus"] == "TIMEOUT"


@pytest.mark.parametrize(("query", "expected"), [
    ("filterLevels=Error", ["boom", "other error"]),
    ("filterLevels=Warn&filterLevels=Error", ["careful", "boom", "other error"]),
    ("filterLevels=Info,Warn", ["hello", "careful", "second run"]),
    ("requestId=rid-b", ["second run", "other error"]),
    ("text=BOO", ["boom"]),
    ("text=needle", ["careful"]),  # found in the extras
    ("requestId=rid-a&filterLevels=Error", ["boom"]),
])
def test_every_search_filter(api, clock, query, expected):
    uuid = deployed(api)
    invoke(api, uuid, [["Info", "hello"], ["Warn", "careful", ["a needle here"]], ["Error", "boom"]], rid="rid-a")
    clock.advance(1)
    invoke(api, uuid, [["Info", "second run"], ["Error", "other error"]], rid="rid-b")
    status, found = search(api, f"lambdaUUID={uuid}&order=asc&{query}")
    assert status == 200
    assert [e["message"] for e in found["logs"]] == expected


def test_search_by_time_window_and_function(api, clock):
    # GIVEN two functions with logs an hour apart
    one, two = deployed(api, "one"), deployed(api, "two")
    invoke(api, one, [["Info", "early one"]])
    early = int(clock.now() * 1000)
    clock.advance(3600)
    invoke(api, two, [["Info", "late two"]])
    invoke(api, one, [["Info", "late one"]])
    api.services.recorder.flush()
    now = int(clock.now() * 1000)

    def messages(query: str) -> list[str]:
        res = api.dev("GET", f"{BASE}/logs?{query}")
        assert res.status_code == 200, res.body
        return [e["message"] for e in body(res)["logs"]]

    # THEN the window bounds are inclusive, a function narrows it, and no function means all of them
    assert messages(f"startTimestamp={early}&endTimestamp={early}") == ["early one"]
    assert sorted(messages(f"startTimestamp={early + 1}&endTimestamp={now}")) == ["late one", "late two"]
    assert messages(f"startTimestamp={early}&endTimestamp={now}&lambdaUUID={one}") == ["late one", "early one"]
    assert messages(f"startTimestamp={early}&endTimestamp={now}&lambdaUUID={one}&lambdaUUID={two}&order=asc")[0] \
        == "early one"


def test_pages_follow_the_cursor_without_gaps_or_repeats_in_both_orders(api, clock):
    # GIVEN 3 functions logging 25 entries in all, some at the same millisecond
    uuids = [deployed(api, f"p{i}") for i in range(3)]
    made = []
    for i in range(25):
        if i % 4 == 0:
            clock.advance(0.5)
        invoke(api, uuids[i % 3], [["Info", f"m{i:02d}"]])
        made.append(f"m{i:02d}")
    api.services.recorder.flush()
    now = int(clock.now() * 1000)
    for order in ("asc", "desc"):
        # WHEN reading pages of 10 in each order
        seen, stamps, cursor, pages = [], [], "", 0
        while True:
            res = api.dev("GET", f"{BASE}/logs?startTimestamp={now - DAY_MS}&endTimestamp={now}&limit=10"
                                 f"&order={order}&cursor={cursor}")
            page = body(res)
            seen += [e["message"] for e in page["logs"]]
            stamps += [e["timestamp"] for e in page["logs"]]
            pages += 1
            cursor = page["cursor"]
            if not cursor:
                break
        # THEN every entry comes once, in time order, in 3 pages
        assert pages == 3 and sorted(seen) == made and len(set(seen)) == 25
        assert stamps == sorted(stamps, reverse=order == "desc")


@pytest.mark.parametrize(("query", "status"), [
    ("startTimestamp=0&endTimestamp=604800001", 400),  # over 7 days
    ("endTimestamp=1000", 400),  # no start
    ("startTimestamp=abc", 400),
    ("startTimestamp=10&endTimestamp=5", 400),
    ("startTimestamp=0&endTimestamp=1000&filterLevels=Verbose", 400),
    ("startTimestamp=0&endTimestamp=1000&cursor=garbage", 400),
    ("startTimestamp=0&endTimestamp=1000&limit=0", 400),
    ("startTimestamp=0&endTimestamp=1000&lambdaUUID=00000000-0000-4000-8000-000000000000", 404),
])
def test_bad_searches_are_refused_with_the_spec_codes(api, query, status):
    res = api.dev("GET", f"{BASE}/logs?{query}")
    assert res.status_code == status
    assert body(res)["code"] in ("com.liveperson.faas.evg.invalid", "com.liveperson.faas.function.not-found")


def test_every_role_reads_logs_but_an_app_key_and_another_account_do_not(api):
    deployed(api)
    for token in (api.creds["adminToken"], api.creds["developerToken"], api.creds["invocationToken"]):
        assert search(api, "", token)[0] == 200
    app_token = api.services.identity.app_token(ACCOUNT, api.creds["clientId"], api.creds["clientSecret"])
    assert search(api, "", app_token["access_token"])[0] == 403
    assert search(api, "", api.other["developerToken"])[0] == 403  # a token of another account


def _export(api: Api, path: str) -> Any:
    api.services.recorder.flush()
    return api.call("GET", path, api.creds["developerToken"])


def test_v1_export_is_csv_with_a_header_line_exactly_as_lpf_prints_it(api, clock):
    # GIVEN logs with commas, quotes, new lines and non-string messages
    uuid = deployed(api)
    clock.t = 1_767_225_600.25  # 2026-01-01T00:00:00.250Z
    invoke(api, uuid, [["Info", "plain"], ["Warn", 'say "hi", then\nbye', ["x", 1]], ["Error", {"n": 1}]],
           rid="r-1")
    start, end = 1_767_225_600_000, 1_767_225_601_000
    # WHEN exported the way lpf asks (userId first, v=1, filterLevels repeated)
    res = _export(api, f"{BASE}/logs/export?userId=u&v=1&lambdaUUID={uuid}&startTimestamp={start}"
                       f"&endTimestamp={end}&filterLevels=Info&filterLevels=Warn&filterLevels=Error")
    # THEN it is this text, byte for byte
    assert res.status_code == 200 and res.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert res.body.decode() == (
        "timestamp,level,message,extras,requestId,functionUuid\n"
        f"2026-01-01T00:00:00.250Z,Info,plain,[],r-1,{uuid}\n"
        f"2026-01-01T00:00:00.250Z,Warn,\"say \"\"hi\"\", then\nbye\",\"[\"\"x\"\", 1]\",r-1,{uuid}\n"
        f"2026-01-01T00:00:00.250Z,Error,\"{{\"\"n\"\": 1}}\",[],r-1,{uuid}\n")
    rows = list(csv.reader(io.StringIO(res.body.decode())))
    assert rows[2][2] == 'say "hi", then\nbye' and json.loads(rows[2][3]) == ["x", 1]
    # AND the level filter applies
    only = _export(api, f"{BASE}/logs/export?v=1&lambdaUUID={uuid}&startTimestamp={start}&endTimestamp={end}"
                        "&filterLevels=Error")
    assert only.body.decode().count("\n") == 2


def test_export_on_the_v2_path_and_as_json_lines(api, clock):
    uuid = deployed(api)
    for i in range(50):
        invoke(api, uuid, [["Info", f"line {i}"]])
    now = int(clock.now() * 1000)
    plain = _export(api, f"{BASE}/functions/{uuid}/logs/export?startTimestamp={now - 1000}&endTimestamp={now}")
    assert plain.body.decode().count("\n") == 51 and "Content-Encoding" not in plain.headers
    lines = _export(api, f"{BASE}/logs/export?v=1&lambdaUUID={uuid}&startTimestamp={now - 1000}"
                         f"&endTimestamp={now}&format=jsonl")
    entries = [json.loads(line) for line in lines.body.decode().splitlines()]
    assert sorted(e["message"] for e in entries) == sorted(f"line {i}" for i in range(50))
    assert entries[0]["time"].endswith("Z") and entries[0]["functionUuid"] == uuid


def test_a_gzipped_export_is_the_same_text_compressed_as_it_is_written():
    chunks = [f"row {i}\n" * 1000 for i in range(20)]
    packed = body_of(iter(chunks), gzip=True)
    assert isinstance(packed, bytes) and gzip.decompress(packed).decode() == "".join(chunks)
    assert len(packed) < len("".join(chunks)) / 20


def test_export_needs_a_function_and_a_start(api):
    assert _export(api, f"{BASE}/logs/export?v=1&startTimestamp=0").status_code == 400
    res = _export(api, f"{BASE}/logs/export?v=1&lambdaUUID={deployed(api)}")
    assert res.status_code == 400 and "errorCode" in body(res)


def test_logs_are_kept_30_days_then_hidden_and_purged(api, clock):
    # GIVEN an invocation's logs
    uuid = deployed(api)
    invoke(api, uuid, [["Info", "old"]])
    api.services.recorder.flush()
    logged_ms = int(clock.now() * 1000)
    # WHEN 29 days pass, they are still there; after 30 days they are neither found nor exported
    clock.advance(29 * 86_400)
    assert api.services.purger.purge_once() == 0
    query = f"startTimestamp={logged_ms}&endTimestamp={logged_ms + 1}&lambdaUUID={uuid}"
    assert len(body(api.dev("GET", f"{BASE}/logs?{query}"))["logs"]) == 1
    clock.advance(1 * 86_400 + 1)
    assert body(api.dev("GET", f"{BASE}/logs?{query}"))["logs"] == []
    assert _export(api, f"{BASE}/logs/export?v=1&{query}").body.decode().count("\n") == 1
    # AND the purge removes the record itself
    assert api.services.purger.purge_once() == 1
    assert api.services.store.query(Query("invocation", f"{ACCOUNT}#{uuid}")) == []


@pytest.mark.parametrize("order", ["asc", "desc"])
def test_pages_over_many_reads_of_one_function(api, clock, order):
    # GIVEN 300 invocations of one function (more than the store reads at once), 2 entries each
    uuid = deployed(api)
    for i in range(300):
        clock.advance(0.002)  # a millisecond of its own each (entries of one millisecond order by request id)
        invoke(api, uuid, [["Info", f"a{i:03d}"], ["Warn", f"b{i:03d}"]])
    api.services.recorder.flush()
    now = int(clock.now() * 1000)
    seen, cursor = [], ""
    while True:
        page = body(api.dev("GET", f"{BASE}/logs?startTimestamp={now - DAY_MS}&endTimestamp={now}&limit=70"
                                   f"&order={order}&lambdaUUID={uuid}&cursor={cursor}"))
        seen += [e["message"] for e in page["logs"]]
        cursor = page["cursor"]
        if not cursor:
            break
    expected = [m for i in range(300) for m in (f"a{i:03d}", f"b{i:03d}")]
    assert seen == (expected if order == "asc" else expected[::-1])
