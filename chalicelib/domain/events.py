"""The event catalogue (events-and-bots.md §1): ids, names, per-event function limits, sample input, templates.

Per-event payload schemas are not public; each event carries a representative sample payload and a runnable
template (Node.js and Python) so a new function starts from working code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chalicelib.domain.runtimes import NODE, PYTHON, Runtime


@dataclass(frozen=True)
class Event:
    event_id: str
    name: str
    description: str
    lambda_limit: int
    sample_payload: dict[str, Any]
    reply: tuple[str, str]  # the template's result as a (JavaScript, Python) expression

    def to_wire(self) -> dict[str, Any]:
        return {"eventId": self.event_id, "eventName": self.name, "description": self.description,
                "lambdaLimit": self.lambda_limit, "samplePayload": {"headers": [], "payload": self.sample_payload}}


_CONV = {"conversationId": "c0ffee00-0000-4000-8000-000000000001", "skillId": "1234", "consumerId": "consumer-1"}
_BOT = {"message": "hello", "convId": _CONV["conversationId"], "event": None,
        "context": {"lpEvent": {"type": "ContentEvent", "content": "hello"}, "lpSdes": {}}}
# The echo bot: a welcome for the welcome event, the consumer's message back otherwise (seed 002's basic echo).
_BOT_REPLY = ('{ messages: [(input.payload.event || {}).name === "welcome" ? "Welcome! I am an echo bot." '
              ': input.payload.message], context: {} }',
              '{"messages": ["Welcome! I am an echo bot." if (input["payload"].get("event") or {}).get("name") == '
              '"welcome" else input["payload"].get("message")], "context": {}}')
_PASS = ("input.payload", 'input["payload"]')
_EMPTY = ("{}", "{}")

EVENTS: tuple[Event, ...] = (
    Event("bot_connectors_custom_integration", "Third-Party Bots Custom Integration", "The function is the bot: "
          "it receives consumer messages and answers with messages and actions.", 15, _BOT, _BOT_REPLY),
    Event("bot_connectors_error_hook", "Third-Party Bots Error-Hook",
          "Called when a bot connector hits an error.", 15, {**_BOT, "error": {"code": "timeout"}}, _PASS),
    Event("bot_connectors_post_hook", "Third-Party Bots Post-Hook",
          "Called after the bot vendor answered; may change the response.", 15,
          {**_BOT, "response": {"messages": ["hi"]}}, ("input.payload.response", 'input["payload"]["response"]')),
    Event("bot_connectors_pre_hook", "Third-Party Bots Pre-Hook",
          "Called before the message reaches the bot vendor.", 15, _BOT, _PASS),
    Event("controllerbot_messaging_conversation_end", "Messaging Conversation End",
          "The agent or the consumer closed the conversation.", 1, {**_CONV, "closeReason": "CONSUMER"}, _EMPTY),
    Event("controllerbot_messaging_conversation_idle", "Messaging Conversation Idle",
          "Agent or consumer unresponsive, or queued longer than a threshold.", 1,
          {**_CONV, "idleSince": 1700000000000}, _EMPTY),
    Event("controllerbot_messaging_conversation_routing", "Messaging Conversation Routing",
          "The conversation moved to another skill.", 1, {**_CONV, "newSkillId": "5678"}, _EMPTY),
    Event("controllerbot_messaging_mid_conversation_msg", "Messaging Line in Off-Hours",
          "The consumer writes after the contact center switched to off-hours.", 1,
          {**_CONV, "message": "are you there?"}, _EMPTY),
    Event("controllerbot_messaging_new_conversation", "Messaging New Conversation",
          "A CONSUMER_OPEN_NEW_CONVERSATION system message; the payload has sub-type flags.", 1,
          {**_CONV, "isTransferred": False}, _EMPTY),
    Event("controllerbot_messaging_participants_change", "Messaging Participants Change",
          "An assigned agent, agent or agent manager joins or leaves.", 1,
          {**_CONV, "participant": {"role": "ASSIGNED_AGENT", "change": "ADD"}}, _EMPTY),
    Event("controllerbot_messaging_ttr", "Messaging TTR",
          "The consumer asks for or cancels an urgent response, or the agent changes the response time.", 1,
          {**_CONV, "ttrType": "URGENT"}, _EMPTY),
    Event("conversational_command", "Conversational Command",
          "An agent typed a '/' command in the agent workspace.", 30,
          {**_CONV, "command": "/hello", "parameters": []},
          ('{ text: "Hello " + input.payload.command }', '{"text": "Hello " + input["payload"]["command"]}')),
    Event("denver_post_survey_email_transcript", "Chat Post Survey E-Mail Transcript",
          "A chat ended and its CSAT survey was collected.", 10,
          {"chatId": "chat-1", "survey": {"csat": 5}, "email": "consumer@example.com"}, _EMPTY),
    Event("surveybot_messaging_survey_ended", "Messaging Survey Ended", "A survey ended.", 1,
          {**_CONV, "surveyId": "survey-1"}, _EMPTY),
    Event("surveybot_messaging_survey_started", "Messaging Survey Started", "A survey started.", 1,
          {**_CONV, "surveyId": "survey-1"}, _EMPTY),
)
EVENTS_BY_ID = {e.event_id: e for e in EVENTS}
NO_EVENT_REPLY = ('{ greeting: "Hello World", input: input }', '{"greeting": "Hello World", "input": input}')


def node_template(event: Event | None) -> str:
    reply = (event.reply if event else NO_EVENT_REPLY)[0]
    return ("function lambda(input, callback) {\n"
            "  // input = { headers: [{ key, value }], payload: <event payload> }\n"
            f"  console.info('invoked', {{ event: {event.event_id if event else 'none'!r} }});\n"
            f"  callback(null, {reply});\n"
            "}\n")


def python_template(event: Event | None) -> str:
    reply = (event.reply if event else NO_EVENT_REPLY)[1]
    return ("def lambda_handler(input, callback):\n"
            "    # input = {'headers': [{'key', 'value'}], 'payload': <event payload>}\n"
            f"    console.info('invoked', {{'event': {event.event_id if event else 'none'!r}}})\n"
            f"    callback(None, {reply})\n")


def template(event: Event | None, runtime: Runtime = NODE) -> str:
    return python_template(event) if runtime is PYTHON else node_template(event)
