"""The connector through its routes, with scripted bot functions and the fake messaging side over real HTTP:
configuration, intake (signatures, dedupe, order, restart), escalation, hooks, INVOCATION and Test Connection."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from chalice.test import Client

from app import app
from chalicelib.bots.fake import FakeMessaging, bot_assigned, consumer_text
from chalicelib.bots.intake import sign
from chalicelib.domain import bots as ids
from chalicelib.domain.errors import ExecutionTimeExceeded, FunctionFailed
from chalicelib.runtime.base import Outcome, Target
from chalicelib.services.container import Services, use_services
from chalicelib.storage.base import Query
from tests.conftest import ACCOUNT, as_json, json_request
from tests.fakes import FakeExecutor

BASE = f"/api/account/{ACCOUNT}"
SECRET = "app-secret"


class ScriptedExecutor(FakeExecutor):
    """Runs a Python callable per function name instead of the function's code."""

    def __init__(self) -> None:
        super().__init__()
        self.script: dict[str, Callable[[Any], Any]] = {}
        self.calls: dict[str, list[Any]] = {}

    def invoke(self, target: Target, event: dict[str, Any], *, timeout_s: float | None = None) -> Outcome:
        self.calls.setdefault(target.function_name, []).append(event["payload"])
        fn = self.script.get(target.function_name, lambda p: {"messages": [p.get("message") or "welcome"]})
        return Outcome(result=fn(event["payload"]))


@dataclass
class Env:
    client: Client
    svc: Services
    creds: dict[str, str]
    fake: FakeMessaging
    executor: ScriptedExecutor
    slept: list[float]

    def call(self, method: str, path: str, body: Any = None, token: str = "adminToken", raw: bytes | None = None,
             headers: dict[str, str] | None = None) -> tuple[int, Any]:
        res = json_request(self.client, method, path, self.creds[token] if token else None, body, headers, raw)
        return res.status_code, as_json(res)

    def function(self, name: str, script: Callable[[Any], Any] | None = None) -> str:
        code = "function lambda(input, callback) {\n  callback(null, input.payload);\n}\n"
        status, fn = self.call("POST", f"{BASE}/functions", {"name": name, "description": "d", "code": code},
                               token="developerToken")
        assert status == 201, fn
        assert self.call("POST", f"{BASE}/deployments/{fn['uuid']}", token="developerToken")[0] == 200
        if script is not None:
            self.executor.script[name] = script
        return fn["uuid"]

    def bot(self, bot_id: str = "bot1", **settings: Any) -> dict[str, Any]:
        body = {"botId": bot_id, "functionUuid": self.function(f"fn-{bot_id}"), "clientId": self.fake.client_id,
                "clientSecret": SECRET, "agentId": "bot-agent", "skills": {"human_skill": "100", "escalation": "900"},
                "escalation": {"customerMessage": "One moment please", "agentMessage": "Bot failed",
                               "transferFailureMessage": "Sorry, nobody is available", "skill": "escalation"},
                **settings}
        status, bot = self.call("POST", f"{BASE}/bots", body)
        assert status == 201, bot
        return bot

    def webhook(self, notification: dict[str, Any], bot_id: str = "bot1", signature: str | None = None,
                raw: bytes | None = None) -> tuple[int, Any]:
        data = raw if raw is not None else json.dumps(notification).encode()
        sig = signature if signature is not None else sign(SECRET, data, "sha256")
        return self.call("POST", f"{BASE}/bots/{bot_id}/webhook", token="", raw=data,
                         headers={"x-liveperson-signature": sig})

    def texts(self, conv: str | None = None) -> list[str]:
        return [r["body"]["event"]["message"] for r in self.fake.sent(conv)
                if r["body"].get("event", {}).get("contentType") == "text/plain"]


@pytest.fixture
def env(make_services: Callable[..., Services]) -> Iterator[Env]:
    fake = FakeMessaging(client_secret=SECRET).start()
    executor = ScriptedExecutor()
    svc = make_services(executor=executor, domain_map=fake.domain_map())
    slept: list[float] = []
    svc.bots.worker.sleep = slept.append
    creds = svc.identity.bootstrap(ACCOUNT)
    with use_services(svc), Client(app) as client:
        e = Env(client, svc, creds, fake, executor, slept)
        yield e
    fake.close()


# -- configuration -------------------------------------------------------------------------------------------------
def test_bot_crud_masks_the_secret_and_lists_the_webhook(env):
    bot = env.bot(name="Support bot")
    assert bot["clientSecret"] == "********" and bot["webhookUrl"].endswith(f"{BASE}/bots/bot1/webhook")
    assert SECRET not in json.dumps(env.svc.store.get("bot", ACCOUNT, "bot1").data)  # sealed, not stored in clear
    assert env.call("GET", f"{BASE}/bots")[1][0]["botId"] == "bot1"
    status, updated = env.call("PUT", f"{BASE}/bots/bot1", {**bot, "name": "Renamed", "clientSecret": None})
    assert status == 200 and updated["name"] == "Renamed" and updated["clientSecret"] == "********"
    assert env.webhook(consumer_text("c0", 1, "still signed with the old secret"))[0] == 200
    assert env.call("DELETE", f"{BASE}/bots/bot1")[0] == 200
    assert env.call("GET", f"{BASE}/bots/bot1")[0] == 404


@pytest.mark.parametrize(("token", "method", "path", "status"), [
    ("developerToken", "POST", "/bots", 403), ("invocationToken", "GET", "/bots", 403),
    ("developerToken", "GET", "/bots", 200), ("developerToken", "POST", "/bots/bot1/test-connection", 200),
    ("invocationToken", "POST", "/bots/bot1/test-connection", 403), ("developerToken", "DELETE", "/bots/bot1", 403),
])
def test_permission_matrix(env, token, method, path, status):
    env.bot()
    body = {"botId": "x", "functionUuid": "0" * 36, "clientSecret": "s"} if method == "POST" else None
    assert env.call(method, BASE + path, body, token=token)[0] == status


@pytest.mark.parametrize(("body", "detail"), [
    ({"functionUuid": "0" * 36, "clientSecret": "s"}, "botId"),
    ({"botId": "b", "clientSecret": "s"}, "functionUuid"),
    ({"botId": "b", "functionUuid": "0" * 36}, "clientSecret"),
    ({"botId": "b", "functionUuid": "0" * 36, "clientSecret": "s", "hooks": {"later": "0" * 36}}, "hooks"),
    ({"botId": "b", "functionUuid": "0" * 36, "clientSecret": "s", "options": {"maxConcurrency": 0}}, "maxConcurrency"),
])
def test_invalid_bot_settings_are_400(env, body, detail):
    status, err = env.call("POST", f"{BASE}/bots", body)
    assert status == 400 and detail in err["message"]


def test_bot_routes_are_in_the_openapi_document(env):
    paths = env.call("GET", "/openapi.json", token="")[1]["paths"]
    assert {f"{BASE.replace(ACCOUNT, '{account_id}')}/bots/{{bot_id}}/{p}" for p in ("webhook", "test-connection")} \
        <= set(paths)


# -- intake --------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("signature", "raw", "status"), [
    ("sha256=AAAA", None, 401), ("", None, 401), (None, b"{not json", 400),
    (None, b'{"type": "ms.MessagingEventNotification", "body": {"changes": [{}]}}', 400),
])
def test_bad_signature_401_and_malformed_400_queue_nothing(env, signature, raw, status):
    env.bot()
    assert env.webhook(consumer_text("c1", 1, "hi"), signature=signature, raw=raw)[0] == status
    assert env.svc.jobs.pending() == [] and env.fake.sent() == []
    assert env.svc.store.query(Query("botseen", f"{ACCOUNT}#bot1#c1")) == []


def test_consumer_text_reaches_the_function_and_the_reply_the_messaging_side(env):
    env.bot()
    status, ack = env.webhook(consumer_text("c1", 1, "hello"))
    assert (status, ack) == (200, {"queued": 1, "duplicates": 0})
    (payload,) = env.executor.calls["fn-bot1"]
    assert payload["message"] == "hello" and payload["convId"] == "c1"
    assert payload["context"]["lpEvent"]["event"]["message"] == "hello" and payload["context"]["lpSdes"] == {}
    (req,) = env.fake.sent("c1")
    assert req["type"] == ".ams.ms.PublishEvent" and req["body"]["event"]["message"] == "hello"
    assert env.fake.requests[0]["agent"] == "bot-agent"


def test_redeliveries_are_processed_once(env):
    env.bot()
    note = consumer_text("c1", 5, "once")
    assert env.webhook(note)[1] == {"queued": 1, "duplicates": 0}
    assert env.webhook(note)[1] == {"queued": 0, "duplicates": 1}
    assert env.texts("c1") == ["once"] and len(env.executor.calls["fn-bot1"]) == 1


def test_order_is_kept_per_conversation_with_redeliveries(env, make_services):
    env.bot()
    queued = make_services(executor=env.executor, domain_map=env.fake.domain_map(), jobs="background")
    queued.bots.worker.sleep = env.slept.append
    for seq in range(6):
        for conv in ("a", "b", "c"):
            for _ in range(2 if seq % 2 else 1):  # every other message delivered twice
                data = json.dumps(consumer_text(conv, seq, f"{conv}{seq}")).encode()
                queued.bots.accept(ACCOUNT, "bot1", data, sign(SECRET, data))
    assert env.fake.sent() == []  # acknowledged, not yet processed
    queued.runner.drain()
    for conv in ("a", "b", "c"):
        assert env.texts(conv) == [f"{conv}{i}" for i in range(6)]


def test_an_acknowledged_event_survives_a_restart(env, make_services):
    env.bot()
    first = make_services(executor=env.executor, domain_map=env.fake.domain_map(), jobs="background")
    data = json.dumps(consumer_text("c9", 1, "survive")).encode()
    assert first.bots.accept(ACCOUNT, "bot1", data, sign(SECRET, data)).queued == 1
    first.close()  # the process goes away before the runner got to it
    again = make_services(executor=env.executor, domain_map=env.fake.domain_map(), jobs="background")
    assert again.runner.drain() == 1
    assert env.texts("c9") == ["survive"]


def test_welcome_on_assignment_with_the_last_consumer_message_and_no_welcome_twice(env):
    env.bot()
    env.executor.script["fn-bot1"] = lambda p: {
        "messages": [f"welcome: {p['context']['lpEvent']['lastConsumerMessage']}"]}
    assert env.webhook(bot_assigned("c1", "bot-agent", 1, last_consumer_message="help me"))[0] == 200
    assert env.webhook(bot_assigned("c1", "bot-agent", 2, last_consumer_message="help me"))[0] == 200
    assert env.texts("c1") == ["welcome: help me"]
    (payload,) = env.executor.calls["fn-bot1"]
    assert payload["event"] == {"name": "welcome"}
    assert payload["context"]["lpEvent"]["conversationContext"]["skillId"] == "42"


def test_sdes_are_passed_when_enabled(env):
    env.bot(options={"sendSdes": True})
    data = json.dumps({"conversationId": "p1", "sequence": 1, "message": "hi", "sdes": {"unauthenticatedSdes": {}}})
    status, got = env.call("POST", f"{BASE}/bots/bot1/messages", token="", raw=data.encode(),
                           headers={"x-liveperson-signature": sign(SECRET, data.encode())})
    assert status == 200 and [e["body"]["event"]["message"] for e in got["events"]] == ["hi"]
    assert env.executor.calls["fn-bot1"][0]["context"]["lpSdes"] == {"unauthenticatedSdes": {}}


# -- escalation ------------------------------------------------------------------------------------------------------
def _fail(p):
    raise FunctionFailed("boom")


def _timeout(p):
    raise ExecutionTimeExceeded()


ESCALATED = ["One moment please", "Bot failed"]


@pytest.mark.parametrize(("script", "error_id", "texts_before"), [
    (lambda p: {"messages": []}, ids.MISSING_ACTION_AND_MESSAGES, []),
    (lambda p: None, ids.MISSING_RESPONSE_BODY, []),
    (lambda p: "nonsense", ids.INVALID_RESPONSE, []),
    (_fail, ids.INVOKE_LAMBDA, []),
    (_timeout, ids.FAILED_FAAS_REQUEST, []),
    (lambda p: {"messages": ["bye"], "context": {"action": "TRANSFER", "actionParameters": {"skill": "nope"}}},
     ids.TRANSFER_SKILL_NOT_EXISTING, ["bye"]),
])
def test_escalation_cases(env, script, error_id, texts_before):
    env.bot()
    env.executor.script["fn-bot1"] = script
    assert env.webhook(consumer_text("c1", 1, "hi"))[0] == 200
    assert env.texts("c1") == [*texts_before, *ESCALATED]
    private = env.fake.sent("c1")[-2]
    assert private["body"]["messageAudience"] == "AGENTS_AND_MANAGERS"
    transfer = env.fake.sent("c1")[-1]
    assert transfer["type"] == ".ams.cm.UpdateConversationField"
    assert transfer["body"]["conversationField"][-1] == {"field": "Skill", "type": "UPDATE", "skill": "900"}
    assert transfer["metadata"] == [{"type": "ActionReason", "reason": "escalated_by_error"}]
    assert any(entry["errorId"] == error_id for entry in env.call("GET", f"{BASE}/bots/bot1/logs")[1])


def test_a_refused_transfer_sends_the_transfer_failure_message(env):
    env.bot()
    env.executor.script["fn-bot1"] = lambda p: {"context": {"action": "TRANSFER",
                                                            "actionParameters": {"skill": "human_skill"}}}
    env.fake.refusals = [400]
    env.webhook(consumer_text("c1", 1, "agent please"))
    assert env.texts("c1") == ["Sorry, nobody is available"]


def test_sender_failures_are_retried_without_invoking_again_then_delivered(env):
    env.bot()
    env.executor.script["fn-bot1"] = lambda p: {"messages": ["one", "two"]}
    env.fake.failures = [500, 500, 500]  # the first send fails twice over (each with one reconnect attempt)
    env.webhook(consumer_text("c1", 1, "hi"))
    for _ in range(5):
        env.svc.clock.advance(30)
        env.svc.runner.drain()
    assert env.texts("c1") == ["one", "two"] and len(env.executor.calls["fn-bot1"]) == 1


def test_a_sender_that_keeps_failing_ends_in_escalation_and_a_dead_job(env):
    env.bot()
    env.fake.failures = [503] * 6  # every attempt of the job fails
    env.webhook(consumer_text("c1", 1, "hi"))
    for _ in range(8):
        env.svc.clock.advance(60)
        env.svc.runner.drain()
    assert env.svc.jobs.pending() == []
    assert any(e["errorId"] == ids.SEND_MESSAGE for e in env.call("GET", f"{BASE}/bots/bot1/logs")[1])
    assert env.texts("c1") == ESCALATED  # the platform came back while escalating


# -- hooks and INVOCATION ---------------------------------------------------------------------------------------------
def test_pre_post_and_error_hooks(env):
    pre = env.function("pre", lambda p: {**p, "message": p["message"].upper()})
    post = env.function("post", lambda r: {**r, "messages": [*r["messages"], "(post)"]})
    err = env.function("err", lambda p: None)
    env.bot(hooks={"pre": pre, "post": post, "error": err})
    env.webhook(consumer_text("c1", 1, "hi"))
    assert env.texts("c1") == ["HI", "(post)"]
    env.executor.script["fn-bot1"] = _fail
    env.webhook(consumer_text("c1", 2, "again"))
    (hook_input,) = env.executor.calls["err"]
    assert hook_input["error"]["errorId"] == ids.INVOKE_LAMBDA and hook_input["faasPayload"]["message"] == "again"


def test_a_failing_hook_escalates(env):
    pre = env.function("pre", _fail)
    env.bot(hooks={"pre": pre})
    env.webhook(consumer_text("c1", 1, "hi"))
    assert env.texts("c1") == ESCALATED and "fn-bot1" not in env.executor.calls


@pytest.mark.parametrize(("fail_on_error", "other_fails", "texts"), [
    (False, False, ["checking"]), (False, True, ["checking"]), (True, False, ["checking"]),
    (True, True, ["checking", *ESCALATED]),
])
def test_invocation_chaining(env, fail_on_error, other_fails, texts):
    other = env.function("other", _fail if other_fails else (lambda p: {"ok": True}))
    env.bot()
    env.executor.script["fn-bot1"] = lambda p: {"messages": ["checking"], "context": {
        "action": "INVOCATION", "actionParameters": {"lambdaUuid": other, "payload": {"some": "stuff"},
                                                     "failOnError": fail_on_error}}}
    env.webhook(consumer_text("c1", 1, "hi"))
    assert env.executor.calls["other"] == [{"some": "stuff"}]
    assert env.texts("c1") == texts


def test_delay_waits_with_typing_indicators(env):
    env.bot()
    env.executor.script["fn-bot1"] = lambda p: {"messages": ["a", {"delay": 2}, "b"]}
    env.webhook(consumer_text("c1", 1, "hi"))
    states = [r["body"]["event"].get("chatState") for r in env.fake.sent("c1")]
    assert states == [None, "COMPOSING", "ACTIVE", None] and env.slept == [2]


# -- Test Connection --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("script", "ok", "problem"), [
    (None, True, None),
    (lambda p: {"messages": []}, False, "missing-action-and-messages"),
    (_fail, False, "the function failed on a welcome event"),
    (lambda p: {"messages": ["a", {"text": "x", "messageAudience": "ALL"}]}, False, "messageAudience"),
])
def test_test_connection(env, script, ok, problem):
    env.bot()
    if script is not None:
        env.executor.script["fn-bot1"] = script
    status, got = env.call("POST", f"{BASE}/bots/bot1/test-connection")
    assert status == 200 and got["ok"] is ok
    if problem:
        assert any(problem in p for p in got["problems"]), got["problems"]
    else:
        assert got["outbound"][0]["body"]["event"]["message"] == "welcome"


def test_test_connection_says_the_function_is_not_deployed(env):
    code = "function lambda(input, callback) {\n  callback(null, {});\n}\n"
    _, fn = env.call("POST", f"{BASE}/functions", {"name": "draft", "description": "d", "code": code},
                     token="developerToken")
    env.call("POST", f"{BASE}/bots", {"botId": "b2", "functionUuid": fn["uuid"], "clientSecret": "s"})
    got = env.call("POST", f"{BASE}/bots/b2/test-connection")[1]
    assert got["ok"] is False and "is not deployed" in got["problems"][0]
