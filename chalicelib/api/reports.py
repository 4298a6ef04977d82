"""Reports (spec §3.2, §4.4) as `lpf get account` and `lpf metrics` read them, and the Home page's figures (ours)."""

from __future__ import annotations

from chalice import Blueprint, Response

from chalicelib.api._wire import Dialect, authenticate, dialect_of, json_response, query_value, route
from chalicelib.domain.errors import BadInput
from chalicelib.observability import GATEWAY_METRICS
from chalicelib.services.container import services
from chalicelib.services.reports import month_start_ms

bp = Blueprint(__name__)
BASE = "/api/account/{account_id}/reports"


def _ms(key: str, default: int) -> int:
    raw = query_value(bp.current_request, key)
    if not raw:
        return default
    try:
        return int(float(raw))
    except ValueError:
        raise BadInput(detail=f"'{key}' must be ms since the epoch") from None


@route(bp, BASE + "/limitCounts", ["GET"], tag="reports", summary="The account's limits (lpf get account)",
       responses={"200": "{limitTotalLambdas, limitDeployedLambdas, invocationLimitPerMonth}"})
def limit_counts(account_id: str) -> Response:
    who = authenticate(bp.current_request, account_id)
    return json_response(services().reports.limit_counts(who))


@route(bp, BASE + "/lambdaCounts", ["GET"], tag="reports", summary="Functions in all and deployed (lpf get account)",
       responses={"200": "{accountId, total, deployed}"})
def lambda_counts(account_id: str) -> Response:
    who = authenticate(bp.current_request, account_id)
    return json_response(services().reports.lambda_counts(who))


@route(bp, BASE + "/invocationCounts", ["GET"], tag="reports",
       summary="Invocations in [startTimestamp, endTimestamp] (default: this month): V1 one object, V2 one item "
               "per function", responses={"200": "V1 {accountId, successfulInvocations, unsuccessfulInvocations}; "
                                                 "V2 [{functionUuid, successfulInvocations, failedInvocations}]"})
def invocation_counts(account_id: str) -> Response:
    request = bp.current_request
    who = authenticate(request, account_id)
    now = services().clock.now()
    start, end = _ms("startTimestamp", month_start_ms(now)), _ms("endTimestamp", int(now * 1000))
    by_function = services().reports.counts_by_function(who, start, end)
    if dialect_of(request) is Dialect.V1:
        ok = sum(c.get("SUCCEEDED", 0) for c in by_function.values())
        total = sum(sum(c.values()) for c in by_function.values())
        return json_response({"accountId": account_id, "successfulInvocations": ok,
                              "unsuccessfulInvocations": total - ok})
    return json_response([{"functionUuid": uuid, "successfulInvocations": c.get("SUCCEEDED", 0),
                           "failedInvocations": sum(c.values()) - c.get("SUCCEEDED", 0), "byStatus": c}
                          for uuid, c in by_function.items()])


@route(bp, BASE + "/invocations/{uuid}", ["GET"], tag="reports",
       summary="A function's invocations by state in buckets: ?startTimestamp&endTimestamp (≤ 30 days)&bucketSize "
               "(300, 3600 or 86400 s; values above 86400 are ms) (lpf metrics)",
       responses={"200": "{invocationStatistics: [{from, to, SUCCEEDED, CODING_FAILURE, PLATFORM_FAILURE, TIMEOUT, "
                         "UNKOWN}]}"})
def invocation_buckets(account_id: str, uuid: str) -> Response:
    who = authenticate(bp.current_request, account_id)
    now_ms = int(services().clock.now() * 1000)
    end = _ms("endTimestamp", now_ms)
    start = _ms("startTimestamp", end - 3_600_000)
    size = _ms("bucketSize", 3600)
    # lpf sends seconds (300, 3600, 86400) though its comment says ms; ms sizes start at 300,000
    bucket_ms = size * 1000 if size <= 86_400 else size
    stats = services().reports.invocation_buckets(who, uuid, start, end, bucket_ms)
    return json_response({"invocationStatistics": stats})


@route(bp, BASE + "/home", ["GET"], tag="reports",
       summary="This month's figures for the Home page (ours): functions by state, invocations, errors, p50/p99 per "
               "function and account; this process's request figures", responses={
           "200": "{functions, invocations, errors, p50Ms, p99Ms, perFunction, gatewayRequests}"})
def home(account_id: str) -> Response:
    who = authenticate(bp.current_request, account_id)
    # the requests this gateway process has answered for the account (kept in the process; EMF on AWS)
    return json_response({**services().reports.home(who), "gatewayRequests": GATEWAY_METRICS.of(account_id)})
