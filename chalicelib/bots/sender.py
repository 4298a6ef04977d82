"""Senders deliver a bot's outbound requests: to LivePerson's agent-side messaging API, to a callback URL (the
plain JSON form), or into a list (the plain form's HTTP answer, tests).

The agent side of LivePerson messaging is the UMS request envelope ``{kind:"req", id, type, body, metadata?,
encodedMetadata?}`` (bot-webhooks.md §2.1). fngate posts each envelope over HTTPS to the messaging host the domain
map names (``asyncMessagingEnt``), at ``/api/account/{accountId}/messaging/agent/{agentId}/send?v=3``, with an
AppJWT fetched from ``sentinel`` with the app's client credentials; the answer is the UMS response envelope
``{kind:"resp", reqId, code, body}``. Request ids are stable per (job, step), so a receiver can drop a request
that a retried job sends again.
"""

from __future__ import annotations

import http.client
import json
import logging
import threading
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from chalicelib.services.toolbelt_host import parse_domain

log = logging.getLogger("fngate.bots")
MESSAGING_SERVICE, TOKEN_SERVICE = "asyncMessagingEnt", "sentinel"
TIMEOUT_S = 5.0
_GONE_CODES = {403, 404, 409, 410}  # closed, or no longer the bot's: logged, not escalated (§3.3)


class SendFailed(Exception):
    """The platform did not take the request (down, 5xx, refused): retried with backoff, then escalated."""


class Refused(SendFailed):
    """The platform answered, and said no (a non-2xx UMS code): not retried; a message escalates, a transfer sends
    the transfer failure message."""


class ConversationGone(Refused):
    """The conversation is closed or no longer assigned to the bot: the rest of the reply is not sent."""


@dataclass(frozen=True)
class Destination:
    """Where one bot's requests go, and with which credentials."""

    account_id: str
    agent_id: str
    client_id: str
    client_secret: str
    callback_url: str = ""


class Sender(Protocol):
    def send(self, to: Destination, request: dict[str, Any]) -> dict[str, Any]:
        """Deliver one request; its response envelope. Raises SendFailed or ConversationGone."""
        ...


def _check(answer: Any) -> dict[str, Any]:
    if not isinstance(answer, dict):
        return {"kind": "resp", "code": 200, "body": answer}
    code = answer.get("code", 200)
    if code in _GONE_CODES:
        raise ConversationGone(f"{code}: {answer.get('body')}")
    if not isinstance(code, int) or not 200 <= code < 300:
        raise Refused(f"the messaging side answered code {code}: {str(answer.get('body'))[:200]}")
    return answer


class _Http:
    """Keep-alive HTTP(S) connections, one per (thread, scheme, host)."""

    def __init__(self) -> None:
        self._local = threading.local()

    def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> tuple[int, bytes]:
        parts = urllib.parse.urlsplit(url)
        key = (parts.scheme, parts.netloc)
        pool = self._local.__dict__.setdefault("pool", {})
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        for attempt in (1, 2):  # a kept-alive connection the server has closed fails once
            conn = pool.get(key) or self._connect(parts.scheme, parts.netloc)
            pool[key] = conn
            try:
                conn.request("POST", path, body=body, headers={"Content-Type": "application/json", **headers})
                res = conn.getresponse()
                return res.status, res.read()
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                pool.pop(key, None)
                if attempt == 2:
                    raise SendFailed(f"POST {parts.netloc}: {exc}") from exc
        raise AssertionError("unreachable")

    @staticmethod
    def _connect(scheme: str, netloc: str) -> http.client.HTTPConnection:
        if scheme == "https":
            return http.client.HTTPSConnection(netloc, timeout=TIMEOUT_S)
        return http.client.HTTPConnection(netloc, timeout=TIMEOUT_S)


class LivePersonSender:
    def __init__(self, domain_map: Mapping[str, str], now: Callable[[], float]) -> None:
        self._hosts = {k.lower(): parse_domain(v) for k, v in domain_map.items() if v}
        self._now, self._http = now, _Http()
        self._tokens: dict[tuple[str, str], tuple[str, float]] = {}  # (account, client id) -> (jwt, expires)
        self._lock = threading.Lock()

    def _url(self, service: str, path: str) -> str:
        found = self._hosts.get(service.lower())
        if found is None:
            raise SendFailed(f"the domain map has no {service!r} host (FNGATE_DOMAIN_MAP)")
        return f"{found[0]}://{found[1]}{path}"

    def send(self, to: Destination, request: dict[str, Any]) -> dict[str, Any]:
        url = self._url(MESSAGING_SERVICE, f"/api/account/{to.account_id}/messaging/agent/"
                                           f"{urllib.parse.quote(to.agent_id or 'bot')}/send?v=3")
        data = json.dumps(request, separators=(",", ":")).encode()
        for fresh in (False, True):
            status, raw = self._http.post(url, data, {"Authorization": f"Bearer {self._token(to, fresh)}"})
            if status == 401 and not fresh:
                continue  # the token expired early: fetch another once
            if status in _GONE_CODES:
                raise ConversationGone(f"HTTP {status}: {raw[:200]!r}")
            if 400 <= status < 500:
                raise Refused(f"HTTP {status} from the messaging side: {raw[:200]!r}")
            if not 200 <= status < 300:
                raise SendFailed(f"HTTP {status} from the messaging side: {raw[:200]!r}")
            return _check(json.loads(raw) if raw.strip() else None)
        raise SendFailed("the messaging side refused the app's token")

    def _token(self, to: Destination, fresh: bool) -> str:
        key = (to.account_id, to.client_id)
        with self._lock:
            cached = self._tokens.get(key)
        if cached and not fresh and cached[1] > self._now():
            return cached[0]
        query = urllib.parse.urlencode({"v": "1.0", "grant_type": "client_credentials", "client_id": to.client_id,
                                        "client_secret": to.client_secret})
        status, raw = self._http.post(self._url(TOKEN_SERVICE, f"/sentinel/api/account/{to.account_id}/app/token?"
                                                               f"{query}"), b"", {})
        if status != 200:
            raise SendFailed(f"no AppJWT for client {to.client_id}: HTTP {status}")
        got = json.loads(raw)
        token, ttl = got["access_token"], float(got.get("expires_in", 3600))
        with self._lock:
            self._tokens[key] = (token, self._now() + max(0.0, ttl - 60))
        return token


class CallbackSender:
    """The plain JSON form with a callback URL: each request envelope is POSTed there, in order."""

    def __init__(self) -> None:
        self._http = _Http()

    def send(self, to: Destination, request: dict[str, Any]) -> dict[str, Any]:
        status, _ = self._http.post(to.callback_url, json.dumps(request).encode(), {})
        if status in _GONE_CODES:
            raise ConversationGone(f"HTTP {status} from the callback")
        if not 200 <= status < 300:
            raise SendFailed(f"HTTP {status} from the callback")
        return {"kind": "resp", "reqId": request.get("id"), "code": 200, "body": "OK"}


class CollectingSender:
    """Keeps the requests (the plain form's HTTP answer; tests)."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []

    def send(self, to: Destination, request: dict[str, Any]) -> dict[str, Any]:
        self.requests.append(request)
        return {"kind": "resp", "reqId": request.get("id"), "code": 200, "body": {"sequence": len(self.requests)}}
