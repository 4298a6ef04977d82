"""Bots of the Third-Party Bots connector: their settings, validation and the connector's error ids.

A bot ties an account's messaging app (client id and secret: signatures in, tokens out) to the function that
answers its conversations, plus what to do when that goes wrong (bot-webhooks.md §3.3). No I/O here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from chalicelib.domain.errors import BotExists, BotInvalid, BotNotFound  # noqa: F401  (re-exported)
from chalicelib.domain.models import Document

# -- error ids of the connector (bot-webhooks.md §3.3); the ones marked "ours" are not public ---------------------
PREFIX = "com.liveperson.bot-connectors-worker.error."
MISSING_ACTION_AND_MESSAGES = PREFIX + "pipes.verify-ai-response.missing-action-and-messages"
NOT_SUPPORTED_ACTION = PREFIX + "pipes.verify-ai-response.no-messages-and-not-supported-action"
INVALID_RESPONSE = PREFIX + "pipes.verify-ai-response.invalid-response"  # ours
INVALID_ACTION_PARAMETERS = PREFIX + "pipes.verify-ai-response.invalid-action-parameters"  # ours
TRANSFER_SKILL_NOT_EXISTING = PREFIX + "pipes.messaging-handle-bot-action.transfer-skill-not-existing"
INVOKE_LAMBDA = PREFIX + "aivendor.faas.invoke-lambda"
FAILED_FAAS_REQUEST = PREFIX + "aivendor.faas.failed-faas-request"
MISSING_RESPONSE_BODY = PREFIX + "aivendor.faas.missing-response-body"
FAILED_HOOK = PREFIX + "aivendor.faas.failed-hook"
SEND_MESSAGE = PREFIX + "connector.messaging.send-message"
FAILED_INVOCATION_ACTION = PREFIX + "aivendor.faas.invocation-action-failed"  # ours: INVOCATION with failOnError

ERROR_NAMES = {
    MISSING_ACTION_AND_MESSAGES: "the reply has neither messages nor an action",
    NOT_SUPPORTED_ACTION: "the reply has no messages and an action that is not supported",
    INVALID_RESPONSE: "the reply is not a valid response",
    INVALID_ACTION_PARAMETERS: "the reply's actionParameters are invalid",
    TRANSFER_SKILL_NOT_EXISTING: "the transfer skill does not exist",
    INVOKE_LAMBDA: "the function failed",
    FAILED_FAAS_REQUEST: "the function could not be invoked (not deployed, timed out or overloaded)",
    MISSING_RESPONSE_BODY: "the function answered without a body",
    FAILED_HOOK: "a hook function failed",
    SEND_MESSAGE: "the messaging platform refused or could not take the outbound events",
    FAILED_INVOCATION_ACTION: "the INVOCATION action's function failed (failOnError)",
}

# -- limits (events-and-bots.md §2.4, bot-webhooks.md §3.3) ------------------------------------------------------
ENCODED_METADATA_MAX = 5 * 1024
MAX_DELAY_S = 60  # ours: a delay holds the conversation's queue; longer ones are refused (item dropped)
TEST_CONNECTION_BUDGET_S = 1.0  # "keep runtime under 1 second" (seed 004)
MAX_CONCURRENCY = 64
BOTS_PER_ACCOUNT = 100  # ours

_BOT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
_UUID = re.compile(r"^[0-9a-fA-F-]{8,64}$")
HOOKS = ("pre", "post", "error")


@dataclass(frozen=True)
class Escalation(Document):
    """Error handling settings (bot-webhooks.md §3.3); empty = that step is skipped."""

    customer_message: str = ""
    agent_message: str = ""
    transfer_failure_message: str = ""
    skill: str = ""  # the default escalation skill: a name of ``Bot.skills`` or an id


@dataclass(frozen=True)
class Bot(Document):
    account_id: str
    bot_id: str
    function_uuid: str
    name: str = ""
    agent_id: str = ""  # the bot's agent user id: a conversation is the bot's when it is its ASSIGNED_AGENT
    client_id: str = ""
    secret: dict[str, str] = field(default_factory=dict)  # the client secret's envelope (never shown)
    skills: dict[str, str] = field(default_factory=dict)  # skill name -> skill id, for TRANSFER by name
    escalation: dict[str, str] = field(default_factory=dict)  # Escalation.to_dict()
    hooks: dict[str, str] = field(default_factory=dict)  # "pre" | "post" | "error" -> function uuid
    welcome: bool = True  # invoke the function with the welcome event when the bot is assigned
    send_sdes: bool = False  # pass engagement attributes as context.lpSdes
    encoded_metadata: bool = True  # the account's Common.EncodedMetadata feature
    callback_url: str = ""  # the plain JSON form: outbound events are POSTed here (else: in the HTTP answer)
    max_concurrency: int = 8  # conversations of this bot processed at once, per gateway process
    created_at: str = ""
    created_by: str = ""
    updated_at: str = ""
    updated_by: str = ""

    @property
    def escalation_settings(self) -> Escalation:
        return Escalation.from_dict(self.escalation)

    def skill_id(self, skill: str) -> str | None:
        """A skill name (case-sensitive) or a known skill id → the id; None if it is neither."""
        if skill in self.skills:
            return self.skills[skill]
        if skill in self.skills.values() or (skill.isdigit() and not self.skills):
            return skill
        return None


def validate_bot_id(bot_id: Any) -> str:
    if not isinstance(bot_id, str) or not _BOT_ID.match(bot_id):
        raise BotInvalid(detail="botId must be 1-64 letters, digits, '-' or '_', starting with a letter or digit")
    return bot_id


def _text(body: dict[str, Any], key: str, *, required: bool = False, limit: int = 1000) -> str:
    value = body.get(key, "")
    if value is None:
        value = ""
    if not isinstance(value, str) or len(value) > limit:
        raise BotInvalid(detail=f"'{key}' must be a string of at most {limit} characters")
    if required and not value.strip():
        raise BotInvalid(detail=f"'{key}' is required")
    return value


def _function(value: Any, what: str) -> str:
    if not isinstance(value, str) or not _UUID.match(value):
        raise BotInvalid(detail=f"'{what}' must be a function uuid")
    return value


def _flag(body: dict[str, Any], key: str, default: bool) -> bool:
    value = body.get(key, default)
    if not isinstance(value, bool):
        raise BotInvalid(detail=f"'{key}' must be true or false")
    return value


def _object(body: dict[str, Any], key: str) -> dict[str, Any]:
    value = body.get(key) or {}
    if not isinstance(value, dict):
        raise BotInvalid(detail=f"'{key}' must be an object")
    return value


def _skills(value: dict[str, Any]) -> dict[str, str]:
    out = {}
    for name, skill_id in value.items():
        if isinstance(skill_id, int) and not isinstance(skill_id, bool):
            skill_id = str(skill_id)
        if not name or not isinstance(skill_id, str) or not skill_id.strip() or len(name) > 256:
            raise BotInvalid(detail="'skills' maps skill names to skill ids (strings or numbers)")
        out[name] = skill_id
    return out


def _callback(value: str) -> str:
    if value and not re.match(r"^https?://[^\s/]+(/\S*)?$", value):
        raise BotInvalid(detail="'callbackUrl' must be an http(s) URL")
    return value


@dataclass(frozen=True)
class BotSettings:
    """What a create or update request sets (the wire form parsed and validated); the secret in clear."""

    function_uuid: str
    name: str
    agent_id: str
    client_id: str
    client_secret: str | None  # None: keep the stored one (update)
    skills: dict[str, str]
    escalation: Escalation
    hooks: dict[str, str]
    welcome: bool
    send_sdes: bool
    encoded_metadata: bool
    callback_url: str
    max_concurrency: int


def parse_settings(body: dict[str, Any], *, creating: bool) -> BotSettings:
    """The wire form of a bot (camelCase, README "Bots") → settings; BotInvalid names the first bad field."""
    secret = body.get("clientSecret")
    if secret is not None and (not isinstance(secret, str) or not secret or len(secret) > 512):
        raise BotInvalid(detail="'clientSecret' must be a non-empty string")
    if creating and secret is None:
        raise BotInvalid(detail="'clientSecret' is required (it checks the webhook's signatures)")
    esc = _object(body, "escalation")
    hooks = {k: _function(v, f"hooks.{k}") for k, v in _object(body, "hooks").items() if v}
    if set(hooks) - set(HOOKS):
        raise BotInvalid(detail=f"'hooks' may only name {', '.join(HOOKS)}")
    options = _object(body, "options")
    concurrency = options.get("maxConcurrency", 8)
    if not isinstance(concurrency, int) or isinstance(concurrency, bool) or not 1 <= concurrency <= MAX_CONCURRENCY:
        raise BotInvalid(detail=f"'options.maxConcurrency' must be a whole number from 1 to {MAX_CONCURRENCY}")
    return BotSettings(
        function_uuid=_function(body.get("functionUuid"), "functionUuid"), name=_text(body, "name"),
        agent_id=_text(body, "agentId", limit=256), client_id=_text(body, "clientId", limit=256),
        client_secret=secret, skills=_skills(_object(body, "skills")),
        escalation=Escalation(customer_message=_text(esc, "customerMessage"), agent_message=_text(esc, "agentMessage"),
                              transfer_failure_message=_text(esc, "transferFailureMessage"),
                              skill=_text(esc, "skill", limit=256)),
        hooks=hooks, welcome=_flag(options, "welcome", True), send_sdes=_flag(options, "sendSdes", False),
        encoded_metadata=_flag(options, "encodedMetadata", True),
        callback_url=_callback(_text(body, "callbackUrl", limit=2048)), max_concurrency=concurrency)
