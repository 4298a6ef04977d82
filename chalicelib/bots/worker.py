"""Processes one queued conversation event: function input, hooks, the bot's function, reply translation, delivery
and escalation. Runs as a job of the durable queue (one job per change, one group per conversation, so events of
a conversation are handled one at a time, in order).

A job may run more than once (a retry, or a runner killed mid-way). The function is invoked again only if the
previous attempt never got to deliver anything: once delivery has started, the remaining steps are saved with the
conversation before a retry, and the retry resumes them. Request ids are ``<job id>-<step>``, the same on a resend.
"""

from __future__ import annotations

import logging
import time
import uuid as uuidlib
from collections.abc import Callable
from dataclasses import asdict
from typing import Any, Protocol

from chalicelib.bots import escalation
from chalicelib.bots.input import Inbound, assignment, classify, function_payload
from chalicelib.bots.intake import CONVERSATION, WELCOME
from chalicelib.bots.reply import Conversation, Invoke, Plan, Send, Step, Transfer, Wait, translate
from chalicelib.bots.sender import ConversationGone, Destination, Refused, Sender, SendFailed
from chalicelib.domain import bots as ids
from chalicelib.domain.bots import Bot
from chalicelib.domain.errors import (
    ExecutionTimeExceeded,
    FngateError,
    FunctionFailed,
    FunctionNotFound,
    TooManyRequests,
    Unavailable,
)
from chalicelib.storage.base import Query, Store

log = logging.getLogger("fngate.bots")
CONV_KIND, SEEN_KIND = "botconv", "botseen"
SLOW_S = 1.0  # replies slower than this are flagged in the bot's log


class Invoker(Protocol):
    def __call__(self, bot: Bot, function_uuid: str, payload: Any) -> Any:
        """The function's result; FngateError if it failed."""
        ...


class BotLog(Protocol):
    def __call__(self, bot: Bot, level: str, message: str, conversation_id: str = "", error_id: str = "") -> None:
        ...


class Failure(Exception):
    """The bot failed in a way that escalates; ``error_id`` is the connector's id for it."""

    def __init__(self, error_id: str, detail: str) -> None:
        super().__init__(detail)
        self.error_id = error_id


def conv_pk(bot: Bot) -> str:
    return f"{bot.account_id}#{bot.bot_id}"


def seen_pk(bot: Bot, conversation_id: str) -> str:
    return f"{bot.account_id}#{bot.bot_id}#{conversation_id}"


# -- steps as stored (for a resumed delivery) -------------------------------------------------------------------------
def dump_step(step: Step) -> dict[str, Any]:
    name = {Send: "send", Wait: "wait", Invoke: "invoke", Transfer: "transfer"}[type(step)]
    return {name: asdict(step)}


def load_step(data: dict[str, Any]) -> Step:
    (name, fields), = data.items()
    if name == "transfer":
        return Transfer(Send(**fields["send"]))
    return {"send": Send, "wait": Wait, "invoke": Invoke}[name](**fields)


class Worker:
    def __init__(self, store: Store, invoke: Invoker, bot_log: BotLog, sleep: Callable[[float], None] = time.sleep,
                 new_id: Callable[[], str] = lambda: str(uuidlib.uuid4())) -> None:
        self._store, self._invoke, self._log, self.sleep, self._new_id = store, invoke, bot_log, sleep, new_id

    # -- one queued change ------------------------------------------------------------------------------------------
    def process(self, bot: Bot, job_id: str, unit: dict[str, Any], sender: Sender, to: Destination) -> None:
        conv_id, change = unit["conversation_id"], unit.get("change") or {}
        record = self._store.get(CONV_KIND, conv_pk(bot), conv_id)
        state = dict(record.data) if record else {}
        resume = state.get("resume")
        if resume and resume.get("job") == job_id:
            self._run(bot, job_id, Conversation(**resume["conversation"]), [load_step(s) for s in resume["steps"]],
                      resume["next"], sender, to, state, resume.get("payload") or {}, resume.get("error", ""))
            return
        if unit["type"] == CONVERSATION:
            self._conversation_change(bot, job_id, conv_id, change, state, sender, to)
            return
        if unit["type"] == WELCOME:
            if "sdes" in unit:
                state["sdes"] = unit["sdes"]
                self._save(bot, conv_id, state)
            self._answer(bot, job_id, Inbound.WELCOME, conv_id, change, state, sender, to)
            return
        kind = classify(change)
        if kind is Inbound.IGNORED or state.get("assigned") is False:
            return
        if "sdes" in unit and unit["sdes"] != state.get("sdes"):
            state["sdes"] = unit["sdes"]
            self._save(bot, conv_id, state)
        self._answer(bot, job_id, kind, conv_id, change, state, sender, to)

    def _conversation_change(self, bot: Bot, job_id: str, conv_id: str, change: dict[str, Any],
                             state: dict[str, Any], sender: Sender, to: Destination) -> None:
        now = assignment(change, bot.agent_id)
        if now.closed:
            self.forget(bot, conv_id)
            return
        newly = now.assigned and not state.get("assigned")
        state.update(assigned=now.assigned, context=now.context)
        self._save(bot, conv_id, state)
        if newly and bot.welcome:
            self._answer(bot, job_id, Inbound.WELCOME, conv_id, {}, state, sender, to,
                         last_consumer_message=now.last_consumer_message)

    def forget(self, bot: Bot, conv_id: str) -> None:
        """The conversation ended: its state and its dedupe records go (a late redelivery has nothing to answer)."""
        self._store.delete(CONV_KIND, conv_pk(bot), conv_id)
        for r in self._store.query(Query(SEEN_KIND, seen_pk(bot, conv_id), keys_only=True)):
            self._store.delete(SEEN_KIND, seen_pk(bot, conv_id), r.sk)

    # -- the bot's answer -----------------------------------------------------------------------------------------
    def _answer(self, bot: Bot, job_id: str, kind: Inbound, conv_id: str, change: dict[str, Any],
                state: dict[str, Any], sender: Sender, to: Destination, last_consumer_message: str = "") -> None:
        payload = function_payload(kind, conv_id, change, conversation_context=state.get("context"),
                                   sdes=state.get("sdes") if bot.send_sdes else None,
                                   last_consumer_message=last_consumer_message)
        conv = Conversation(conv_id, change.get("dialogId", ""), str(change.get("originatorId", "")))
        try:
            plan = self.plan(bot, conv, payload)
        except Failure as failure:
            self.escalate(bot, job_id, conv, failure.error_id, str(failure), payload, sender, to)
            return
        self._run(bot, job_id, conv, plan.steps, 0, sender, to, state, payload, plan.error)

    def plan(self, bot: Bot, conv: Conversation, payload: dict[str, Any]) -> Plan:
        """Pre-hook, the function, post-hook, translation; Failure for what escalates before anything is sent."""
        payload = self._hook(bot, "pre", payload, conv)
        reply = self.call(bot, bot.function_uuid, payload, conv)
        reply = self._hook(bot, "post", reply, conv)
        plan = translate(reply, bot, conv, self._new_id)
        for reason in plan.dropped:
            self._log(bot, "warn", reason, conv.conversation_id)
        if plan.intent:
            log.info("bot %s conversation %s intent %s", bot.bot_id, conv.conversation_id, plan.intent)
        return plan

    def call(self, bot: Bot, uuid: str, payload: Any, conv: Conversation, error_id: str = "") -> Any:
        started = time.perf_counter()
        try:
            result = self._invoke(bot, uuid, payload)
        except (TooManyRequests, Unavailable):
            raise  # the platform's fault, not the bot's: the job is retried
        except ExecutionTimeExceeded as err:
            raise Failure(error_id or ids.FAILED_FAAS_REQUEST, f"function {uuid} timed out: {err}") from None
        except FunctionFailed as err:
            raise Failure(error_id or ids.INVOKE_LAMBDA, f"function {uuid} failed: {err}") from None
        except FunctionNotFound as err:
            raise Failure(error_id or ids.FAILED_FAAS_REQUEST, str(err)) from None
        except FngateError as err:
            raise Failure(error_id or ids.FAILED_FAAS_REQUEST, f"function {uuid}: {err}") from None
        took = time.perf_counter() - started
        if took > SLOW_S:
            self._log(bot, "warn", f"function {uuid} took {took * 1000:.0f} ms (keep it under "
                                   f"{SLOW_S * 1000:.0f} ms)", conv.conversation_id)
        return result

    def _hook(self, bot: Bot, name: str, value: Any, conv: Conversation) -> Any:
        uuid = bot.hooks.get(name)
        if not uuid:
            return value
        result = self.call(bot, uuid, value, conv, error_id=ids.FAILED_HOOK)
        return result if isinstance(result, dict) else value  # a hook that changes nothing may answer nothing

    # -- delivery ---------------------------------------------------------------------------------------------------
    def _run(self, bot: Bot, job_id: str, conv: Conversation, steps: list[Step], start: int, sender: Sender,
             to: Destination, state: dict[str, Any], payload: dict[str, Any], error: str) -> None:
        """Delivers ``steps`` from ``start``, then escalates with ``error`` if the reply asked for it; a step that
        fails for good (refused, or an INVOCATION with failOnError) escalates at once."""
        try:
            self._deliver(bot, job_id, conv, steps, start, sender, to, state, payload, error)
        except Failure as failure:
            error, detail = failure.error_id, str(failure)
        else:
            detail = ids.ERROR_NAMES.get(error, error)
        if state.pop("resume", None) is not None:
            self._save(bot, conv.conversation_id, state)
        if error:
            self.escalate(bot, job_id, conv, error, detail, payload, sender, to)

    def _deliver(self, bot: Bot, job_id: str, conv: Conversation, steps: list[Step], start: int, sender: Sender,
                 to: Destination, state: dict[str, Any], payload: dict[str, Any], error: str = "") -> None:
        for index in range(start, len(steps)):
            step = steps[index]
            try:
                self._step(bot, job_id, index, step, conv, sender, to)
            except ConversationGone as gone:
                self._log(bot, "info", f"not delivered, the conversation is gone: {gone}", conv.conversation_id)
                return
            except Refused as refused:
                if isinstance(step, Transfer):
                    self._transfer_failed(bot, job_id, conv, sender, to, str(refused))
                    return
                raise Failure(ids.SEND_MESSAGE, str(refused)) from None
            except SendFailed:
                state["resume"] = {"job": job_id, "next": index, "steps": [dump_step(s) for s in steps],
                                   "conversation": asdict(conv), "payload": payload, "error": error}
                self._save(bot, conv.conversation_id, state)
                raise

    def _step(self, bot: Bot, job_id: str, index: int, step: Step, conv: Conversation, sender: Sender,
              to: Destination) -> None:
        """Runs one step; Failure when the rest must not run (an INVOCATION with failOnError failed)."""
        if isinstance(step, Wait):
            self.sleep(step.seconds)
        elif isinstance(step, Invoke):
            try:
                self.call(bot, step.lambda_uuid, step.payload, conv)
            except Failure as failure:
                if step.fail_on_error:
                    raise Failure(ids.FAILED_INVOCATION_ACTION, str(failure)) from None
                self._log(bot, "warn", f"INVOCATION failed (failOnError is off): {failure}", conv.conversation_id)
        else:
            send = step.send if isinstance(step, Transfer) else step
            sender.send(to, send.request(f"{job_id}-{index}"))

    # -- escalation -------------------------------------------------------------------------------------------------
    def escalate(self, bot: Bot, job_id: str, conv: Conversation, error_id: str, detail: str,
                 payload: dict[str, Any], sender: Sender, to: Destination) -> None:
        """Best effort: the error hook, then the bot's escalation steps; failures here are logged, never retried."""
        self._log(bot, "error", f"escalating: {detail}", conv.conversation_id, error_id)
        if bot.hooks.get("error"):
            try:
                self._invoke(bot, bot.hooks["error"],
                             escalation.error_hook_payload(error_id, payload, bot.function_uuid))
            except Exception as exc:
                self._log(bot, "warn", f"the error hook failed: {exc}", conv.conversation_id, ids.FAILED_HOOK)
        steps, why_no_transfer = escalation.escalation_steps(bot, conv)
        if why_no_transfer:
            self._log(bot, "warn", f"escalation without transfer: {why_no_transfer}", conv.conversation_id)
        for index, step in enumerate(steps):
            send = step.send if isinstance(step, Transfer) else step
            assert isinstance(send, Send)
            try:
                sender.send(to, send.request(f"{job_id}-e{index}"))
            except Refused as refused:
                if isinstance(step, Transfer):
                    self._transfer_failed(bot, job_id, conv, sender, to, str(refused))
                    return
                self._log(bot, "error", f"escalation message refused: {refused}", conv.conversation_id)
            except SendFailed as failed:
                self._log(bot, "error", f"escalation not delivered: {failed}", conv.conversation_id)
                return

    def _transfer_failed(self, bot: Bot, job_id: str, conv: Conversation, sender: Sender, to: Destination,
                         why: str) -> None:
        self._log(bot, "error", f"transfer refused: {why}", conv.conversation_id)
        for index, send in enumerate(escalation.transfer_failed_steps(bot, conv)):
            try:
                sender.send(to, send.request(f"{job_id}-t{index}"))
            except SendFailed as failed:
                self._log(bot, "error", f"transfer failure message not delivered: {failed}", conv.conversation_id)

    def _save(self, bot: Bot, conv_id: str, state: dict[str, Any]) -> None:
        self._store.put(CONV_KIND, conv_pk(bot), conv_id, state)
