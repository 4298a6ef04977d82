"""Signatures, notification parsing and the function input (events-and-bots.md §2.2, bot-webhooks.md §1, §3.1)."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from chalicelib.bots.fake import bot_assigned, consumer_text
from chalicelib.bots.input import RICH_CONTENT, Inbound, assignment, classify, function_payload
from chalicelib.bots.intake import CONVERSATION, MESSAGING, parse_notification, parse_plain, sign, verify
from chalicelib.domain.errors import BadInput, NotAuthenticated

BODY = b'{"kind":"notification"}'
SECRET = "s3cret"


@pytest.mark.parametrize("header", [
    sign(SECRET, BODY, "sha1"), sign(SECRET, BODY, "sha256"), sign(SECRET, BODY, "sha1", "hex"),
    sign(SECRET, BODY, "sha256", "hex"), "SHA256=" + sign(SECRET, BODY, "sha256").split("=", 1)[1],
])
def test_valid_signatures_pass(header):
    verify(SECRET, BODY, header)


@pytest.mark.parametrize("header", [
    None, "", "sha1", "sha1=", "md5=abc", sign("other", BODY, "sha1"), sign(SECRET, BODY + b" ", "sha256"),
    "sha256=" + "0" * 64, "sha1=not base64!!", sign(SECRET, BODY, "sha1").replace("sha1", "sha256"),
])
def test_invalid_signatures_are_401(header):
    with pytest.raises(NotAuthenticated):
        verify(SECRET, BODY, header)


def test_the_documented_example_signature_format():
    digest = hmac.new(b"k", b"body", hashlib.sha1).digest()
    assert sign("k", b"body") == "sha1=" + __import__("base64").b64encode(digest).decode()


@pytest.mark.parametrize("raw", [
    b"not json", b"[]", b'{"type": "x", "body": {"changes": []}}', b'{"type": "ms.MessagingEventNotification"}',
    b'{"type": "ms.MessagingEventNotification", "body": {"changes": {}}}',
    b'{"type": "ms.MessagingEventNotification", "body": {"changes": [{"event": {"type": "ContentEvent"}}]}}',
    b'{"type": "ms.MessagingEventNotification", "body": {"changes": [{"conversationId": "c", '
    b'"sequence": "1", "event": {"type": "ContentEvent"}}]}}',
    b'{"type": "cqm.ExConversationChangeNotification", "body": {"changes": [{"result": {}}]}}',
])
def test_malformed_notifications_are_400(raw):
    with pytest.raises(BadInput):
        parse_notification(raw)


def test_units_carry_dedupe_keys_and_skip_what_the_bot_ignores():
    note = consumer_text("c1", 7, "hi")
    note["body"]["changes"] += [
        {"conversationId": "c1", "dialogId": "c1", "event": {"type": "AcceptStatusEvent", "status": "READ"}},
        {"conversationId": "c1", "dialogId": "c1", "event": {"type": "ChatStateEvent", "chatState": "COMPOSING"}},
        {"conversationId": "c1", "dialogId": "c1", "event": {"type": "ChatStateEvent", "chatState": "SIGNALED"}}]
    units = parse_notification(json.dumps(note).encode())
    assert [(u.type, u.dedupe) for u in units] == [(MESSAGING, "c1#000000000007"), (MESSAGING, "")]
    conv = parse_notification(json.dumps(bot_assigned("c2", "bot-1", 123)).encode())
    assert [(u.type, u.conversation_id, u.dedupe) for u in conv] == [(CONVERSATION, "c2", "c2#meta#123")]


def change(event, role="CONSUMER", **extra):
    return {"sequence": 1, "originatorId": "consumer-1", "originatorMetadata": {"id": "consumer-1", "role": role},
            "conversationId": "c1", "dialogId": "c1", "event": event, **extra}


RICH = {"type": "vertical", "elements": [{"type": "map", "la": 49.8, "lo": 2.0, "alt": "49.8, 2.0"}]}


@pytest.mark.parametrize(("chg", "kind", "message", "event"), [
    (change({"type": "ContentEvent", "contentType": "text/plain", "message": "hi"}), Inbound.TEXT, "hi", None),
    (change({"type": "RichContentEvent", "content": RICH}), Inbound.RICH, RICH_CONTENT, None),
    (change({"type": "ContentEvent", "contentType": "hosted/file", "message": {"caption": "x"}}), Inbound.FILE,
     "com.liveperson.bot-connectors.consumer.send-file", None),
    (change({"type": "ContentEvent", "contentType": "forms/secure-submission", "message": {"invitationId": "i"}}),
     Inbound.FORM_SUBMISSION, "FORM-SUBMISSION-INTENT", {"name": "FORM_SUBMISSION"}),
    (change({"type": "ChatStateEvent", "chatState": "SIGNALED"}, metadata=[{"type": "Signal", "payload": '{"a":1}'}]),
     Inbound.SIGNAL, "", {"name": "SIGNAL", "data": {"payload": '{"a":1}'}}),
    (change({"type": "ContentEvent", "contentType": "text/plain", "message": "hi"}, role="ASSIGNED_AGENT"),
     Inbound.IGNORED, None, None),
    (change({"type": "ContentEvent", "contentType": "text/plain", "message": "hi"},
            messageAudience="AGENTS_AND_MANAGERS"), Inbound.IGNORED, None, None),
    (change({"type": "ContentEvent", "contentType": "text/plain", "message": "hi"}, dialogId="survey-1"),
     Inbound.IGNORED, None, None),
    (change({"type": "ChatStateEvent", "chatState": "COMPOSING"}), Inbound.IGNORED, None, None),
])
def test_function_input_table(chg, kind, message, event):
    assert classify(chg) is kind
    if kind is Inbound.IGNORED:
        return
    payload = function_payload(kind, "c1", chg, conversation_context={"skillId": "42"}, sdes={"x": 1})
    assert payload["message"] == message and payload["convId"] == "c1"
    assert payload.get("event") == event
    assert payload["context"]["lpEvent"]["sequence"] == 1
    assert payload["context"]["lpEvent"]["conversationContext"] == {"skillId": "42"}
    assert payload["context"]["lpSdes"] == {"x": 1}


def test_rich_content_given_as_a_json_string_reaches_the_function_as_an_object():
    chg = change({"type": "RichContentEvent", "content": json.dumps(RICH)})
    payload = function_payload(Inbound.RICH, "c1", chg)
    assert payload["context"]["lpEvent"]["event"] == {"type": "RichContentEvent", "content": RICH}
    assert payload["context"]["lpSdes"] == {}


def test_welcome_after_a_transfer_carries_the_last_consumer_message():
    seen = assignment(bot_assigned("c1", "bot-1", 1, last_consumer_message="I need help")["body"]["changes"][0],
                      "bot-1")
    assert seen.assigned and not seen.closed and seen.last_consumer_message == "I need help"
    assert seen.context["skillId"] == "42" and seen.context["campaignId"] == "7"
    payload = function_payload(Inbound.WELCOME, "c1", {}, last_consumer_message=seen.last_consumer_message)
    assert payload == {"message": "", "convId": "c1", "event": {"name": "welcome"},
                       "context": {"lpEvent": {"type": "ContentEvent", "content": "welcome",
                                               "lastConsumerMessage": "I need help"}, "lpSdes": {}}}


@pytest.mark.parametrize(("agent", "state", "assigned", "closed"), [
    ("bot-1", "OPEN", True, False), ("someone-else", "OPEN", False, False), ("bot-1", "CLOSE", False, True),
])
def test_assignment_from_conversation_changes(agent, state, assigned, closed):
    got = assignment(bot_assigned("c1", "bot-1", 1, state=state)["body"]["changes"][0], agent)
    assert (got.assigned, got.closed) == (assigned, closed)


@pytest.mark.parametrize(("doc", "kind"), [
    ({"conversationId": "c", "message": "hi", "sequence": 1}, "text"),
    ({"conversationId": "c", "richContent": RICH}, "rich"),
    ({"conversationId": "c", "event": "welcome"}, "welcome"),
    ({"conversationId": "c", "event": "SIGNAL", "signalPayload": "p"}, "signal"),
    ({"conversationId": "c", "event": "FORM_SUBMISSION"}, "form-submission"),
])
def test_plain_form(doc, kind):
    (unit,) = parse_plain(json.dumps(doc).encode(), 0)
    got = "welcome" if unit.type == "welcome" else classify(unit.change).value
    assert got == kind


@pytest.mark.parametrize("doc", [{}, {"conversationId": "c"}, {"conversationId": "c", "message": 1},
                                 {"conversationId": "c", "message": "x", "sequence": -1},
                                 {"conversationId": "c", "event": "dance"}, []])
def test_plain_form_malformed(doc):
    with pytest.raises(BadInput):
        parse_plain(json.dumps(doc).encode(), 0)
