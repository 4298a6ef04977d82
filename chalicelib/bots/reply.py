"""The bot function's reply → the outbound steps for the messaging side, rule by rule (events-and-bots.md §2.3–2.4,
seed 002, bot-webhooks.md §3.2). Pure: the reply, the bot and the conversation in; a Plan out.

Order: ``messages[]`` in order, then the legacy ``context.structuredContent``, then the action. An item that breaks
a rule (bad encodedMetadata, a fractional delay, a wrong messageAudience, an unknown form) is dropped with a
reason; a reply that cannot be honoured at all names the connector error id it escalates with.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from chalicelib.bots.input import PRIVATE
from chalicelib.domain import bots as ids
from chalicelib.domain.bots import Bot

PUBLISH = ".ams.ms.PublishEvent"
UPDATE = ".ams.cm.UpdateConversationField"
TTR_TYPES = ("URGENT", "NORMAL", "PRIORITIZED")
ACTIONS = ("TRANSFER", "CLOSE_CONVERSATION", "CHANGE_TTR", "INVOCATION", "SIGNAL", "SEND_SECURE_FORM")


@dataclass(frozen=True)
class Send:
    """One agent-side request: ``type`` is PUBLISH or UPDATE; metadata sit next to the body (§2.1)."""

    type: str
    body: dict[str, Any]
    metadata: list[dict[str, Any]] | None = None
    encoded_metadata: str | None = None

    def request(self, request_id: str) -> dict[str, Any]:
        req: dict[str, Any] = {"kind": "req", "id": request_id, "type": self.type, "body": self.body}
        if self.metadata:
            req["metadata"] = self.metadata
        if self.encoded_metadata:
            req["encodedMetadata"] = self.encoded_metadata
        return req


@dataclass(frozen=True)
class Wait:
    seconds: int


@dataclass(frozen=True)
class Invoke:
    """The INVOCATION action: run another function; its failure escalates only with ``fail_on_error``."""

    lambda_uuid: str
    payload: Any
    fail_on_error: bool


@dataclass(frozen=True)
class Transfer:
    """A transfer's fields; sent like any update, but its failure sends the transfer failure message."""

    send: Send


Step = Send | Wait | Invoke | Transfer


@dataclass
class Plan:
    steps: list[Step] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)  # one reason per dropped item, for the bot's log
    error: str = ""  # a connector error id: escalate instead of (after) the steps
    intent: dict[str, Any] = field(default_factory=dict)  # intentId / intentName / confidenceScore, for analytics


@dataclass(frozen=True)
class Conversation:
    conversation_id: str
    dialog_id: str = ""
    consumer_id: str = ""

    @property
    def dialog(self) -> str:
        return self.dialog_id or self.conversation_id


# -- builders of agent-side requests (bot-webhooks.md §2.2, §2.4) --------------------------------------------------
def text(conv: Conversation, message: str, *, private: bool = False, metadata: list | None = None,
         encoded: str | None = None) -> Send:
    body: dict[str, Any] = {"dialogId": conv.dialog, "event": {"type": "ContentEvent", "contentType": "text/plain",
                                                               "message": message}}
    if private:
        body["messageAudience"] = PRIVATE
    return Send(PUBLISH, body, metadata or None, encoded)


def chat_state(conv: Conversation, state: str, metadata: list | None = None) -> Send:
    return Send(PUBLISH, {"dialogId": conv.dialog, "event": {"type": "ChatStateEvent", "chatState": state}},
                metadata or None)


def update(conv: Conversation, fields: list[dict[str, Any]], metadata: list | None = None) -> Send:
    return Send(UPDATE, {"conversationId": conv.conversation_id, "conversationField": fields}, metadata or None)


def transfer(conv: Conversation, skill_id: str | None, agent_id: str = "", reason: str = "escalated_by_bot") -> Send:
    fields: list[dict[str, Any]] = [{"field": "ParticipantsChange", "type": "REMOVE", "role": "ASSIGNED_AGENT"}]
    if agent_id:
        fields.append({"field": "ParticipantsChange", "type": "SUGGEST", "userId": agent_id, "role": "ASSIGNED_AGENT"})
    if skill_id:
        fields.append({"field": "Skill", "type": "UPDATE", "skill": skill_id})
    return update(conv, fields, [{"type": "ActionReason", "reason": reason}])


# -- validation helpers --------------------------------------------------------------------------------------------
def encoded_metadata_problem(value: Any, feature_on: bool) -> str:
    """Why ``value`` cannot be sent as encodedMetadata ("" if it can): base64, at most 5k, feature on."""
    if not feature_on:
        return "encodedMetadata needs the account's Common.EncodedMetadata feature"
    if not isinstance(value, str) or not value:
        return "encodedMetadata must be a base64 string"
    if len(value) > ids.ENCODED_METADATA_MAX:
        return f"encodedMetadata is longer than {ids.ENCODED_METADATA_MAX} characters"
    try:
        base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return "encodedMetadata is not base64"
    return ""


def _metadata_list(value: Any) -> list[dict[str, Any]] | None:
    """An item's or the context's metadata: an object is wrapped in a list; None if it is neither."""
    if isinstance(value, dict):
        return [value]
    if isinstance(value, list) and all(isinstance(m, dict) for m in value):
        return list(value)
    return None


def _whole(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


# -- the translation -----------------------------------------------------------------------------------------------
class _Builder:
    def __init__(self, bot: Bot, conv: Conversation, context: dict[str, Any], new_id: Callable[[], str]) -> None:
        self.bot, self.conv, self.context, self.new_id = bot, conv, context, new_id
        self.plan = Plan()
        self.published = 0
        meta = _metadata_list(context.get("metadata")) if "metadata" in context else []
        if meta is None:
            self.plan.dropped.append("context.metadata must be an object or a list of objects; ignored")
            meta = []
        intent: dict[str, Any] = {k: context[k] for k in ("intentId", "intentName", "confidenceScore") if k in context}
        self.plan.intent = intent
        if intent.get("intentId"):
            meta.append({"type": "BotResponse", "intents": [
                {"id": str(intent["intentId"]), "name": str(intent.get("intentName", "")),
                 "confidenceScore": intent.get("confidenceScore", 1)}]})
        self.metadata = meta

    def encoded(self, item: dict[str, Any] | None, where: str) -> tuple[bool, str | None]:
        """(keep the message?, the encodedMetadata to send): per-item beats context; a bad one drops it."""
        source = item if item is not None and "encodedMetadata" in item else self.context
        if "encodedMetadata" not in source:
            return True, None
        problem = encoded_metadata_problem(source["encodedMetadata"], self.bot.encoded_metadata)
        if problem:
            self.plan.dropped.append(f"{where}: dropped: {problem}")
            return False, None
        return True, source["encodedMetadata"]

    def publish(self, send: Send) -> None:
        self.plan.steps.append(send)
        self.published += 1

    def item(self, index: int, item: Any) -> None:
        where = f"messages[{index}]"
        if isinstance(item, str):
            self.text_item(where, item, None)
        elif not isinstance(item, dict):
            self.plan.dropped.append(f"{where}: dropped: not a string or an object")
        elif "delay" in item:
            self.delay(where, item)
        elif "structuredContent" in item:
            self.structured(where, item["structuredContent"], item)
        elif "messageAudience" in item:
            if item["messageAudience"] != PRIVATE:
                self.plan.dropped.append(f"{where}: dropped: messageAudience must be exactly {PRIVATE}")
            elif not isinstance(item.get("text"), str) or not item["text"]:
                self.plan.dropped.append(f"{where}: dropped: a private message needs 'text'")
            else:
                self.publish(text(self.conv, item["text"], private=True))
        elif "text" in item:
            self.text_item(where, item["text"], item)
        else:
            self.plan.dropped.append(f"{where}: dropped: unknown message form")

    def text_item(self, where: str, message: Any, item: dict[str, Any] | None) -> None:
        if not isinstance(message, str) or not message:
            self.plan.dropped.append(f"{where}: dropped: empty text")
            return
        keep, encoded = self.encoded(item, where)
        if keep:
            self.publish(text(self.conv, message, metadata=self.metadata, encoded=encoded))

    def delay(self, where: str, item: dict[str, Any]) -> None:
        seconds, typing = _whole(item["delay"]), item.get("typing", True)
        if seconds is None or not 0 <= seconds <= ids.MAX_DELAY_S:
            self.plan.dropped.append(f"{where}: dropped: delay must be whole seconds from 0 to {ids.MAX_DELAY_S}")
            return
        if typing is not False:
            self.plan.steps.append(chat_state(self.conv, "COMPOSING"))
        self.plan.steps.append(Wait(seconds))
        if typing is not False:
            self.plan.steps.append(chat_state(self.conv, "ACTIVE"))

    def structured(self, where: str, content: Any, item: dict[str, Any] | None) -> None:
        if not isinstance(content, dict) or not content:
            self.plan.dropped.append(f"{where}: dropped: structuredContent must be an object")
            return
        metadata = list(self.metadata)
        if item is not None and "metadata" in item:
            own = _metadata_list(item["metadata"])
            if own is None:
                self.plan.dropped.append(f"{where}: dropped: metadata must be an object or a list of objects")
                return
            metadata = [*own, *metadata]
        keep, encoded = self.encoded(item, where)
        if not keep:
            return
        if "quickReplies" in content and "message" in content and "type" not in content:
            event = {"type": "ContentEvent", "contentType": "text/plain", "message": str(content["message"]),
                     "quickReplies": content["quickReplies"]}
        else:
            event = {"type": "RichContentEvent", "content": content}
        self.publish(Send(PUBLISH, {"dialogId": self.conv.dialog, "event": event}, metadata or None, encoded))

    def action(self, name: Any, params: Any) -> None:
        if name not in ACTIONS:
            if not self.published:
                self.plan.error = ids.NOT_SUPPORTED_ACTION
            else:
                self.plan.dropped.append(f"context.action: ignored: {name!r} is not a supported action")
            return
        params = params if isinstance(params, dict) else {}
        getattr(self, "action_" + name.lower())(params)

    def bad(self, detail: str) -> None:
        self.plan.dropped.append(f"context.actionParameters: {detail}")
        self.plan.error = ids.INVALID_ACTION_PARAMETERS

    def action_transfer(self, params: dict[str, Any]) -> None:
        skill, agent = params.get("skill"), params.get("agentId")
        if agent is not None and (not isinstance(agent, str | int) or isinstance(agent, bool) or agent == ""):
            return self.bad("agentId must be a string")
        if skill is None and agent is None:
            return self.bad("TRANSFER needs 'skill' (a name or id) or 'agentId'")
        skill_id = None
        if skill is not None:
            skill_id = self.bot.skill_id(str(skill))
            if skill_id is None:
                self.plan.dropped.append(f"context.actionParameters: unknown skill {skill!r}")
                self.plan.error = ids.TRANSFER_SKILL_NOT_EXISTING
                return None
        self.plan.steps.append(Transfer(transfer(self.conv, skill_id, str(agent or ""))))
        return None

    def action_close_conversation(self, params: dict[str, Any]) -> None:
        if params.get("withoutPcs") is True:
            fields: list[dict[str, Any]] = [{"field": "ConversationStateField", "conversationState": "CLOSE"}]
        else:  # closing the MAIN dialog lets the post-conversation survey run
            fields = [{"field": "DialogChange", "type": "UPDATE",
                       "dialog": {"dialogId": self.conv.dialog, "state": "CLOSE", "closedBy": "AGENT"}}]
        self.plan.steps.append(update(self.conv, fields))

    def action_change_ttr(self, params: dict[str, Any]) -> None:
        ttr = params.get("ttrType")
        if ttr not in TTR_TYPES:
            return self.bad(f"ttrType must be one of {', '.join(TTR_TYPES)}")
        self.plan.steps.append(update(self.conv, [{"field": "TTRField", "ttrType": ttr}]))
        return None

    def action_invocation(self, params: dict[str, Any]) -> None:
        uuid, fail = params.get("lambdaUuid"), params.get("failOnError", False)
        if not isinstance(uuid, str) or not uuid or not isinstance(fail, bool):
            return self.bad("INVOCATION needs 'lambdaUuid' (a string); 'failOnError' is true or false")
        self.plan.steps.append(Invoke(uuid, params.get("payload"), fail))
        return None

    def action_signal(self, params: dict[str, Any]) -> None:
        payload = params.get("payload", {})
        text_payload = payload if isinstance(payload, str) else json.dumps(payload, separators=(",", ":"))
        self.plan.steps.append(chat_state(self.conv, "SIGNALED", [{"type": "Signal", "payload": text_payload}]))

    def action_send_secure_form(self, params: dict[str, Any]) -> None:
        form_id, title = params.get("formId"), params.get("title")
        if isinstance(form_id, bool) or not isinstance(form_id, int | str) or not str(form_id).isdigit() \
                or not isinstance(title, str) or not title:
            return self.bad("SEND_SECURE_FORM needs 'formId' (a number) and 'title'")
        invitation = f"{self.conv.consumer_id or 'consumer'}-{self.new_id()}"
        event = {"type": "ContentEvent", "contentType": "forms/secure-invitation",
                 "message": {"formId": str(form_id), "invitationId": invitation, "title": title}}
        self.plan.steps.append(Send(PUBLISH, {"dialogId": self.conv.dialog, "event": event}))
        return None


def translate(reply: Any, bot: Bot, conv: Conversation, new_id: Callable[[], str]) -> Plan:
    """The steps for ``reply``; ``plan.error`` set when the reply escalates (steps before it are still sent)."""
    if reply is None:
        return Plan(error=ids.MISSING_RESPONSE_BODY)
    if not isinstance(reply, dict):
        return Plan(error=ids.INVALID_RESPONSE, dropped=["the reply must be an object {messages, context}"])
    messages, context = reply.get("messages", []), reply.get("context") or {}
    if messages is None:
        messages = []
    if not isinstance(messages, list) or not isinstance(context, dict):
        return Plan(error=ids.INVALID_RESPONSE, dropped=["'messages' must be a list and 'context' an object"])
    b = _Builder(bot, conv, context, new_id)
    for index, item in enumerate(messages):
        b.item(index, item)
    if "structuredContent" in context:
        b.structured("context.structuredContent", context["structuredContent"], None)
    action = context.get("action")
    if action is not None:
        b.action(action, context.get("actionParameters"))
    sole_delays = bool(messages) and all(isinstance(m, dict) and "delay" in m for m in messages)
    if sole_delays and action is None and not b.published:
        b.plan.steps = []  # a delay alone is "no response" (seed 002)
    elif not messages and action is None and "structuredContent" not in context:
        b.plan.error = ids.MISSING_ACTION_AND_MESSAGES
    return b.plan
