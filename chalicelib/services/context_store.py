"""The Conversation Context Service (session store) behind the Toolbelt's ContextServiceClient, kept in fngate.

LivePerson runs this as a separate REST service (``/v1/account/{accountId}/{namespace}/{sessionId}/properties``);
fngate keeps the same model on the generic Store, reached only through the toolbelt RPC bridge, so the account is
always the invoking function's own. Model (developers.liveperson.com "Conversation Context Service" pages):

* namespaces per account (kind ``ctxns``, pk = account, sk = namespace): ``{name, createdAt, ttlSecond?}``;
  creating one twice is not an error; saving properties into a missing namespace creates it;
* one document per session (kind ``ctxprop``, pk = ``account/namespace``, sk = session id) holding all of the
  session's properties; the default session is ``__default__``;
* TTL is a namespace option: a session document lives ``ttlSecond`` seconds after its last write (no TTL =
  permanent). Expired documents are invisible at once and removed lazily.

Errors carry the context SDK's codes (``.code``/``.message``), so the function sees what LivePerson's SDK throws.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from typing import Any

from chalicelib.clock import Clock
from chalicelib.domain.errors import VersionConflict
from chalicelib.storage.base import MUST_NOT_EXIST, Query, Record, Store

NS_KIND, PROP_KIND = "ctxns", "ctxprop"
DEFAULT_SESSION = "__default__"

# Limits. Documented (context service pages): reserved names, 800,000 characters per session document, 13 months
# max retention, namespaces of letters, digits and "_" (the V2 page; we also allow "-", which V1 users may have
# used). Ours: the counts and lengths, so one account cannot fill the store.
NAMESPACE_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,100}$")
RESERVED_NAMESPACES = frozenset({"faas", "consumer", "custom", "operational", "conversation", "sde"})
DOCUMENT_MAX_CHARS = 800_000
TTL_MAX_S = 396 * 24 * 3600  # 13 months
NAMESPACES_PER_ACCOUNT = 100  # ours
SESSIONS_PER_NAMESPACE = 10_000  # ours
SESSION_ID_MAX = 200  # ours
PROPERTY_NAME_MAX = 200  # ours
_RETRIES = 8

# the context SDK's codes (core-functions-toolbelt context-service-sdk/util/constants.ts)
CODE_INVALID = "com.liveperson.context-service-sdk.parameter.invalid"
CODE_NOT_FOUND = "com.liveperson.context-service-sdk.data.does-not-exist"
CODE_INTERNAL = "com.liveperson.context-service-sdk.internal-server-error"
CODE_UNKNOWN = "com.liveperson.context-service-sdk.unknown"


class ContextError(Exception):
    """What the ContextServiceClient rejects with: the SDK's code and message."""

    code = CODE_INTERNAL

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code


class ContextInvalid(ContextError):
    code = CODE_INVALID


class ContextNotFound(ContextError):
    code = CODE_NOT_FOUND

    def __init__(self) -> None:
        super().__init__("Requested Resource does not exist")


class DocumentTooLarge(ContextError):
    """LivePerson answers 413 "document too large", which its SDK reports as an unknown error; so do we."""

    code = CODE_UNKNOWN

    def __init__(self) -> None:
        super().__init__("Unknown Error document too large occurred")


class ContextStore:
    """Namespaces, sessions and properties of one gateway; every method takes the account explicitly."""

    def __init__(self, store: Store, clock: Clock | None = None) -> None:
        self._store, self._clock = store, clock or Clock()

    # -- namespaces -------------------------------------------------------------------------------------------------
    def create_namespace(self, account_id: str, namespace: Any, ttl: Any = None) -> dict[str, Any]:
        """Create (idempotently); an existing namespace keeps its TTL, as LivePerson's does."""
        name = _namespace(namespace, creating=True)
        ttl_s = _ttl(ttl)
        existing = self._store.get(NS_KIND, account_id, name)
        if existing is None:
            existing = self._insert_namespace(account_id, name, ttl_s)
        return _namespace_view(existing.data)

    def delete_namespace(self, account_id: str, namespace: Any) -> None:
        """Delete the namespace and all its sessions; a missing or empty name is not an error (SDK behaviour)."""
        if namespace is None or namespace == "":
            return
        name = _namespace(namespace, creating=True)
        self._store.delete(NS_KIND, account_id, name)
        for record in self._store.query(Query(PROP_KIND, _pk(account_id, name))):
            self._store.delete(PROP_KIND, record.pk, record.sk)

    def list_namespaces(self, account_id: str) -> list[dict[str, Any]]:
        return [_namespace_view(r.data) for r in self._store.query(Query(NS_KIND, account_id))]

    # -- properties -------------------------------------------------------------------------------------------------
    def set_properties(self, account_id: str, namespace: Any, properties: Any,
                       session_id: Any = None) -> dict[str, Any]:
        """Merge ``properties`` into the session (set and update are the same PATCH in LivePerson's API)."""
        if not isinstance(properties, dict) or not all(isinstance(k, str) and k for k in properties):
            raise ContextInvalid("Properties must be an object with non-empty names")
        for key in properties:
            _property_name(key)
        ns = self._ensure_namespace(account_id, _namespace(namespace))
        return self._update(account_id, ns, _session(session_id), lambda props: {**props, **properties})

    def get_all(self, account_id: str, namespace: Any, session_id: Any = None) -> dict[str, Any]:
        """All properties of the session; an unknown session of a known namespace is empty."""
        ns = self._namespace_record(account_id, _namespace(namespace))
        record = self._live_session(account_id, ns, _session(session_id))
        return dict(record.data["properties"]) if record else {}

    def get_selected(self, account_id: str, namespace: Any, names: Any, session_id: Any = None) -> dict[str, Any]:
        """The named properties that exist (missing ones are left out, as the SDK does)."""
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise ContextInvalid("Property names must be a list of strings")
        props = self.get_all(account_id, namespace, session_id)
        return {name: props[name] for name in names if name in props}

    def get_property(self, account_id: str, namespace: Any, name: Any, session_id: Any = None) -> Any:
        props = self.get_all(account_id, namespace, session_id)
        key = _property_name(name)
        if key not in props:
            raise ContextNotFound()
        return props[key]

    def delete_property(self, account_id: str, namespace: Any, name: Any, session_id: Any = None) -> None:
        """Idempotent, like the SDK's."""
        key = _property_name(name)
        ns = self._namespace_record(account_id, _namespace(namespace))
        session = _session(session_id)
        if self._live_session(account_id, ns, session) is not None:
            self._update(account_id, ns, session, lambda props: {k: v for k, v in props.items() if k != key})

    def delete_session(self, account_id: str, namespace: Any, session_id: Any) -> None:
        name = _namespace(namespace)
        self._namespace_record(account_id, name)
        self._store.delete(PROP_KIND, _pk(account_id, name), _session(session_id))

    def list_sessions(self, account_id: str, namespace: Any) -> list[str]:
        ns = self._namespace_record(account_id, _namespace(namespace))
        now = self._clock.now()
        return [r.sk for r in self._store.query(Query(PROP_KIND, _pk(account_id, ns.sk))) if not _expired(r, now)]

    # -- internals ---------------------------------------------------------------------------------------------------
    def _insert_namespace(self, account_id: str, name: str, ttl_s: int | None) -> Record:
        if self._store.count(Query(NS_KIND, account_id)) >= NAMESPACES_PER_ACCOUNT:
            raise ContextInvalid(f"At most {NAMESPACES_PER_ACCOUNT} namespaces per account")
        data: dict[str, Any] = {"name": name, "createdAt": self._clock.iso()}
        if ttl_s:
            data["ttlSecond"] = ttl_s
        try:
            return self._store.put(NS_KIND, account_id, name, data, expected_version=MUST_NOT_EXIST)
        except VersionConflict:  # created concurrently: that one wins
            record = self._store.get(NS_KIND, account_id, name)
            if record is None:
                raise
            return record

    def _ensure_namespace(self, account_id: str, name: str) -> Record:
        record = self._store.get(NS_KIND, account_id, name)
        if record is None:
            if name in RESERVED_NAMESPACES:
                raise ContextInvalid(f"Namespace {name} is reserved")
            record = self._insert_namespace(account_id, name, None)
        return record

    def _namespace_record(self, account_id: str, name: str) -> Record:
        record = self._store.get(NS_KIND, account_id, name)
        if record is None:
            raise ContextNotFound()
        return record

    def _live_session(self, account_id: str, ns: Record, session: str) -> Record | None:
        record = self._store.get(PROP_KIND, _pk(account_id, ns.sk), session)
        return None if record is None or _expired(record, self._clock.now()) else record

    def _update(self, account_id: str, ns: Record, session: str,
                change: Callable[[dict[str, Any]], dict[str, Any]]) -> dict[str, Any]:
        """Read-modify-write of one session document, conditional on its version (concurrent writers retry)."""
        pk = _pk(account_id, ns.sk)
        for _ in range(_RETRIES):
            current = self._store.get(PROP_KIND, pk, session)
            if current is None:
                self._check_session_room(pk)
            live = current is not None and not _expired(current, self._clock.now())
            props = change(dict(current.data["properties"]) if current is not None and live else {})
            data = self._document(props, ns.data.get("ttlSecond"))
            try:
                self._store.put(PROP_KIND, pk, session, data,
                                expected_version=current.version if current else MUST_NOT_EXIST)
            except VersionConflict:
                continue
            return props
        raise ContextError("The session was changed concurrently too often; try again")

    def _document(self, props: dict[str, Any], ttl_s: int | None) -> dict[str, Any]:
        if _json_chars(props) > DOCUMENT_MAX_CHARS:
            raise DocumentTooLarge()
        now = self._clock.now()
        return {"properties": props, "updatedAt": self._clock.iso(now),
                "expiresAt": now + ttl_s if ttl_s else None}

    def _check_session_room(self, pk: str) -> None:
        if self._store.count(Query(PROP_KIND, pk)) >= SESSIONS_PER_NAMESPACE:
            self._purge_expired(self._store.query(Query(PROP_KIND, pk)))
            if self._store.count(Query(PROP_KIND, pk)) >= SESSIONS_PER_NAMESPACE:
                raise ContextInvalid(f"At most {SESSIONS_PER_NAMESPACE} sessions per namespace")

    def _purge_expired(self, records: Iterable[Record]) -> None:
        now = self._clock.now()
        for record in records:
            if _expired(record, now):
                self._store.delete(record.kind, record.pk, record.sk, expected_version=record.version)


def _pk(account_id: str, namespace: str) -> str:
    return f"{account_id}/{namespace}"


def _expired(record: Record, now: float) -> bool:
    expires = record.data.get("expiresAt")
    return expires is not None and now >= expires


def _namespace(value: Any, *, creating: bool = False) -> str:
    if not isinstance(value, str) or not value:
        raise ContextInvalid("Namespace can not be null, undefined or empty string")
    if not NAMESPACE_PATTERN.match(value):
        raise ContextInvalid("Namespace may hold only letters, digits, '_' and '-' (at most 100)")
    if creating and value in RESERVED_NAMESPACES:
        raise ContextInvalid("Can not create a built-in namespace")
    return value


def _session(value: Any) -> str:
    if value is None or value == "":
        return DEFAULT_SESSION
    if not isinstance(value, str) or len(value) > SESSION_ID_MAX:
        raise ContextInvalid(f"Session id must be a string of at most {SESSION_ID_MAX} characters")
    return value


def _property_name(value: Any) -> str:
    if not isinstance(value, str) or not value or len(value) > PROPERTY_NAME_MAX:
        raise ContextInvalid(f"Property name must be a non-empty string of at most {PROPERTY_NAME_MAX} characters")
    return value


def _ttl(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0 or value != int(value):
        raise ContextInvalid("TTL needs to be a positive integer above 0")
    if value > TTL_MAX_S:
        raise ContextInvalid(f"TTL may be at most {TTL_MAX_S} seconds (13 months)")
    return int(value)


def _namespace_view(data: dict[str, Any]) -> dict[str, Any]:
    view = {"name": data["name"], "createdAt": data["createdAt"]}
    if data.get("ttlSecond"):
        view["ttlSecond"] = data["ttlSecond"]
    return view


def _json_chars(value: Any) -> int:
    try:
        return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")))
    except (TypeError, ValueError):
        raise ContextInvalid("Properties must be JSON values") from None


__all__ = ["DEFAULT_SESSION", "ContextError", "ContextInvalid", "ContextNotFound", "ContextStore",
           "DocumentTooLarge"]
