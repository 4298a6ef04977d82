"""Email reports: settings and recipients by the permission matrix, the periodic summary and its content, delivery
through SMTP (a local aiosmtpd server) and SES (moto), retries through the job queue, failures recorded."""

from __future__ import annotations

import email
import socket
from collections.abc import Iterator
from email import policy
from pathlib import Path
from typing import Any

import boto3
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from chalice.test import Client
from moto import mock_aws

from app import app
from chalicelib.config import Settings
from chalicelib.mail import MailError, Message, SmtpMailer
from chalicelib.mail.ses import SesMailer
from chalicelib.services.container import build_services, use_services
from chalicelib.services.email_reports import last_complete_period
from tests.api.conftest import Api, body
from tests.api.scripted import BASE, ScriptedExecutor, deployed, invoke
from tests.conftest import ACCOUNT, OTHER_ACCOUNT

JAN_2 = 1_767_312_000  # 2026-01-02T00:00:00Z (a Friday)
SENDER = "reports@fngate.test"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.envelopes: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append(envelope)
        self.messages.append(email.message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"


def _check_login(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
    ok = isinstance(data, LoginPassword) and data.login == b"mailer" and data.password == b"s3cret-pw"
    return AuthResult(success=ok)


@pytest.fixture
def smtp() -> Iterator[tuple[_Inbox, int]]:
    inbox, port = _Inbox(), _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, authenticator=_check_login,
                            auth_require_tls=False)
    controller.start()
    yield inbox, port
    controller.stop()


def _api(tmp_path: Path, clock: Any, mailer: Any) -> Iterator[Api]:
    svc = build_services(Settings(data_dir=tmp_path / "data", jobs="inline", mail_from=SENDER),
                         executor=ScriptedExecutor(clock), clock=clock, mailer=mailer)
    creds, other = svc.identity.bootstrap(ACCOUNT), svc.identity.bootstrap(OTHER_ACCOUNT)
    try:
        with use_services(svc), Client(app) as client:
            yield Api(client, svc, creds, other, svc.executor)
    finally:
        svc.close()


@pytest.fixture
def api(tmp_path, clock, smtp):
    _, port = smtp
    yield from _api(tmp_path, clock, SmtpMailer("127.0.0.1", port, username="mailer", password="s3cret-pw"))


def _admin(api: Api, method: str, path: str, data: Any = None) -> Any:
    return api.call(method, path, api.creds["adminToken"], data)


def _turn_on(api: Api, *recipients: str, frequency: str = "daily") -> None:
    assert _admin(api, "PUT", f"{BASE}/emailReports/settings", {"enabled": True, "frequency": frequency}) \
        .status_code == 200
    for address in recipients:
        assert api.dev("POST", f"{BASE}/emailReports/recipients", {"email": address}).status_code == 201


def _activity_on_jan_1(api: Api, clock: Any) -> None:
    clock.t = JAN_2 - 86_400 + 3600  # 2026-01-01T01:00Z
    fast, slow = deployed(api, "fast_fn"), deployed(api, "slow")
    for _ in range(3):
        invoke(api, fast, [])
    invoke(api, slow, [], fail="boom")
    api.services.recorder.flush()


@pytest.mark.parametrize(("role", "settings", "recipients", "read"), [
    ("adminToken", 200, 201, 200), ("developerToken", 403, 201, 200), ("invocationToken", 403, 403, 200)])
def test_settings_and_recipients_follow_the_permission_matrix(api, role, settings, recipients, read):
    token = api.creds[role]
    base = f"{BASE}/emailReports"
    assert api.call("PUT", f"{base}/settings", token, {"enabled": True, "frequency": "weekly"}).status_code \
        == settings
    assert api.call("POST", f"{base}/recipients", token, {"email": f"{role}@example.com"}).status_code == recipients
    res = api.call("GET", base, token)
    assert res.status_code == read
    if recipients == 201:
        assert api.call("DELETE", f"{base}/recipients/{role}@example.com", token).status_code == 200


@pytest.mark.parametrize(("path", "method", "data"), [
    ("recipients", "POST", {"email": "not an address"}), ("recipients", "POST", {"email": 5}),
    ("settings", "PUT", {"enabled": "yes"}), ("settings", "PUT", {"enabled": True, "frequency": "hourly"})])
def test_bad_settings_and_recipients_are_refused(api, path, method, data):
    res = _admin(api, method, f"{BASE}/emailReports/{path}", data)
    assert res.status_code == 400 and body(res)["code"] == "com.liveperson.faas.evg.invalid"


def test_removing_an_unknown_recipient_is_404(api):
    assert _admin(api, "DELETE", f"{BASE}/emailReports/recipients/nobody@example.com").status_code == 404


def test_the_daily_report_is_sent_once_by_smtp_with_the_periods_figures(api, clock, smtp):
    inbox, _ = smtp
    # GIVEN activity on Jan 1 and reports turned on with two recipients
    _activity_on_jan_1(api, clock)
    _turn_on(api, "Ops@Example.com", "dev@example.com")
    # WHEN the schedule ticks on Jan 2, and again
    clock.t = JAN_2 + 3 * 3600
    assert api.services.email_reports.tick() == 1
    assert api.services.email_reports.tick() == 0
    # THEN one message went to both, with the figures of Jan 1
    assert len(inbox.messages) == 1
    mail = inbox.messages[0]
    assert mail["Subject"] == f"fngate report {ACCOUNT}: 2026-01-01" and mail["From"] == SENDER
    assert sorted(inbox.envelopes[0].rcpt_tos) == ["dev@example.com", "ops@example.com"]
    text = mail.get_body(("plain",)).get_content()
    assert "Invocations: 4" in text and "Failures: 1 (25.0 %)" in text and "Deployments: 2 (0 failed)" in text
    assert "fast_fn: p99" in text and "slow: p99" in text
    html = mail.get_body(("html",)).get_content()
    assert "<td>fast_fn</td>" in html and "Invocations: 4" in html
    # AND the delivery is recorded
    deliveries = body(api.dev("GET", f"{BASE}/emailReports/deliveries"))
    assert [(d["period"], d["state"], d["attempts"]) for d in deliveries] == [("2026-01-01", "sent", 1)]
    assert deliveries[0]["recipients"] == ["dev@example.com", "ops@example.com"]


def test_weekly_reports_cover_the_last_whole_week():
    period = last_complete_period("weekly", JAN_2 + 3600)  # Friday 2026-01-02
    assert period.name == "2025-W52" and period.end_ms - period.start_ms == 7 * 86_400_000 - 1
    assert period.start_ms == (JAN_2 - 11 * 86_400) * 1000  # Monday 2025-12-22


def test_a_report_with_no_recipients_is_recorded_as_skipped(api, clock, smtp):
    _turn_on(api)
    clock.t = JAN_2 + 3600
    api.services.email_reports.tick()
    assert [d["state"] for d in body(api.dev("GET", f"{BASE}/emailReports/deliveries"))] == ["skipped"]
    assert smtp[0].messages == []


def test_a_failing_send_is_retried_by_the_job_queue_then_recorded_and_can_be_retried(tmp_path, clock, smtp):
    inbox, port = smtp
    # GIVEN a gateway whose SMTP server is not there
    gen = _api(tmp_path, clock, SmtpMailer("127.0.0.1", _free_port(), username="mailer", password="wrong"))
    api = next(gen)
    try:
        _turn_on(api, "ops@example.com")
        clock.t = JAN_2 + 3600
        # WHEN the report is due, it fails, and each retry (after its backoff) fails too
        api.services.email_reports.tick()
        for _ in range(4):
            clock.advance(3600)
            api.services.runner.drain()
        # THEN the delivery and the settings say so, and the dead job is listed with its errors
        delivery = body(api.dev("GET", f"{BASE}/emailReports/deliveries"))[0]
        assert delivery["state"] == "failed" and delivery["attempts"] == 5 and len(delivery["errors"]) == 5
        assert "ConnectionRefusedError" in delivery["errors"][-1]
        settings = body(api.dev("GET", f"{BASE}/emailReports"))["settings"]
        assert "ConnectionRefusedError" in settings["lastError"]
        dead = body(api.dev("GET", f"{BASE}/jobs?state=dead"))
        assert [j["kind"] for j in dead] == ["email-report"] and inbox.messages == []
        assert "wrong" not in str(delivery) + str(settings) + str(dead)  # never the password
        # AND once the transport is fixed, retrying the dead job delivers it
        api.services.email_reports._mailer = SmtpMailer("127.0.0.1", port, username="mailer", password="s3cret-pw")
        assert api.dev("POST", f"{BASE}/jobs/{dead[0]['id']}/retry").status_code == 200
        assert len(inbox.messages) == 1
        assert body(api.dev("GET", f"{BASE}/emailReports/deliveries"))[0]["state"] == "sent"
    finally:
        gen.close()


def test_send_now_is_for_admins_and_sends_at_once(api, clock, smtp):
    _turn_on(api, "ops@example.com")
    assert api.dev("POST", f"{BASE}/emailReports/send").status_code == 403
    res = _admin(api, "POST", f"{BASE}/emailReports/send")
    assert res.status_code == 202 and len(smtp[0].messages) == 1


def test_ses_delivery_with_moto(tmp_path, clock):
    with mock_aws():
        ses = boto3.client("ses", region_name="us-east-1")
        ses.verify_email_identity(EmailAddress=SENDER)
        gen = _api(tmp_path, clock, SesMailer(client=ses))
        api = next(gen)
        try:
            _activity_on_jan_1(api, clock)
            _turn_on(api, "ops@example.com")
            clock.t = JAN_2 + 3600
            api.services.email_reports.tick()
            delivery = body(api.dev("GET", f"{BASE}/emailReports/deliveries"))[0]
            assert delivery["state"] == "sent" and delivery["messageId"]
            assert ses.get_send_quota()["SentLast24Hours"] == 1
            from moto.core import DEFAULT_ACCOUNT_ID
            from moto.ses.models import ses_backends

            sent = ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages[-1]
            assert sent.subject == f"fngate report {ACCOUNT}: 2026-01-01" and "Invocations: 4" in sent.body
        finally:
            gen.close()


def test_ses_refusal_becomes_a_mail_error():
    with mock_aws():
        ses = boto3.client("ses", region_name="us-east-1")  # the sender is not verified
        with pytest.raises(MailError, match="MessageRejected"):
            SesMailer(client=ses).send(Message("nobody@unverified.test", ("a@example.com",), "s", "t"))


def test_smtp_mailer_never_shows_its_password():
    mailer = SmtpMailer("mail.example.com", 587, tls="starttls", username="u", password="p@ss-word")
    assert "p@ss-word" not in repr(mailer)
    with pytest.raises(ValueError):
        SmtpMailer("h", tls="maybe")


def test_smtp_with_starttls_and_login(tmp_path):
    # GIVEN an SMTP server that requires STARTTLS before AUTH, with a self-signed certificate
    import ssl

    from tests.e2e.test_npm_client import _self_signed

    cert, key = _self_signed(tmp_path, "127.0.0.1", names=("localhost",))
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    inbox, port = _Inbox(), _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, tls_context=server_tls, require_starttls=True,
                            authenticator=_check_login, auth_require_tls=True)
    controller.start()
    try:
        client_tls = ssl.create_default_context(cafile=str(cert))
        # WHEN a message goes out with tls=starttls and the right login, THEN it arrives
        SmtpMailer("127.0.0.1", port, tls="starttls", username="mailer", password="s3cret-pw",
                   context=client_tls).send(Message(SENDER, ("a@example.com",), "over TLS", "hello"))
        assert [m["Subject"] for m in inbox.messages] == ["over TLS"]
        # AND without STARTTLS the server refuses it, as a MailError
        with pytest.raises(MailError, match="SMTP"):
            SmtpMailer("127.0.0.1", port, username="mailer", password="s3cret-pw").send(
                Message(SENDER, ("a@example.com",), "plain", "hello"))
    finally:
        controller.stop()


def test_smtp_over_implicit_tls(tmp_path):
    import ssl

    from tests.e2e.test_npm_client import _self_signed

    cert, key = _self_signed(tmp_path, "127.0.0.1")
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    inbox, port = _Inbox(), _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, ssl_context=server_tls)
    controller.start()
    try:
        SmtpMailer("127.0.0.1", port, tls="ssl", context=ssl.create_default_context(cafile=str(cert))).send(
            Message(SENDER, ("a@example.com",), "implicit TLS", "hello"))
        assert [m["Subject"] for m in inbox.messages] == ["implicit TLS"]
    finally:
        controller.stop()
