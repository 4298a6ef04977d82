"""Reply validation and translation, rule by rule (events-and-bots.md §2.3–2.4, seed 002): one row per rule."""

from __future__ import annotations

import base64

import pytest

from chalicelib.bots.reply import PUBLISH, UPDATE, Conversation, Invoke, Send, Transfer, Wait, translate
from chalicelib.domain import bots as ids
from chalicelib.domain.bots import Bot

BOT = Bot(account_id="a", bot_id="b", function_uuid="f" * 8, skills={"human_skill": "100", "secure": "200"})
CONV = Conversation("conv-1", "conv-1", "consumer-1")
ENC = base64.b64encode(b'{"someInfo": "I was encoded"}').decode()
OTHER_ENC = base64.b64encode(b"different").decode()
SC = {"type": "vertical", "elements": [{"type": "button", "title": "Recommend a movie",
                                        "click": {"actions": [{"type": "publishText", "text": "movie"}]}}]}


def plan(reply, bot=BOT):
    return translate(reply, bot, CONV, lambda: "uuid-1")


def text_event(message):
    return {"type": "ContentEvent", "contentType": "text/plain", "message": message}


def brief(step):
    """A step as a short tuple, so tables stay readable."""
    if isinstance(step, Wait):
        return ("wait", step.seconds)
    if isinstance(step, Invoke):
        return ("invoke", step.lambda_uuid, step.payload, step.fail_on_error)
    if isinstance(step, Transfer):
        return ("transfer", step.send.body["conversationField"], step.send.metadata)
    event = step.body.get("event")
    if step.type == UPDATE:
        return ("update", step.body["conversationField"])
    if event["type"] == "ChatStateEvent":
        return ("state", event["chatState"], step.metadata)
    if event["type"] == "RichContentEvent":
        return ("rich", event["content"], step.metadata, step.encoded_metadata)
    if event["contentType"] == "text/plain":
        return ("text", event["message"], step.body.get("messageAudience"), step.metadata, step.encoded_metadata)
    return ("content", event["contentType"], event["message"])


@pytest.mark.parametrize(("reply", "steps", "error", "dropped"), [
    # text
    ({"messages": ["hi", "there"]}, [("text", "hi", None, None, None), ("text", "there", None, None, None)], "", 0),
    # structured content, with metadata object wrapped in a list
    ({"messages": [{"structuredContent": SC, "metadata": {"type": "ExternalId", "id": "12345"}}]},
     [("rich", SC, [{"type": "ExternalId", "id": "12345"}], None)], "", 0),
    # context encodedMetadata goes on every message; the per-message one overrides it
    ({"context": {"encodedMetadata": ENC}, "messages": ["a", {"structuredContent": SC, "encodedMetadata": OTHER_ENC}]},
     [("text", "a", None, None, ENC), ("rich", SC, None, OTHER_ENC)], "", 0),
    # invalid per-message encodedMetadata drops that message only
    ({"messages": ["a", {"structuredContent": SC, "encodedMetadata": "not base64!"}]},
     [("text", "a", None, None, None)], "", 1),
    # oversized encodedMetadata (> 5k) drops the message
    ({"messages": [{"structuredContent": SC, "encodedMetadata": base64.b64encode(b"x" * 4000).decode()}],
      "context": {"action": "CLOSE_CONVERSATION"}},
     [("update", [{"field": "DialogChange", "type": "UPDATE",
                   "dialog": {"dialogId": "conv-1", "state": "CLOSE", "closedBy": "AGENT"}}])], "", 1),
    # invalid context encodedMetadata drops every message that would carry it
    ({"context": {"encodedMetadata": "%%%"}, "messages": ["a", "b"]}, [], "", 2),
    # delay with typing (default true): COMPOSING, wait, ACTIVE
    ({"messages": ["a", {"delay": 5}, "b"]},
     [("text", "a", None, None, None), ("state", "COMPOSING", None), ("wait", 5), ("state", "ACTIVE", None),
      ("text", "b", None, None, None)], "", 0),
    ({"messages": ["a", {"delay": 2, "typing": False}, "b"]},
     [("text", "a", None, None, None), ("wait", 2), ("text", "b", None, None, None)], "", 0),
    # delay must be whole seconds
    ({"messages": ["a", {"delay": 1.5}]}, [("text", "a", None, None, None)], "", 1),
    ({"messages": ["a", {"delay": 2.0, "typing": False}]}, [("text", "a", None, None, None), ("wait", 2)], "", 0),
    # a sole delay means no response (and no escalation)
    ({"messages": [{"delay": 3}]}, [], "", 0),
    # private text: messageAudience exactly AGENTS_AND_MANAGERS
    ({"messages": [{"text": "psst", "messageAudience": "AGENTS_AND_MANAGERS"}]},
     [("text", "psst", "AGENTS_AND_MANAGERS", None, None)], "", 0),
    ({"messages": ["a", {"text": "psst", "messageAudience": "agents_and_managers"}]},
     [("text", "a", None, None, None)], "", 1),
    ({"messages": ["a", {"messageAudience": "AGENTS_AND_MANAGERS"}]}, [("text", "a", None, None, None)], "", 1),
    # unknown item forms are dropped
    ({"messages": ["a", 42, {"foo": 1}]}, [("text", "a", None, None, None)], "", 2),
    # context metadata and intent fields (BotResponse) ride on the published messages
    ({"messages": ["a"], "context": {"metadata": [{"type": "SocialMessagingEventData", "channel": "Public"}],
                                     "intentId": "i1", "intentName": "greet", "confidenceScore": 0.9}},
     [("text", "a", None, [{"type": "SocialMessagingEventData", "channel": "Public"},
                           {"type": "BotResponse", "intents": [{"id": "i1", "name": "greet",
                                                                "confidenceScore": 0.9}]}], None)], "", 0),
    # legacy context.structuredContent is sent after the messages
    ({"messages": ["a"], "context": {"structuredContent": SC}},
     [("text", "a", None, None, None), ("rich", SC, None, None)], "", 0),
    # empty replies escalate
    ({}, [], ids.MISSING_ACTION_AND_MESSAGES, 0),
    ({"messages": []}, [], ids.MISSING_ACTION_AND_MESSAGES, 0),
    ({"messages": [], "context": {}}, [], ids.MISSING_ACTION_AND_MESSAGES, 0),
    (None, [], ids.MISSING_RESPONSE_BODY, 0),
    ("just a string", [], ids.INVALID_RESPONSE, 1),
    ({"messages": "hi"}, [], ids.INVALID_RESPONSE, 1),
    # actions are case-sensitive; with no messages an unsupported action escalates
    ({"context": {"action": "transfer", "actionParameters": {"skill": "human_skill"}}}, [],
     ids.NOT_SUPPORTED_ACTION, 0),
    ({"messages": ["a"], "context": {"action": "DANCE"}}, [("text", "a", None, None, None)], "", 1),
])
def test_reply_rules(reply, steps, error, dropped):
    got = plan(reply)
    assert [brief(s) for s in got.steps] == steps
    assert got.error == error
    assert len(got.dropped) == dropped


REMOVE = {"field": "ParticipantsChange", "type": "REMOVE", "role": "ASSIGNED_AGENT"}
BY_BOT = [{"type": "ActionReason", "reason": "escalated_by_bot"}]


@pytest.mark.parametrize(("context", "steps", "error"), [
    ({"action": "TRANSFER", "actionParameters": {"skill": "human_skill"}},
     [("transfer", [REMOVE, {"field": "Skill", "type": "UPDATE", "skill": "100"}], BY_BOT)], ""),
    ({"action": "TRANSFER", "actionParameters": {"skill": "200"}},
     [("transfer", [REMOVE, {"field": "Skill", "type": "UPDATE", "skill": "200"}], BY_BOT)], ""),
    ({"action": "TRANSFER", "actionParameters": {"skill": "Human_Skill"}}, [], ids.TRANSFER_SKILL_NOT_EXISTING),
    ({"action": "TRANSFER", "actionParameters": {"skill": "secure", "agentId": "agent-9"}},
     [("transfer", [REMOVE, {"field": "ParticipantsChange", "type": "SUGGEST", "userId": "agent-9",
                             "role": "ASSIGNED_AGENT"}, {"field": "Skill", "type": "UPDATE", "skill": "200"}],
       BY_BOT)], ""),
    ({"action": "TRANSFER", "actionParameters": {}}, [], ids.INVALID_ACTION_PARAMETERS),
    ({"action": "CLOSE_CONVERSATION", "actionParameters": {"withoutPcs": True}},
     [("update", [{"field": "ConversationStateField", "conversationState": "CLOSE"}])], ""),
    ({"action": "CHANGE_TTR", "actionParameters": {"ttrType": "URGENT"}},
     [("update", [{"field": "TTRField", "ttrType": "URGENT"}])], ""),
    ({"action": "CHANGE_TTR", "actionParameters": {"ttrType": "SOON"}}, [], ids.INVALID_ACTION_PARAMETERS),
    ({"action": "INVOCATION", "actionParameters": {"lambdaUuid": "u-1", "payload": {"some": "stuff"},
                                                   "failOnError": True}},
     [("invoke", "u-1", {"some": "stuff"}, True)], ""),
    ({"action": "INVOCATION", "actionParameters": {"lambdauuid": "u-1"}}, [], ids.INVALID_ACTION_PARAMETERS),
    ({"action": "SIGNAL", "actionParameters": {"payload": {"testParam": "testValue"}}},
     [("state", "SIGNALED", [{"type": "Signal", "payload": '{"testParam":"testValue"}'}])], ""),
    ({"action": "SEND_SECURE_FORM", "actionParameters": {"formId": 4510014332, "title": "Form"}},
     [("content", "forms/secure-invitation", {"formId": "4510014332", "invitationId": "consumer-1-uuid-1",
                                              "title": "Form"})], ""),
    ({"action": "SEND_SECURE_FORM", "actionParameters": {"title": "Form"}}, [], ids.INVALID_ACTION_PARAMETERS),
])
def test_action_rules(context, steps, error):
    got = plan({"messages": [], "context": context})
    assert [brief(s) for s in got.steps] == steps
    assert got.error == error


def test_action_comes_after_the_messages_and_the_legacy_structured_content():
    got = plan({"messages": ["Transferring", {"text": "private", "messageAudience": "AGENTS_AND_MANAGERS"}],
                "context": {"structuredContent": SC, "action": "TRANSFER",
                            "actionParameters": {"skill": "human_skill"}}})
    assert [brief(s)[0] for s in got.steps] == ["text", "text", "rich", "transfer"]


def test_encoded_metadata_needs_the_account_feature():
    got = plan({"messages": ["a"], "context": {"encodedMetadata": ENC}},
               bot=Bot(account_id="a", bot_id="b", function_uuid="f" * 8, encoded_metadata=False))
    assert got.steps == [] and "Common.EncodedMetadata" in got.dropped[0]


def test_request_envelope_puts_metadata_next_to_the_body():
    step = plan({"messages": [{"structuredContent": SC, "metadata": [{"type": "ExternalId", "id": "1"}],
                               "encodedMetadata": ENC}]}).steps[0]
    assert isinstance(step, Send)
    assert step.request("r1") == {"kind": "req", "id": "r1", "type": PUBLISH,
                                  "body": {"dialogId": "conv-1", "event": {"type": "RichContentEvent", "content": SC}},
                                  "metadata": [{"type": "ExternalId", "id": "1"}], "encodedMetadata": ENC}


def test_quick_replies_in_structured_content_become_a_text_with_quick_replies():
    quick = {"type": "quickReplies", "itemsPerRow": 8, "replies": []}
    step = plan({"messages": [{"structuredContent": {"message": "Pick one", "quickReplies": quick}}]}).steps[0]
    assert step.body["event"] == {**text_event("Pick one"), "quickReplies": quick}
