"""A fake of LivePerson's messaging side, for tests and local development.

It issues AppJWTs (``sentinel``), takes the agent-side requests fngate sends (``asyncMessagingEnt``) and records
them (a resent request id is recorded once), and sends signed webhook notifications the way bot-webhooks.md §1
describes. Point a gateway at it with the domain map it prints:

    python -m chalicelib.bots.fake --port 9100 --client-id app --client-secret s3cret
    FNGATE_DOMAIN_MAP='{"asyncMessagingEnt": "http://127.0.0.1:9100", "sentinel": "http://127.0.0.1:9100"}' fngate serve
"""

from __future__ import annotations

import argparse
import json
import re
import secrets
import threading
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from chalicelib.bots.intake import CONVERSATION, MESSAGING, SIGNATURE_HEADER, sign

_TOKEN = re.compile(r"^/sentinel/api/account/([^/]+)/app/token$")
_SEND = re.compile(r"^/api/account/([^/]+)/messaging/agent/([^/]+)/send$")


class FakeMessaging:
    def __init__(self, client_id: str = "fake-app", client_secret: str = "fake-secret", host: str = "127.0.0.1",
                 port: int = 0) -> None:
        self.client_id, self.client_secret = client_id, client_secret
        self.requests: list[dict[str, Any]] = []  # {"account", "agent", "request"} in arrival order
        self.failures: list[int] = []  # HTTP statuses to answer the next sends with (then normal again)
        self.refusals: list[int] = []  # UMS codes to answer the next sends with
        self._seen: set[str] = set()
        self._tokens: set[str] = set()
        self._lock = threading.Condition()
        self._server = ThreadingHTTPServer((host, port), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), name="fake-messaging",
                                        daemon=True)

    @property
    def url(self) -> str:
        host, port = str(self._server.server_address[0]), self._server.server_address[1]
        return f"http://{host}:{port}"

    def domain_map(self) -> dict[str, str]:
        return {"asyncMessagingEnt": self.url, "sentinel": self.url}

    def start(self) -> FakeMessaging:
        self._thread.start()
        return self

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # -- what the tests read ----------------------------------------------------------------------------------------
    def sent(self, conversation_id: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            reqs = [r["request"] for r in self.requests]
        if conversation_id is None:
            return reqs
        return [r for r in reqs if conversation_id in (r["body"].get("dialogId"), r["body"].get("conversationId"))]

    def wait_for(self, count: int, timeout_s: float = 10.0) -> bool:
        """True once at least ``count`` requests arrived (woken by each arrival, no polling)."""
        with self._lock:
            return self._lock.wait_for(lambda: len(self.requests) >= count, timeout_s)

    # -- the webhook side -------------------------------------------------------------------------------------------
    def notify(self, webhook_url: str, notification: dict[str, Any], *, secret: str | None = None,
               algorithm: str = "sha1", account_id: str = "") -> tuple[int, Any]:
        body = json.dumps(notification).encode()
        req = urllib.request.Request(webhook_url, data=body, method="POST")
        req.add_header("Content-Type", "application/json")
        req.add_header(SIGNATURE_HEADER, sign(secret or self.client_secret, body, algorithm))
        req.add_header("x-liveperson-client-id", self.client_id)
        if account_id:
            req.add_header("x-liveperson-account-id", account_id)
        try:
            with urllib.request.urlopen(req, timeout=10) as res:
                return res.status, json.loads(res.read() or b"null")
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read() or b"null")

    # -- the HTTP side ----------------------------------------------------------------------------------------------
    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *args: Any) -> None:
                return None

            def _answer(self, status: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                if self.path.startswith("/_fake/requests"):
                    self._answer(200, fake.sent())
                else:
                    self._answer(404, {"error": "not found"})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                url = urllib.parse.urlsplit(self.path)
                token = _TOKEN.match(url.path)
                send = _SEND.match(url.path)
                if token:
                    self._answer(*fake._token(urllib.parse.parse_qs(url.query)))
                elif send:
                    auth = self.headers.get("Authorization", "").removeprefix("Bearer ")
                    self._answer(*fake._send(token=auth, account=send.group(1), agent=send.group(2), raw=raw))
                else:
                    self._answer(404, {"error": "not found"})

        return Handler

    def _token(self, query: dict[str, list[str]]) -> tuple[int, Any]:
        if query.get("client_id") != [self.client_id] or query.get("client_secret") != [self.client_secret]:
            return 401, {"error": "invalid_client"}
        token = secrets.token_urlsafe(16)
        with self._lock:
            self._tokens.add(token)
        return 200, {"access_token": token, "token_type": "Bearer", "expires_in": 3600}

    def _send(self, token: str, account: str, agent: str, raw: bytes) -> tuple[int, Any]:
        with self._lock:
            if token not in self._tokens:
                return 401, {"error": "invalid token"}
            if self.failures:
                return self.failures.pop(0), {"error": "injected failure"}
            request = json.loads(raw)
            if self.refusals:
                return 200, {"kind": "resp", "reqId": request.get("id"), "code": self.refusals.pop(0),
                             "body": "injected refusal"}
            if request.get("id") not in self._seen:
                self._seen.add(request.get("id"))
                self.requests.append({"account": account, "agent": agent, "request": request})
                self._lock.notify_all()
            sequence = len(self.requests)
        return 200, {"kind": "resp", "reqId": request.get("id"), "code": 200, "body": {"sequence": sequence},
                     "type": "GenericSubscribeResponse"}


# -- notifications as LivePerson sends them (bot-webhooks.md §1.5–1.7) ----------------------------------------------
def consumer_text(conversation_id: str, sequence: int, text: str, consumer: str = "consumer-1",
                  **extra: Any) -> dict[str, Any]:
    change = {"sequence": sequence, "originatorId": consumer,
              "originatorMetadata": {"id": consumer, "role": "CONSUMER"}, "serverTimestamp": 1_700_000_000_000,
              "event": {"type": "ContentEvent", "message": text, "contentType": "text/plain"},
              "conversationId": conversation_id, "dialogId": conversation_id, "messageAudience": "ALL", **extra}
    return {"kind": "notification", "type": MESSAGING, "body": {"changes": [change]}}


def bot_assigned(conversation_id: str, agent_id: str, stamp: int, *, last_consumer_message: str = "",
                 state: str = "OPEN") -> dict[str, Any]:
    result: dict[str, Any] = {"convId": conversation_id, "conversationDetails": {
        "skillId": "42", "state": state, "stage": state, "metaDataLastUpdateTs": stamp,
        "participants": [{"id": "consumer-1", "role": "CONSUMER"}, {"id": agent_id, "role": "ASSIGNED_AGENT"}],
        "campaignInfo": {"campaignId": "7", "engagementId": "8"},
        "context": {"type": "SharkContext", "lang": "en-US", "clientProperties": {"browser": "CHROME"}}}}
    if last_consumer_message:
        result["lastContentEventNotification"] = consumer_text(conversation_id, 0, last_consumer_message)[
            "body"]["changes"][0]
    return {"kind": "notification", "type": CONVERSATION,
            "body": {"changes": [{"type": "UPSERT", "result": result}]}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9100)
    parser.add_argument("--client-id", default="fake-app")
    parser.add_argument("--client-secret", default="fake-secret")
    args = parser.parse_args(argv)
    fake = FakeMessaging(args.client_id, args.client_secret, args.host, args.port).start()
    print(json.dumps({"FNGATE_DOMAIN_MAP": fake.domain_map()}), flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        fake.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
