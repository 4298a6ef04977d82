"""The gateway's own logs (Powertools JSON lines): the access line, deployment lines, correlation by request id,
per-account request figures, and no secret, token or function input in any line."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from chalicelib.observability import LOGGER, GatewayMetrics
from chalicelib.observability.access import outcome_of
from tests.api.conftest import body
from tests.api.scripted import BASE, deployed, invoke, scripted_api
from tests.conftest import ACCOUNT


class _Lines(logging.Handler):
    """Every line the gateway logs, formatted by the Powertools formatter, parsed back."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(LOGGER.registered_formatter)
        self.raw: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.raw.append(self.format(record))

    @property
    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(r) for r in self.raw]

    def access(self) -> list[dict[str, Any]]:
        return [line for line in self.lines if line["message"] == "request"]


@pytest.fixture
def lines() -> Iterator[_Lines]:
    handler = _Lines()
    loggers = [logging.getLogger(name) for name in ("fngate", "chalicelib", "")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.addHandler(handler)
        lg.setLevel(logging.DEBUG)
    yield handler
    for lg, level in zip(loggers, levels, strict=True):
        lg.removeHandler(handler)
        lg.setLevel(level)


@pytest.fixture
def api(make_services, clock):
    with scripted_api(make_services, clock) as built:
        yield built


def test_every_request_gets_one_access_line_with_its_fields(api, lines):
    # GIVEN a deployed function
    uuid = deployed(api)
    # WHEN it is invoked with a request id of the caller's
    res = api.dev("POST", f"{BASE}/lambdas/{uuid}/invoke?v=1", {"payload": {"logs": []}},
                  headers={"X-Request-ID": "req-42"})
    # THEN one access line names it, with the same request id as the answer
    assert res.headers["X-Request-ID"] == "req-42"
    line = [a for a in lines.access() if a.get("request_id") == "req-42"]
    assert len(line) == 1
    got = line[0]
    assert got["level"] == "INFO" and got["service"] == "fngate" and got["account"] == ACCOUNT
    assert (got["function"], got["route"], got["method"], got["status"], got["outcome"]) == \
        (uuid, "/api/account/{account_id}/lambdas/{uuid}/invoke", "POST", 200, "ok")
    assert isinstance(got["duration_ms"], float) and got["duration_ms"] >= 0 and "timestamp" in got


def test_failures_are_logged_with_their_error_code_and_level(api, lines):
    uuid = deployed(api)
    invoke(api, uuid, [], fail="boom")
    api.dev("GET", f"{BASE}/lambdas/00000000-0000-4000-8000-000000000000?v=1")
    api.call("GET", f"{BASE}/lambdas?v=1", token="not-a-token")
    failed, missing, denied = lines.access()[-3:]
    assert (failed["level"], failed["status"], failed["outcome"], failed["error_code"]) == \
        ("WARNING", 901, "function_failed", "com.liveperson.faas.handler.custom-failure")
    assert (missing["status"], missing["outcome"], missing["error_code"]) == \
        (404, "client_error", "com.liveperson.faas.es.missinglambda")
    assert (denied["status"], denied["outcome"]) == (401, "denied")


def test_deployments_are_logged_and_carry_the_request_id_that_started_them(api, lines):
    # GIVEN a function deployed (jobs run inline here, so within the request)
    fn = body(api.dev("POST", f"{BASE}/functions", {"name": "dep"}))
    res = api.dev("POST", f"{BASE}/deployments/{fn['uuid']}", headers={"X-Request-ID": "deploy-1"})
    assert res.status_code == 200
    # THEN a line says the deployment succeeded, correlated to the request
    deployed_line = [line for line in lines.lines if line["message"] == "deployment successful"]
    assert len(deployed_line) == 1
    got = deployed_line[0]
    assert (got["function"], got["deployment_state"], got["request_id"], got["level"]) == \
        (fn["uuid"], "successful", "deploy-1", "INFO")
    # AND a failed deployment is a warning with its cause
    api.services.executor.deploy = lambda target: (_ for _ in ()).throw(
        __import__("chalicelib.domain.errors", fromlist=["BuildFailed"]).BuildFailed(detail="syntax error"))
    other = body(api.dev("POST", f"{BASE}/functions", {"name": "dep2"}))
    api.dev("POST", f"{BASE}/deployments/{other['uuid']}")
    bad = [line for line in lines.lines if line["message"] == "deployment failed with an error"]
    assert len(bad) == 1 and bad[0]["level"] == "WARNING" and "syntax error" in bad[0]["error"]
    assert bad[0]["error_code"]


def test_no_secret_token_or_function_input_is_ever_logged(api, lines):
    # GIVEN requests that carry every kind of secret: bearer tokens, an app secret, a password, secret values,
    # function input and output
    marker_input, marker_secret, password = "INPUT-7f3a9c", "SECRET-VALUE-41be", "pw-S3cret-zz9"
    uuid = deployed(api)
    api.dev("POST", f"{BASE}/lambdas/{uuid}/invoke?v=1&userId=u1",
            {"payload": {"logs": [["Info", marker_input]], "card": marker_input}})
    invoke(api, uuid, [["Error", marker_input]], fail=marker_input)
    api.call("POST", f"{BASE}/secrets", api.creds["adminToken"], {"key": "k1", "value": marker_secret})
    api.call("PUT", f"{BASE}/secrets/k1", api.creds["adminToken"], {"key": "k1", "value": marker_secret})
    api.call("POST", f"/sentinel/api/account/{ACCOUNT}/app/token?v=2.0",
             raw=f"grant_type=client_credentials&client_id={api.creds['clientId']}"
                 f"&client_secret={api.creds['clientSecret']}",
             headers={"Content-Type": "application/x-www-form-urlencoded"})
    api.call("POST", f"/api/account/{ACCOUNT}/login?v=1.3", body={"username": "nobody", "password": password})
    api.call("GET", f"{BASE}/lambdas?v=1&token={api.creds['adminToken']}", api.creds["developerToken"])
    api.services.recorder.flush()
    # THEN the lines exist, and none of them holds any of it
    everything = "\n".join(lines.raw)
    assert len(lines.access()) >= 7
    for secret in (marker_input, marker_secret, password, api.creds["clientSecret"], api.creds["adminToken"],
                   api.creds["developerToken"], api.creds["invocationToken"]):
        assert secret not in everything
    assert "Bearer" not in everything and "authorization" not in everything.lower()


def test_request_figures_per_account():
    figures = GatewayMetrics(emf=False)
    for outcome, ms in (("ok", 1.0), ("ok", 3.0), ("function_failed", 2.0)):
        figures.record("acc", outcome, ms)
    got = figures.of("acc")
    assert got["requests"] == 3 and got["outcomes"] == {"ok": 2, "function_failed": 1}
    assert got["p50Ms"] is not None and figures.of("other")["requests"] == 0


def test_on_lambda_each_request_is_emitted_as_emf(capsys):
    GatewayMetrics(emf=True).record("acc", "ok", 1.5)
    emf = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    directives = emf["_aws"]["CloudWatchMetrics"][0]
    assert directives["Namespace"] == "fngate"
    assert {m["Name"] for m in directives["Metrics"]} == {"Requests", "Outcome_ok", "Duration"}
    assert emf["Requests"] in (1.0, [1.0]) and emf["Duration"] in (1.5, [1.5]) and emf["account"] == "acc"


@pytest.mark.parametrize(("status", "outcome"), [(200, "ok"), (304, "ok"), (400, "client_error"), (401, "denied"),
                                                 (403, "denied"), (429, "throttled"), (500, "server_error"),
                                                 (901, "function_failed")])
def test_outcome_of_a_status(status, outcome):
    assert outcome_of(status) == outcome


def test_the_access_line_sees_the_answer_as_it_leaves(api, lines):
    # a 405 that Chalice itself produces is rewritten by the error middleware; the access line sees the result
    res = api.dev("PATCH", f"{BASE}/lambdas?v=1")
    assert res.status_code == 405
    line = lines.access()[-1]
    assert (line["status"], line["error_code"]) == (405, "com.liveperson.faas.es.methodnotallowed")
    assert line["request_id"] == res.headers["X-Request-ID"]


def test_the_direct_access_line_is_the_line_powertools_writes(monkeypatch):
    import io

    from chalicelib.observability.logger import write_line

    # GIVEN LOGGER's own handler, and no other, writing into a buffer, with keys bound for a request
    stream = io.StringIO()
    monkeypatch.setattr(LOGGER.registered_handler, "stream", stream)
    monkeypatch.setattr(logging.getLogger("fngate"), "handlers", [LOGGER.registered_handler])
    LOGGER.thread_safe_append_keys(request_id="req-1", account=ACCOUNT)
    fields = {"route": "/r/{x}", "method": "POST", "status": 901, "duration_ms": 1.25, "outcome": "function_failed",
              "function": "f-1", "error_code": "c", "note": None, "level": "not this one"}
    try:
        # WHEN one line goes the direct way and one through Powertools
        assert write_line(logging.WARNING, "request", dict(fields))
        LOGGER.warning("request", extra=dict(fields))
    finally:
        LOGGER.thread_safe_clear_keys()

    # THEN they have the same keys in the same order and the same values, but for the time and the caller's line
    direct, powertools = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert list(direct) == list(powertools)
    for line in (direct, powertools):
        assert line.pop("location").startswith("test_the_direct_access_line_is_the_line_powertools_writes:")
        assert line.pop("timestamp")[:4].isdigit()
    assert direct == powertools


def test_the_direct_access_line_steps_aside_for_other_listeners(lines):
    from chalicelib.observability.logger import write_line

    assert not write_line(logging.INFO, "request", {"status": 200})  # the test's handler listens: logging it is
