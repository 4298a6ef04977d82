"""Reports through the routes, in both dialects, as lpf get account / lpf metrics and the Home page read them."""

from __future__ import annotations

import pytest

from chalicelib.services.stats import STATUSES
from tests.api.conftest import body
from tests.api.scripted import BASE, deployed, invoke, scripted_api
from tests.conftest import ACCOUNT

MONTH_START = 1_767_225_600  # 2026-01-01T00:00:00Z
HOUR = 3600


@pytest.fixture
def api(make_services, clock):
    with scripted_api(make_services, clock) as built:
        yield built


def _at(clock, seconds_into_month: float) -> None:
    clock.t = MONTH_START + seconds_into_month


def _flush(api) -> None:
    api.services.recorder.flush()


def test_limit_and_lambda_counts_as_lpf_get_account_reads_them(api):
    deployed(api, "one")
    api.dev("POST", f"{BASE}/functions", {"name": "draft"})
    assert body(api.dev("GET", f"{BASE}/reports/limitCounts?userId=u&v=1")) == {
        "limitTotalLambdas": 50, "limitDeployedLambdas": 50, "invocationLimitPerMonth": 150000}
    assert body(api.dev("GET", f"{BASE}/reports/lambdaCounts?userId=u&v=1")) == {
        "accountId": ACCOUNT, "total": 2, "deployed": 1}


def test_invocation_counts_v1_object_and_v2_array_over_a_window_exact_to_5_minutes(api, clock):
    # GIVEN invocations on the 1st (2 ok, 1 failed), the 2nd at 10:00 (1 ok) and the 3rd at 23:00 (1 failed)
    _at(clock, 600)
    uuid = deployed(api)
    for fail in ("", "", "x"):
        invoke(api, uuid, [], fail=fail)
    _at(clock, 86_400 + 10 * HOUR)
    invoke(api, uuid, [])
    _at(clock, 2 * 86_400 + 23 * HOUR)
    invoke(api, uuid, [], fail="timeout")
    _flush(api)
    start, end = MONTH_START * 1000, (MONTH_START + 3 * 86_400) * 1000
    # WHEN lpf asks for the month so far (V1)
    v1 = body(api.dev("GET", f"{BASE}/reports/invocationCounts?userId=u&v=1&startTimestamp={start}"
                             f"&endTimestamp={end}"))
    # THEN one object with both counts
    assert v1 == {"accountId": ACCOUNT, "successfulInvocations": 3, "unsuccessfulInvocations": 2}
    # AND V2 gives an array whose items the CLI sums
    v2 = body(api.dev("GET", f"{BASE}/reports/invocationCounts?startTimestamp={start}&endTimestamp={end}"))
    assert v2 == [{"functionUuid": uuid, "successfulInvocations": 3, "failedInvocations": 2,
                   "byStatus": {"SUCCEEDED": 3, "CODING_FAILURE": 1, "TIMEOUT": 1}}]
    # AND a window cut inside days counts only what falls in it (day 1 from 00:05, day 2 until 12:00)
    part = body(api.dev("GET", f"{BASE}/reports/invocationCounts?v=1&startTimestamp={start + 300_000}"
                               f"&endTimestamp={start + (86_400 + 12 * HOUR) * 1000}"))
    assert (part["successfulInvocations"], part["unsuccessfulInvocations"]) == (3, 1)
    late = body(api.dev("GET", f"{BASE}/reports/invocationCounts?v=1&startTimestamp={start + 86_400_000 + 1}"
                               f"&endTimestamp={end}"))
    assert (late["successfulInvocations"], late["unsuccessfulInvocations"]) == (1, 1)


def test_invocation_buckets_as_lpf_metrics_asks_with_bucket_size_in_seconds(api, clock):
    # GIVEN invocations at 00:01, 00:07 (x2, one failing) and 00:58
    _at(clock, 60)
    uuid = deployed(api)
    invoke(api, uuid, [])
    _at(clock, 7 * 60)
    invoke(api, uuid, [])
    invoke(api, uuid, [], fail="x")
    _at(clock, 58 * 60)
    invoke(api, uuid, [])
    _flush(api)
    start = MONTH_START * 1000
    query = (f"userId=u&v=1&startTimestamp={start}&endTimestamp={start + HOUR * 1000}&bucketSize=300"
             "&invocationStates=UNKOWN&invocationStates=SUCCEEDED&invocationStates=CODING_FAILURE"
             "&invocationStates=PLATFORM_FAILURE&invocationStates=TIMEOUT")
    res = api.dev("GET", f"{BASE}/reports/invocations/{uuid}?{query}")
    stats = body(res)["invocationStatistics"]
    assert res.status_code == 200 and len(stats) == 12  # of 5 minutes; the last holds the end instant too
    assert stats[0] == {"from": start, "to": start + 300_000, "SUCCEEDED": 1, "CODING_FAILURE": 0,
                        "PLATFORM_FAILURE": 0, "TIMEOUT": 0, "UNKOWN": 0}
    assert (stats[1]["SUCCEEDED"], stats[1]["CODING_FAILURE"]) == (1, 1)
    assert stats[11]["SUCCEEDED"] == 1 and sum(b["SUCCEEDED"] for b in stats) == 3
    hourly = body(api.dev("GET", f"{BASE}/reports/invocations/{uuid}?startTimestamp={start}"
                                 f"&endTimestamp={start + 7 * 86_400_000}&bucketSize=3600"))["invocationStatistics"]
    assert len(hourly) == 168 and hourly[0]["SUCCEEDED"] == 3 and hourly[0]["CODING_FAILURE"] == 1
    for size in ("86400", "86400000"):  # seconds as lpf sends them, or ms
        daily = body(api.dev("GET", f"{BASE}/reports/invocations/{uuid}?startTimestamp={start}"
                                    f"&endTimestamp={start + 7 * 86_400_000}&bucketSize={size}"))
        assert [b["to"] - b["from"] for b in daily["invocationStatistics"]] == [86_400_000] * 7


@pytest.mark.parametrize(("query", "status"), [
    ("startTimestamp=0&endTimestamp=3000000000&bucketSize=86400", 400),  # over 30 days
    ("startTimestamp=10&endTimestamp=5&bucketSize=300", 400),
    ("startTimestamp=0&endTimestamp=3600000&bucketSize=1", 400),
    ("startTimestamp=x", 400),
])
def test_bad_metric_queries_are_refused(api, query, status):
    uuid = deployed(api)
    assert api.dev("GET", f"{BASE}/reports/invocations/{uuid}?{query}").status_code == status


def test_metrics_of_an_unknown_function_are_404(api):
    res = api.dev("GET", f"{BASE}/reports/invocations/00000000-0000-4000-8000-000000000000?v=1")
    assert res.status_code == 404 and body(res)["errorCode"] == "com.liveperson.faas.es.missinglambda"


def test_home_figures_this_month(api, clock):
    _at(clock, 600)
    one, two = deployed(api, "one"), deployed(api, "two")
    api.dev("POST", f"{BASE}/functions", {"name": "draft"})
    for _ in range(3):
        invoke(api, one, [])
    invoke(api, two, [], fail="x")
    _flush(api)
    home = body(api.call("GET", f"{BASE}/reports/home", api.creds["invocationToken"]))
    assert home["functions"] == {"total": 3, "byState": {"Productive": 2, "Draft": 1}}
    assert (home["invocations"], home["errors"]) == (4, 1)
    assert set(home["byStatus"]) == set(STATUSES) and home["p50Ms"] is not None and home["p99Ms"] >= home["p50Ms"]
    per = {f["name"]: f for f in home["perFunction"]}
    assert (per["one"]["invocations"], per["one"]["errors"], per["two"]["errors"]) == (3, 0, 1)
    assert per["draft"]["invocations"] == 0 and per["draft"]["p50Ms"] is None
    assert home["gatewayRequests"]["requests"] >= 7 and home["gatewayRequests"]["outcomes"]["ok"] >= 6


def test_reports_are_readable_by_every_role_but_not_an_app_key(api):
    for token in (api.creds["adminToken"], api.creds["developerToken"], api.creds["invocationToken"]):
        assert api.call("GET", f"{BASE}/reports/lambdaCounts?v=1", token).status_code == 200
    app_token = api.services.identity.app_token(ACCOUNT, api.creds["clientId"], api.creds["clientSecret"])
    assert api.call("GET", f"{BASE}/reports/lambdaCounts?v=1", app_token["access_token"]).status_code == 403
