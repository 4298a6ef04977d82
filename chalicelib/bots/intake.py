"""Webhook intake, before anything is queued: the signature on the raw body, then the notification's shape.

bot-webhooks.md §1: ``x-liveperson-signature`` is ``sha1=`` or ``sha256=`` followed by the HMAC of the exact body
bytes keyed with the app's client secret, Base64 (the default) or hex. It is checked before the body is parsed,
in constant time. A notification is split into one unit of work per change, keyed for deduplication on
(dialogId, sequence) — (convId, metaDataLastUpdateTs) for conversation changes — and grouped by conversation.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

from chalicelib.domain import jsondoc
from chalicelib.domain.errors import BadInput, NotAuthenticated

SIGNATURE_HEADER = "x-liveperson-signature"
MESSAGING = "ms.MessagingEventNotification"
CONVERSATION = "cqm.ExConversationChangeNotification"
WELCOME = "welcome"  # the plain JSON form's welcome event (the LivePerson form derives it from CONVERSATION)
_ALGORITHMS = {"sha1": hashlib.sha1, "sha256": hashlib.sha256}
# What the connector acts on (bot-webhooks.md §1.8); anything else is acknowledged and dropped at once.
_ACTED_ON = {"ContentEvent", "RichContentEvent"}


def sign(secret: str, body: bytes, algorithm: str = "sha1", encoding: str = "base64") -> str:
    """The header value LivePerson sends for ``body`` (also used by the fake messaging side)."""
    digest = hmac.new(secret.encode(), body, _ALGORITHMS[algorithm]).digest()
    text = base64.b64encode(digest).decode() if encoding == "base64" else digest.hex()
    return f"{algorithm}={text}"


def verify(secret: str, body: bytes, header: str | None) -> None:
    """NotAuthenticated unless ``header`` is a valid signature of ``body``; Base64 and hex digests both pass."""
    algorithm, sep, given = (header or "").strip().partition("=")
    digest_of = _ALGORITHMS.get(algorithm.lower())
    if not sep or digest_of is None or not given:
        raise NotAuthenticated(detail="missing or malformed x-liveperson-signature (sha1=… or sha256=…)")
    expected = hmac.new(secret.encode(), body, digest_of).digest()
    if not hmac.compare_digest(expected, _decode(given, len(expected))):
        raise NotAuthenticated(detail="the signature does not match the body")


def _decode(text: str, size: int) -> bytes:
    """The digest a header carries, hex or Base64; a wrong length or alphabet gives bytes that cannot match."""
    try:
        if len(text) == size * 2:
            return bytes.fromhex(text)
        return base64.b64decode(text, validate=True)
    except (ValueError, binascii.Error):
        return b""


@dataclass(frozen=True)
class Unit:
    """One change of a notification, as queued: what it is, its conversation and its dedupe key."""

    type: str  # MESSAGING | CONVERSATION
    conversation_id: str
    dedupe: str  # "" for changes without a key (chat states): never deduplicated
    change: dict[str, Any]
    sdes: dict[str, Any] | None = None  # engagement attributes the plain form brings along

    def to_payload(self) -> dict[str, Any]:
        out = {"type": self.type, "conversation_id": self.conversation_id, "change": self.change}
        return out if self.sdes is None else out | {"sdes": self.sdes}


def parse_notification(body: bytes) -> list[Unit]:
    """The units of work of a LivePerson notification (bot-webhooks.md §1.5–1.7); BadInput if malformed."""
    try:
        doc = jsondoc.parse(body)
    except jsondoc.JsonRejected as exc:
        raise BadInput(detail=f"notification is not valid JSON: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("body"), dict):
        raise BadInput(detail="notification must be an object with 'body'")
    kind = doc.get("type")
    changes = doc["body"].get("changes")
    if kind not in (MESSAGING, CONVERSATION) or not isinstance(changes, list):
        raise BadInput(detail=f"notification type must be {MESSAGING} or {CONVERSATION}, with body.changes[]")
    units = [_messaging(c) if kind == MESSAGING else _conversation(c) for c in changes]
    return [u for u in units if u is not None]


def _messaging(change: Any) -> Unit | None:
    if not isinstance(change, dict) or not isinstance(change.get("event"), dict):
        raise BadInput(detail="each messaging change must be an object with 'event'")
    conv = change.get("conversationId") or change.get("dialogId")
    if not isinstance(conv, str) or not conv:
        raise BadInput(detail="each messaging change needs conversationId")
    event_type = change["event"].get("type")
    chat_state = change["event"].get("chatState")
    if event_type not in _ACTED_ON and not (event_type == "ChatStateEvent" and chat_state == "SIGNALED"):
        return None
    sequence = change.get("sequence")
    if sequence is not None and (not isinstance(sequence, int) or isinstance(sequence, bool)):
        raise BadInput(detail="'sequence' must be a whole number")
    dialog = change.get("dialogId") or conv
    dedupe = f"{dialog}#{sequence:012d}" if sequence is not None else ""
    return Unit(MESSAGING, conv, dedupe, change)


def _conversation(change: Any) -> Unit | None:
    if not isinstance(change, dict) or not isinstance(change.get("result"), dict):
        raise BadInput(detail="each conversation change must be an object with 'result'")
    result = change["result"]
    conv = result.get("convId")
    if not isinstance(conv, str) or not conv:
        raise BadInput(detail="each conversation change needs result.convId")
    details = result.get("conversationDetails") or {}
    stamp = details.get("metaDataLastUpdateTs") if isinstance(details, dict) else None
    dedupe = f"{conv}#meta#{stamp}" if stamp is not None else ""
    return Unit(CONVERSATION, conv, dedupe, change)


def parse_plain(body: bytes, now_ms: int) -> list[Unit]:
    """The plain JSON form (README "Bots"): {conversationId, sequence?, consumerId?, message | richContent |
    event: "welcome" | "SIGNAL" | "FORM_SUBMISSION", signalPayload?, sdes?} → one unit shaped like LivePerson's."""
    try:
        doc = jsondoc.parse(body)
    except jsondoc.JsonRejected as exc:
        raise BadInput(detail=f"body is not valid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise BadInput(detail="body must be a JSON object")
    conv, consumer, sequence = doc.get("conversationId"), doc.get("consumerId", "consumer"), doc.get("sequence")
    if not isinstance(conv, str) or not conv or len(conv) > 256 or not isinstance(consumer, str):
        raise BadInput(detail="'conversationId' (a string) is required; 'consumerId' is a string")
    if sequence is not None and (not isinstance(sequence, int) or isinstance(sequence, bool) or sequence < 0):
        raise BadInput(detail="'sequence' must be a whole number")
    sdes = doc.get("sdes")
    if sdes is not None and not isinstance(sdes, dict):
        raise BadInput(detail="'sdes' must be an object")
    change: dict[str, Any] = {"conversationId": conv, "dialogId": conv, "originatorId": consumer,
                              "originatorMetadata": {"id": consumer, "role": "CONSUMER"}, "serverTimestamp": now_ms,
                              "event": _plain_event(doc), "messageAudience": "ALL"}
    if sequence is not None:
        change["sequence"] = sequence
    if change["event"]["type"] == "ChatStateEvent":
        change["metadata"] = [{"type": "Signal", "payload": str(doc.get("signalPayload", ""))}]
    unit_type = WELCOME if change["event"].get("type") == WELCOME else MESSAGING
    if unit_type == WELCOME:
        change["event"] = {}
    dedupe = f"{conv}#{sequence:012d}" if sequence is not None else ""
    return [Unit(unit_type, conv, dedupe, change, sdes)]


def _plain_event(doc: dict[str, Any]) -> dict[str, Any]:
    event = doc.get("event")
    if event == "welcome":
        return {"type": WELCOME}
    if event == "SIGNAL":
        return {"type": "ChatStateEvent", "chatState": "SIGNALED"}
    if event == "FORM_SUBMISSION":
        return {"type": "ContentEvent", "contentType": "forms/secure-submission",
                "message": {"invitationId": str(doc.get("invitationId", ""))}}
    if event is not None:
        raise BadInput(detail="'event' must be welcome, SIGNAL or FORM_SUBMISSION")
    if isinstance(doc.get("richContent"), dict):
        return {"type": "RichContentEvent", "content": doc["richContent"]}
    message = doc.get("message")
    if not isinstance(message, str):
        raise BadInput(detail="one of 'message' (a string), 'richContent' (an object) or 'event' is required")
    return {"type": "ContentEvent", "contentType": "text/plain", "message": message}
