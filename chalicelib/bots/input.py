"""The function's input, built as LivePerson's Third-Party Bots connector builds it (events-and-bots.md §2.2,
bot-webhooks.md §3.1), and what a conversation change means for the bot. Pure functions over plain data.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

RICH_CONTENT = "com.liveperson.bot-connectors.consumer.send-rich-content"
FILE = "com.liveperson.bot-connectors.consumer.send-file"
FORM_SUBMISSION_INTENT = "FORM-SUBMISSION-INTENT"
PRIVATE = "AGENTS_AND_MANAGERS"


class Inbound(StrEnum):
    TEXT = "text"
    RICH = "rich"
    FILE = "file"
    FORM_SUBMISSION = "form-submission"
    SIGNAL = "signal"
    WELCOME = "welcome"
    IGNORED = "ignored"


def classify(change: dict[str, Any]) -> Inbound:
    """What a messaging change is for the bot: only the consumer's public events of the MAIN dialog reach it."""
    meta = change.get("originatorMetadata") or {}
    if meta.get("role", "CONSUMER") != "CONSUMER" or change.get("messageAudience") == PRIVATE:
        return Inbound.IGNORED
    conv, dialog = change.get("conversationId"), change.get("dialogId")
    if conv and dialog and conv != dialog:
        return Inbound.IGNORED  # a survey dialog, not the conversation
    event = change.get("event") or {}
    kind = event.get("type")
    if kind == "RichContentEvent":
        return Inbound.RICH
    if kind == "ChatStateEvent":
        return Inbound.SIGNAL if event.get("chatState") == "SIGNALED" else Inbound.IGNORED
    if kind != "ContentEvent":
        return Inbound.IGNORED
    return {"text/plain": Inbound.TEXT, "hosted/file": Inbound.FILE,
            "forms/secure-submission": Inbound.FORM_SUBMISSION}.get(event.get("contentType", "text/plain"),
                                                                     Inbound.IGNORED)


def signal_payload(change: dict[str, Any]) -> str:
    for item in change.get("metadata") or []:
        if isinstance(item, dict) and item.get("type") == "Signal":
            payload = item.get("payload", "")
            return payload if isinstance(payload, str) else json.dumps(payload)
    return ""


def _message(kind: Inbound, change: dict[str, Any]) -> str:
    if kind is Inbound.TEXT:
        text = (change.get("event") or {}).get("message", "")
        return text if isinstance(text, str) else ""
    fixed = {Inbound.RICH: RICH_CONTENT, Inbound.FILE: FILE, Inbound.FORM_SUBMISSION: FORM_SUBMISSION_INTENT}
    return fixed.get(kind, "")


def _event(kind: Inbound, change: dict[str, Any]) -> dict[str, Any] | None:
    if kind is Inbound.FORM_SUBMISSION:
        return {"name": "FORM_SUBMISSION"}
    if kind is Inbound.SIGNAL:
        return {"name": "SIGNAL", "data": {"payload": signal_payload(change)}}
    if kind is Inbound.WELCOME:
        return {"name": "welcome"}
    return None


def _rich_content(event: dict[str, Any]) -> dict[str, Any]:
    """RichContentEvent content as an object: the history API gives it as a JSON string (bot-webhooks.md §1.6)."""
    content = event.get("content")
    if isinstance(content, str):
        try:
            parsed = json.loads(content)
        except ValueError:
            return event
        return {**event, "content": parsed}
    return event


def function_payload(kind: Inbound, conversation_id: str, change: dict[str, Any], *,
                     conversation_context: dict[str, Any] | None = None, sdes: dict[str, Any] | None = None,
                     last_consumer_message: str = "") -> dict[str, Any]:
    """``input.payload`` for the bot's function: {message, convId, event?, context: {lpEvent, lpSdes}}."""
    if kind is Inbound.WELCOME:
        lp_event: dict[str, Any] = {"type": "ContentEvent", "content": "welcome"}
        if last_consumer_message:
            lp_event["lastConsumerMessage"] = last_consumer_message
    else:
        lp_event = dict(change)
        if kind is Inbound.RICH:
            lp_event["event"] = _rich_content(change.get("event") or {})
    if conversation_context:
        lp_event["conversationContext"] = conversation_context
    payload: dict[str, Any] = {"message": _message(kind, change), "convId": conversation_id}
    event = _event(kind, change)
    if event is not None:
        payload["event"] = event
    payload["context"] = {"lpEvent": lp_event, "lpSdes": sdes or {}}
    return payload


@dataclass(frozen=True)
class Assignment:
    """What an ExConversationChangeNotification says about the bot's part in the conversation (§1.7)."""

    assigned: bool  # the bot is the ACTIVE assigned agent of an open conversation
    closed: bool
    context: dict[str, Any]  # lpEvent.conversationContext
    last_consumer_message: str  # the consumer's last text, when the conversation had one (a transfer)


def assignment(change: dict[str, Any], agent_id: str) -> Assignment:
    result = change.get("result") or {}
    details = result.get("conversationDetails") or {}
    closed = change.get("type") == "DELETE" or "CLOSE" in (details.get("state"), details.get("stage"))
    mine = any(_is_bot(p, agent_id) for p in _participants(details))
    return Assignment(assigned=mine and not closed, closed=closed, context=_context(details),
                      last_consumer_message=_last_consumer_text(result.get("lastContentEventNotification")))


def _participants(details: dict[str, Any]) -> list[dict[str, Any]]:
    found = [p for d in details.get("dialogs") or [] if isinstance(d, dict) and d.get("dialogType", "MAIN") == "MAIN"
             for p in d.get("participantsDetails") or [] if isinstance(p, dict)]
    return found or [p for p in details.get("participants") or [] if isinstance(p, dict)]


def _is_bot(participant: dict[str, Any], agent_id: str) -> bool:
    pid = str(participant.get("id", ""))
    same = bool(agent_id) and (pid == agent_id or pid.endswith("." + agent_id))
    return same and participant.get("role") == "ASSIGNED_AGENT" and participant.get("state", "ACTIVE") == "ACTIVE"


def _context(details: dict[str, Any]) -> dict[str, Any]:
    campaign = details.get("campaignInfo") or {}
    client = (details.get("context") or {}).get("clientProperties") or {}
    visitor = {k: client[k] for k in ("ipAddress", "browser", "os", "osVersion", "integration", "integrationVersion",
                                      "browserVersion", "features", "deviceFamily") if k in client}
    lang = (details.get("context") or {}).get("lang")
    if lang:
        visitor["language"] = lang
    out: dict[str, Any] = {"skillId": str(details.get("skillId", "")), "type": "MESSAGING", "visitor": visitor}
    if campaign:
        out |= {"campaignId": str(campaign.get("campaignId", "")),
                "engagementId": str(campaign.get("engagementId", ""))}
    return out


def _last_consumer_text(notification: Any) -> str:
    if not isinstance(notification, dict):
        return ""
    if (notification.get("originatorMetadata") or {}).get("role") != "CONSUMER":
        return ""
    event = notification.get("event") or {}
    message = event.get("message")
    return message if event.get("type") == "ContentEvent" and isinstance(message, str) else ""
