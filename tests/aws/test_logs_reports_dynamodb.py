"""Logs, reports, replay and the email report tick on the AWS store (DynamoDB under moto): records carry the table's
TTL attribute, and every read works as on SQLite (records written before the answer, as on Lambda)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import boto3
import pytest
from chalice.test import Client
from moto import mock_aws

from app import app
from chalicelib.clock import FrozenClock
from chalicelib.config import Settings
from chalicelib.services.container import build_services, use_services
from chalicelib.storage.dynamodb import TTL_ATTRIBUTE, DynamoStore, create_table
from tests.api.conftest import Api, body
from tests.api.scripted import BASE, ScriptedExecutor, deployed, invoke
from tests.conftest import ACCOUNT, OTHER_ACCOUNT

JAN_1 = 1_767_225_600


@pytest.fixture
def aws(tmp_path: Path) -> Iterator[tuple[Api, Any, str]]:
    with mock_aws():
        db = boto3.client("dynamodb", region_name="us-east-1")
        table = f"fngate-{uuid4().hex[:8]}"
        create_table(db, table)
        clock = FrozenClock(JAN_1 + 600)
        settings = Settings(data_dir=tmp_path, store="dynamodb", table_name=table, jobs="inline",
                            region="us-east-1", records="sync")
        svc = build_services(settings, store=DynamoStore(client=db, table_name=table),
                             executor=ScriptedExecutor(clock), clock=clock)
        creds, other = svc.identity.bootstrap(ACCOUNT), svc.identity.bootstrap(OTHER_ACCOUNT)
        try:
            with use_services(svc), Client(app) as client:
                yield Api(client, svc, creds, other, svc.executor), db, table
        finally:
            svc.close()


def test_logs_reports_and_replay_on_dynamodb(aws):
    api, db, table = aws
    # GIVEN a function keeping its inputs, invoked 25 times (every 5th one failing), two log lines each
    uuid = deployed(api)
    api.dev("PUT", f"{BASE}/functions/{uuid}/replay", {"keepInputs": True})
    clock = api.services.clock
    for i in range(25):
        clock.advance(1)
        invoke(api, uuid, [["Info", f"i{i:02d}"], ["Error", f"e{i:02d}"]], rid=f"r{i:02d}", fail="x" if i % 5 == 0
               else "")
    now = int(clock.now() * 1000)
    window = f"startTimestamp={JAN_1 * 1000}&endTimestamp={now}"
    # THEN the invocation records carry the TTL attribute, 30 days on
    items = db.query(TableName=table, KeyConditionExpression="pk = :pk",
                     ExpressionAttributeValues={":pk": {"S": f"invocation#{ACCOUNT}#{uuid}"}})["Items"]
    assert len(items) == 25 and all(int(i[TTL_ATTRIBUTE]["N"]) > JAN_1 + 29 * 86_400 for i in items)
    # AND search pages in both orders, with filters
    seen, cursor = [], ""
    while True:
        page = body(api.dev("GET", f"{BASE}/logs?{window}&lambdaUUID={uuid}&limit=7&order=asc&cursor={cursor}"))
        seen += [e["message"] for e in page["logs"]]
        cursor = page["cursor"]
        if not cursor:
            break
    assert seen == [m for i in range(25) for m in (f"i{i:02d}", f"e{i:02d}")]
    errors = body(api.dev("GET", f"{BASE}/logs?{window}&filterLevels=Error&requestId=r07"))["logs"]
    assert [e["message"] for e in errors] == ["e07"]
    # AND the export and the reports read the same
    export = api.dev("GET", f"{BASE}/logs/export?v=1&lambdaUUID={uuid}&{window}")
    assert export.body.decode().count("\n") == 51
    counts = body(api.dev("GET", f"{BASE}/reports/invocationCounts?v=1&{window}"))
    assert (counts["successfulInvocations"], counts["unsuccessfulInvocations"]) == (20, 5)
    stats = body(api.dev("GET", f"{BASE}/reports/invocations/{uuid}?{window}&bucketSize=300"))
    assert sum(b["SUCCEEDED"] for b in stats["invocationStatistics"]) == 20
    # AND a kept invocation replays
    replay = body(api.dev("POST", f"{BASE}/functions/{uuid}/invocations/r03/replay"))
    assert replay["same"] is True and replay["original"]["result"] == {"ok": True}


def test_the_email_report_tick_is_idempotent_on_dynamodb(aws):
    api, _, _ = aws
    api.call("PUT", f"{BASE}/emailReports/settings", api.creds["adminToken"], {"enabled": True, "frequency": "daily"})
    api.services.clock.t = JAN_1 + 86_400 + 60
    assert api.services.email_reports.tick() == 1
    assert api.services.email_reports.tick() == 0
    assert [d["state"] for d in body(api.dev("GET", f"{BASE}/emailReports/deliveries"))] == ["skipped"]
