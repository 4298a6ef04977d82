"""Bots of the Third-Party Bots connector: configuration, webhook intake, the queued processing, Test Connection
and the bot's log.

Intake answers in milliseconds: the signature is checked on the raw body, the notification parsed, and one job
per change is committed together with the change's dedupe record (``MUST_NOT_EXIST``: a redelivery fails the
transaction, so nothing is queued twice); the jobs of a conversation share a group, so they run one at a time in
order, while conversations run concurrently, at most ``max_concurrency`` per bot in a gateway process.
"""

from __future__ import annotations

import builtins
import itertools
import logging
import threading
import time
from dataclasses import dataclass, replace
from typing import Any

from chalicelib.bots.input import Inbound, function_payload
from chalicelib.bots.intake import Unit, parse_notification, parse_plain, verify
from chalicelib.bots.reply import Conversation, Send, Transfer, translate
from chalicelib.bots.sender import CallbackSender, CollectingSender, Destination, LivePersonSender, Sender
from chalicelib.bots.worker import CONV_KIND, SEEN_KIND, Failure, Worker, conv_pk, seen_pk
from chalicelib.clock import Clock
from chalicelib.crypto.envelope import Keyring, open_envelope, seal
from chalicelib.domain import bots as rules
from chalicelib.domain.bots import Bot, BotExists, BotInvalid, BotNotFound, BotSettings
from chalicelib.domain.errors import FngateError, LimitReached, VersionConflict
from chalicelib.domain.permissions import INVOKE_SCOPE, Action, Principal, require
from chalicelib.domain.states import is_invocable
from chalicelib.jobs import Backoff, Handler, Job, JobQueue
from chalicelib.services.invocations import Call, InvocationService
from chalicelib.services.repository import FunctionRepository
from chalicelib.storage.base import MUST_NOT_EXIST, Put, Query, Store

log = logging.getLogger("fngate.bots")
KIND, LOG_KIND = "bot", "botlog"
BOT_JOB = "bot-event"
ATTEMPTS = 6  # sender failures: retried with backoff (1, 2, 4, 8, 16 s at most), then escalated
CACHE_TTL_S = 1.0
LOG_KEPT = 200
_seq = itertools.count()


@dataclass(frozen=True)
class Accepted:
    queued: int
    duplicates: int
    ignored: int


def _secret_context(account_id: str, bot_id: str) -> dict[str, str]:
    return {"account": account_id, "bot": bot_id}


class BotService:
    def __init__(self, store: Store, keyring: Keyring, clock: Clock, jobs: JobQueue, invocations: InvocationService,
                 repo: FunctionRepository, domain_map: dict[str, str], sender: Sender | None = None,
                 sleep: Any = time.sleep) -> None:
        self._store, self._keyring, self._clock, self._jobs = store, keyring, clock, jobs
        self._invocations, self._repo = invocations, repo
        self.sender: Sender = sender or LivePersonSender(domain_map, clock.now)
        self.callback_sender: Sender = CallbackSender()
        self.worker = Worker(store, self._invoke, self.log_event, sleep=sleep)
        self._cache: dict[tuple[str, str], tuple[float, Bot, str]] = {}
        self._slots: dict[tuple[str, str], tuple[int, threading.BoundedSemaphore]] = {}
        self._lock = threading.Lock()

    def handlers(self) -> builtins.list[Handler]:
        return [Handler(BOT_JOB, self._run, self._gave_up, max_attempts=ATTEMPTS, concurrency=32, lease_s=60.0,
                        backoff=Backoff(base_s=1.0, max_s=16.0))]

    # -- configuration ------------------------------------------------------------------------------------------
    def create(self, who: Principal, bot_id: str, settings: BotSettings) -> Bot:
        require(who, "bot", Action.WRITE)
        rules.validate_bot_id(bot_id)
        if self._store.count(Query(KIND, who.account_id)) >= rules.BOTS_PER_ACCOUNT:
            raise LimitReached(detail=f"at most {rules.BOTS_PER_ACCOUNT} bots per account")
        now = self._clock.iso()
        bot = self._apply(Bot(account_id=who.account_id, bot_id=bot_id, function_uuid=settings.function_uuid,
                              created_at=now, created_by=who.display_name), settings, who)
        try:
            self._store.put(KIND, who.account_id, bot_id, bot.to_dict(), expected_version=MUST_NOT_EXIST)
        except VersionConflict:
            raise BotExists(bot_id=bot_id) from None
        return bot

    def update(self, who: Principal, bot_id: str, settings: BotSettings) -> Bot:
        require(who, "bot", Action.WRITE)
        record = self._record(who.account_id, bot_id)
        bot = self._apply(Bot.from_dict(record.data), settings, who)
        try:
            self._store.put(KIND, who.account_id, bot_id, bot.to_dict(), expected_version=record.version)
        except VersionConflict:
            raise VersionConflict(what=f"Bot {bot_id}") from None
        self._cache.pop((who.account_id, bot_id), None)
        return bot

    def _apply(self, bot: Bot, s: BotSettings, who: Principal) -> Bot:
        secret = bot.secret if s.client_secret is None else seal(
            self._keyring, s.client_secret.encode(), _secret_context(bot.account_id, bot.bot_id))
        return replace(bot, function_uuid=s.function_uuid, name=s.name, agent_id=s.agent_id, client_id=s.client_id,
                       secret=secret, skills=s.skills, escalation=s.escalation.to_dict(), hooks=s.hooks,
                       welcome=s.welcome, send_sdes=s.send_sdes, encoded_metadata=s.encoded_metadata,
                       callback_url=s.callback_url, max_concurrency=s.max_concurrency,
                       updated_at=self._clock.iso(), updated_by=who.display_name)

    def get(self, who: Principal, bot_id: str) -> Bot:
        require(who, "bot", Action.READ)
        return Bot.from_dict(self._record(who.account_id, bot_id).data)

    def list(self, who: Principal) -> builtins.list[Bot]:
        require(who, "bot", Action.READ)
        return [Bot.from_dict(r.data) for r in self._store.query(Query(KIND, who.account_id))]

    def delete(self, who: Principal, bot_id: str) -> None:
        require(who, "bot", Action.WRITE)
        if not self._store.delete(KIND, who.account_id, bot_id):
            raise BotNotFound(bot_id=bot_id)
        self._cache.pop((who.account_id, bot_id), None)
        for kind, pk in ((CONV_KIND, f"{who.account_id}#{bot_id}"), (LOG_KIND, f"{who.account_id}#{bot_id}")):
            for r in self._store.query(Query(kind, pk, keys_only=True)):
                self._store.delete(kind, pk, r.sk)

    def _record(self, account_id: str, bot_id: str) -> Any:
        record = self._store.get(KIND, account_id, bot_id)
        if record is None:
            raise BotNotFound(bot_id=bot_id)
        return record

    def _load(self, account_id: str, bot_id: str) -> tuple[Bot, str]:
        """The bot and its client secret in clear; cached CACHE_TTL_S (writes here drop the entry at once)."""
        key, now = (account_id, bot_id), time.monotonic()
        hit = self._cache.get(key)
        if hit and hit[0] > now:
            return hit[1], hit[2]
        bot = Bot.from_dict(self._record(account_id, bot_id).data)
        secret = open_envelope(self._keyring, bot.secret, _secret_context(account_id, bot_id)).decode()
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[key] = (now + CACHE_TTL_S, bot, secret)
        return bot, secret

    # -- intake -------------------------------------------------------------------------------------------------
    def accept(self, account_id: str, bot_id: str, raw: bytes, signature: str | None) -> Accepted:
        """A LivePerson notification: 401 (bad signature) and 400 (malformed) queue nothing."""
        bot, secret = self._load(account_id, bot_id)
        verify(secret, raw, signature)
        return self._enqueue(bot, parse_notification(raw), "lp")

    def accept_plain(self, account_id: str, bot_id: str, raw: bytes, signature: str | None) -> dict[str, Any]:
        """The plain JSON form: queued when the bot has a callback URL; else processed now, events in the answer."""
        bot, secret = self._load(account_id, bot_id)
        verify(secret, raw, signature)
        units = parse_plain(raw, int(self._clock.now() * 1000))
        if bot.callback_url:
            got = self._enqueue(bot, units, "plain")
            return {"queued": got.queued, "duplicates": got.duplicates}
        fresh = self._fresh(bot, units)
        if fresh:
            self._store.transact([self._seen_op(bot, u) for u in fresh if u.dedupe])
        collector = CollectingSender()
        for unit in fresh:
            self.worker.process(bot, f"sync-{self._clock.now():.6f}-{next(_seq)}", unit.to_payload(), collector,
                                self._destination(bot, secret))
        return {"events": collector.requests, "duplicates": len(units) - len(fresh)}

    def _fresh(self, bot: Bot, units: builtins.list[Unit]) -> builtins.list[Unit]:
        keys: set[str] = set()
        fresh = []
        for unit in units:
            if unit.dedupe:
                if unit.dedupe in keys or self._store.get(SEEN_KIND, seen_pk(bot, unit.conversation_id),
                                                          unit.dedupe) is not None:
                    continue
                keys.add(unit.dedupe)
            fresh.append(unit)
        return fresh

    def _seen_op(self, bot: Bot, unit: Unit) -> Put:
        return Put(SEEN_KIND, seen_pk(bot, unit.conversation_id), unit.dedupe, {"at": self._clock.now()},
                   MUST_NOT_EXIST)

    def _enqueue(self, bot: Bot, units: builtins.list[Unit], form: str) -> Accepted:
        queued, total = [], len(units)
        for start in range(0, len(units), 40):  # a transaction holds at most 100 writes
            chunk = units[start:start + 40]
            for _ in range(3):  # a concurrent redelivery of the same change: look again, it is now a duplicate
                fresh = self._fresh(bot, chunk)
                jobs = [self._jobs.create(BOT_JOB, {"account_id": bot.account_id, "bot_id": bot.bot_id, "form": form,
                                                    "unit": u.to_payload()}, account_id=bot.account_id,
                                          group=f"bot:{bot.account_id}/{bot.bot_id}/{u.conversation_id}",
                                          max_attempts=ATTEMPTS) for u in fresh]
                ops = [self._seen_op(bot, u) for u in fresh if u.dedupe] + [self._jobs.put_op(j) for j in jobs]
                try:
                    if ops:
                        self._store.transact(ops)
                except VersionConflict:
                    continue
                queued += jobs
                break
        self._jobs.notify(queued)
        return Accepted(queued=len(queued), duplicates=total - len(queued), ignored=0)

    # -- processing (jobs) ----------------------------------------------------------------------------------------
    def _destination(self, bot: Bot, secret: str) -> Destination:
        return Destination(bot.account_id, bot.agent_id, bot.client_id, secret, bot.callback_url)

    def _run(self, job: Job) -> None:
        p = job.payload
        try:
            bot, secret = self._load(p["account_id"], p["bot_id"])
        except BotNotFound:
            return  # deleted meanwhile: nothing to answer with
        sender = self.callback_sender if p.get("form") == "plain" else self.sender
        with self._slot(bot):
            self.worker.process(bot, job.id, p["unit"], sender, self._destination(bot, secret))

    def _gave_up(self, job: Job, error: str) -> None:
        """Delivery (or the platform) kept failing: escalate, best effort, and forget the saved steps."""
        p = job.payload
        try:
            bot, secret = self._load(p["account_id"], p["bot_id"])
        except BotNotFound:
            return
        unit = p["unit"]
        conv = Conversation(unit["conversation_id"], (unit.get("change") or {}).get("dialogId", ""))
        record = self._store.get(CONV_KIND, conv_pk(bot), conv.conversation_id)
        if record is not None and "resume" in record.data:
            self._store.put(CONV_KIND, conv_pk(bot), conv.conversation_id,
                            {k: v for k, v in record.data.items() if k != "resume"})
        sender = self.callback_sender if p.get("form") == "plain" else self.sender
        self.worker.escalate(bot, job.id, conv, rules.SEND_MESSAGE, f"gave up after {job.attempts} attempts: {error}",
                             {}, sender, self._destination(bot, secret))

    def _slot(self, bot: Bot) -> threading.BoundedSemaphore:
        key = (bot.account_id, bot.bot_id)
        with self._lock:
            slot = self._slots.get(key)
            if slot is None or slot[0] != bot.max_concurrency:
                slot = self._slots[key] = (bot.max_concurrency, threading.BoundedSemaphore(bot.max_concurrency))
        return slot[1]

    def _invoke(self, bot: Bot, function_uuid: str, payload: Any) -> Any:
        who = Principal(account_id=bot.account_id, subject=f"bot:{bot.bot_id}", kind="app",
                        scopes=frozenset({INVOKE_SCOPE}))
        outcome = self._invocations.invoke(who, function_uuid, Call(body={"headers": [], "payload": payload},
                                                                    source="bot-connector"))
        return outcome.result

    # -- Test Connection ------------------------------------------------------------------------------------------
    def test_connection(self, who: Principal, bot_id: str) -> dict[str, Any]:
        """Is the function deployed, and does it answer a welcome event with a valid reply within 1 s?"""
        require(who, "bot", Action.INVOKE)
        bot = self.get(who, bot_id)
        problems = self._deployment_problems(bot)
        out: dict[str, Any] = {"ok": False, "functionUuid": bot.function_uuid, "problems": problems}
        if problems:
            return out
        conv = Conversation(f"test-connection-{bot.bot_id}")
        payload = function_payload(Inbound.WELCOME, conv.conversation_id, {})
        started = time.perf_counter()
        try:
            reply = self._invoke(bot, bot.function_uuid, payload)
        except FngateError as err:
            problems.append(f"the function failed on a welcome event: {err.message}")
            return out | {"durationMs": round((time.perf_counter() - started) * 1000, 1)}
        took = time.perf_counter() - started
        plan = translate(reply, bot, conv, lambda: "test")
        problems += [f"reply: {reason}" for reason in plan.dropped]
        if plan.error:
            problems.append(f"the reply to a welcome event escalates: {rules.ERROR_NAMES[plan.error]} "
                            f"({plan.error})")
        if took > rules.TEST_CONNECTION_BUDGET_S:
            problems.append(f"the function answered in {took * 1000:.0f} ms; it must answer within "
                            f"{rules.TEST_CONNECTION_BUDGET_S * 1000:.0f} ms")
            self.log_event(bot, "warn", f"Test Connection: the function answered in {took * 1000:.0f} ms")
        outbound = [(s.send if isinstance(s, Transfer) else s).request(f"test-{i}")
                    for i, s in enumerate(plan.steps) if isinstance(s, Send | Transfer)]
        return out | {"ok": not problems, "durationMs": round(took * 1000, 1), "reply": reply, "outbound": outbound}

    def _deployment_problems(self, bot: Bot) -> builtins.list[str]:
        from chalicelib.domain.errors import FunctionNotFound

        try:
            fn, _ = self._repo.get(bot.account_id, bot.function_uuid)
        except FunctionNotFound:
            return [f"function {bot.function_uuid} does not exist on account {bot.account_id}"]
        if not is_invocable(fn.state, live=fn.live):
            return [f"function {fn.name} ({fn.uuid}) is not deployed (state {fn.state.value}); deploy it first"]
        return []

    # -- the bot's log ------------------------------------------------------------------------------------------
    def log_event(self, bot: Bot, level: str, message: str, conversation_id: str = "", error_id: str = "") -> None:
        now = self._clock.now()
        entry = {"at": self._clock.iso(now), "level": level, "message": message[:2000],
                 "conversationId": conversation_id, "errorId": error_id}
        getattr(log, {"warn": "warning"}.get(level, level), log.info)("bot %s/%s: %s", bot.account_id, bot.bot_id,
                                                                      message)
        try:
            self._store.put(LOG_KIND, conv_pk(bot), f"{int(now * 1000):013d}-{next(_seq) % 1_000_000:06d}", entry)
            if next(_seq) % 50 == 0:
                old = self._store.query(Query(LOG_KIND, conv_pk(bot), keys_only=True, reverse=True))[LOG_KEPT:]
                for r in old:
                    self._store.delete(LOG_KIND, conv_pk(bot), r.sk)
        except Exception:
            log.exception("could not write bot %s's log", bot.bot_id)

    def logs(self, who: Principal, bot_id: str, limit: int = 100) -> builtins.list[dict[str, Any]]:
        require(who, "bot", Action.READ)
        self._record(who.account_id, bot_id)
        return [r.data for r in self._store.query(Query(LOG_KIND, f"{who.account_id}#{bot_id}", reverse=True,
                                                        limit=limit))]


__all__ = ["Accepted", "BotInvalid", "BotService", "Failure"]
