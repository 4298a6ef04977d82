"""What the connector does when a bot fails (bot-webhooks.md §3.3): the customer message, the private message to
the agent, then the transfer to the default escalation skill, marked ``escalated_by_error``. Pure."""

from __future__ import annotations

from typing import Any

from chalicelib.bots.reply import Conversation, Send, Step, Transfer, text, transfer
from chalicelib.domain.bots import ERROR_NAMES, Bot

VENDOR = "LivePerson Functions"


def escalation_steps(bot: Bot, conv: Conversation) -> tuple[list[Step], str]:
    """The steps, and why no transfer is among them ("" when there is one)."""
    settings = bot.escalation_settings
    steps: list[Step] = []
    if settings.customer_message:
        steps.append(text(conv, settings.customer_message))
    if settings.agent_message:
        steps.append(text(conv, settings.agent_message, private=True))
    if not settings.skill:
        return steps, "no escalation skill is configured"
    skill_id = bot.skill_id(settings.skill)
    if skill_id is None:
        return steps, f"the escalation skill {settings.skill!r} is not among the bot's skills"
    steps.append(Transfer(transfer(conv, skill_id, reason="escalated_by_error")))
    return steps, ""


def transfer_failed_steps(bot: Bot, conv: Conversation) -> list[Send]:
    message = bot.escalation_settings.transfer_failure_message
    return [text(conv, message)] if message else []


def error_hook_payload(error_id: str, payload: dict[str, Any], function_uuid: str) -> dict[str, Any]:
    """What the error hook function receives: {error: {errorId, name}, vendor, faasPayload, faas}."""
    return {"error": {"errorId": error_id, "name": ERROR_NAMES.get(error_id, "bot error")}, "vendor": VENDOR,
            "faasPayload": payload, "faas": {"lambdaUuid": function_uuid}}
