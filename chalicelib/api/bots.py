"""Third-Party Bots connector (ours): bot configuration, the webhook LivePerson calls, the plain JSON form,
Test Connection and the bot's log. Thin routes over services/bots.py."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint, Response

from chalicelib.api._wire import authenticate, json_response, object_body, route
from chalicelib.bots.intake import SIGNATURE_HEADER
from chalicelib.domain.bots import Bot, parse_settings, validate_bot_id
from chalicelib.domain.errors import BadInput
from chalicelib.domain.validation import validate_account_id
from chalicelib.services.container import services

bp = Blueprint(__name__)
BASE = "/api/account/{account_id}/bots"
MASK = "********"


def render(bot: Bot, host: str = "") -> dict[str, Any]:
    esc = bot.escalation_settings
    path = f"/api/account/{bot.account_id}/bots/{bot.bot_id}"
    return {"botId": bot.bot_id, "name": bot.name, "functionUuid": bot.function_uuid, "agentId": bot.agent_id,
            "clientId": bot.client_id, "clientSecret": MASK if bot.secret else "", "skills": bot.skills,
            "escalation": {"customerMessage": esc.customer_message, "agentMessage": esc.agent_message,
                           "transferFailureMessage": esc.transfer_failure_message, "skill": esc.skill},
            "hooks": bot.hooks, "callbackUrl": bot.callback_url,
            "options": {"welcome": bot.welcome, "sendSdes": bot.send_sdes, "encodedMetadata": bot.encoded_metadata,
                        "maxConcurrency": bot.max_concurrency},
            "webhookUrl": f"{host}{path}/webhook", "plainUrl": f"{host}{path}/messages",
            "createdAt": bot.created_at, "createdBy": bot.created_by, "updatedAt": bot.updated_at,
            "updatedBy": bot.updated_by}


def _host() -> str:
    svc, request = services(), bp.current_request
    host = svc.settings.public_host or request.headers.get("host", "")
    return f"https://{host}" if host else ""


_BOT_BODY = ("{botId, functionUuid, clientSecret, clientId?, agentId?, name?, skills?: {name: id}, escalation?: "
             "{customerMessage, agentMessage, transferFailureMessage, skill}, hooks?: {pre, post, error}, "
             "callbackUrl?, options?: {welcome, sendSdes, encodedMetadata, maxConcurrency}}")


@route(bp, BASE, ["POST"], summary="Create a bot: the function that answers, the messaging app's credentials and "
       "escalation settings (ours)", tag="bots", body=_BOT_BODY, responses={"201": "the bot (secret masked)"})
def create_bot(account_id: str) -> Response:
    who = authenticate(bp.current_request, account_id)
    body = object_body(bp.current_request)
    bot_id = validate_bot_id(body.get("botId"))
    bot = services().bots.create(who, bot_id, parse_settings(body, creating=True))
    return json_response(render(bot, _host()), status=201)


@route(bp, BASE, ["GET"], summary="List the account's bots (ours)", tag="bots")
def list_bots(account_id: str) -> Response:
    who = authenticate(bp.current_request, account_id)
    host = _host()
    return json_response([render(b, host) for b in services().bots.list(who)])


@route(bp, BASE + "/{bot_id}", ["GET"], summary="One bot (ours)", tag="bots")
def get_bot(account_id: str, bot_id: str) -> Response:
    who = authenticate(bp.current_request, account_id)
    return json_response(render(services().bots.get(who, bot_id), _host()))


@route(bp, BASE + "/{bot_id}", ["PUT"], summary="Replace a bot's settings; omit clientSecret to keep it (ours)",
       tag="bots", body=_BOT_BODY)
def update_bot(account_id: str, bot_id: str) -> Response:
    who = authenticate(bp.current_request, account_id)
    body = object_body(bp.current_request)
    if body.get("botId") not in (None, bot_id):
        raise BadInput(detail="the botId in the body differs from the one in the path")
    bot = services().bots.update(who, bot_id, parse_settings(body, creating=False))
    return json_response(render(bot, _host()))


@route(bp, BASE + "/{bot_id}", ["DELETE"], summary="Delete a bot (ours)", tag="bots")
def delete_bot(account_id: str, bot_id: str) -> Response:
    who = authenticate(bp.current_request, account_id)
    services().bots.delete(who, bot_id)
    return json_response({"message": "Successfully deleted bot"})


@route(bp, BASE + "/{bot_id}/webhook", ["POST"], summary="LivePerson Connector API webhook target: signed "
       "notifications (x-liveperson-signature), acknowledged at once and processed from the job queue (ours)",
       tag="bots", auth="signature", body="a LivePerson notification {kind, type, body: {changes: [...]}}",
       responses={"200": "{queued, duplicates}", "401": "bad or missing signature", "400": "malformed notification"})
def webhook(account_id: str, bot_id: str) -> Response:
    validate_account_id(account_id)
    request = bp.current_request
    got = services().bots.accept(account_id, bot_id, request.raw_body or b"", request.headers.get(SIGNATURE_HEADER))
    return json_response({"queued": got.queued, "duplicates": got.duplicates})


@route(bp, BASE + "/{bot_id}/messages", ["POST"], summary="The plain JSON form for other chat sources (signed like "
       "the webhook): queued when the bot has a callbackUrl, else answered with the outbound events (ours)",
       tag="bots", auth="signature", body="{conversationId, sequence?, consumerId?, message | richContent | event, "
       "sdes?}", responses={"200": "{events, duplicates} or {queued, duplicates}"})
def plain_message(account_id: str, bot_id: str) -> Response:
    validate_account_id(account_id)
    request = bp.current_request
    return json_response(services().bots.accept_plain(account_id, bot_id, request.raw_body or b"",
                                                      request.headers.get(SIGNATURE_HEADER)))


@route(bp, BASE + "/{bot_id}/test-connection", ["POST"], summary="Test Connection: the function is deployed and "
       "answers a welcome event with a valid reply within 1 s (ours)", tag="bots",
       responses={"200": "{ok, functionUuid, problems, durationMs?, reply?, outbound?}"})
def test_connection(account_id: str, bot_id: str) -> Response:
    who = authenticate(bp.current_request, account_id)
    return json_response(services().bots.test_connection(who, bot_id))


@route(bp, BASE + "/{bot_id}/logs", ["GET"], summary="The bot's log: dropped reply items, escalations, slow "
       "replies, newest first (ours)", tag="bots")
def bot_logs(account_id: str, bot_id: str) -> Response:
    who = authenticate(bp.current_request, account_id)
    return json_response(services().bots.logs(who, bot_id))
