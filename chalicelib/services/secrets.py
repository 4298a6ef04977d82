"""Secrets: one envelope per value, bound to (account, key); FaaS-Admin manages them, functions read and update.

Every write seals the JSON-stringified value under a fresh data key with the encryption context
{"account", "secret"}, so a sealed value copied to another account or key does not open. Nothing is cached:
an update is what the next read returns, in every gateway process, without redeploying. ``on_change`` hooks
let caches elsewhere (a Toolbelt-side cache, say) drop a key when it changes.
"""

from __future__ import annotations

import builtins
import logging
from collections.abc import Callable
from typing import Any

from chalicelib.clock import Clock
from chalicelib.crypto.envelope import Keyring, open_envelope, seal
from chalicelib.domain import secrets as rules
from chalicelib.domain.changes import UNSET
from chalicelib.domain.errors import (
    LimitReached,
    SecretExists,
    SecretForbidden,
    SecretInvalidFormat,
    SecretNotForFunction,
    SecretNotFound,
    VersionConflict,
)
from chalicelib.domain.permissions import Action, Principal, is_allowed, require
from chalicelib.domain.secrets import Secret
from chalicelib.storage.base import MUST_NOT_EXIST, Query, Record, Store, on_latest

log = logging.getLogger("fngate.secrets")
KIND = "secret"
_RETRIES = 5  # optimistic writes retried this often (a concurrent re-wrap bumps the version)

ChangeHook = Callable[[str, str], None]  # (account_id, key)
RpcMethod = Callable[[dict[str, Any]], Any]


def secret_context(account_id: str, key: str) -> dict[str, str]:
    """The encryption context: binds the envelope to its account and key."""
    return {"account": account_id, "secret": key}


class SecretService:
    def __init__(self, store: Store, keyring: Keyring, clock: Clock) -> None:
        self._store, self._keyring, self._clock = store, keyring, clock
        self.on_change: list[ChangeHook] = []

    # -- management API (users) -----------------------------------------------------------------------------------
    def list(self, who: Principal) -> list[Secret]:
        require(who, "secret", Action.READ)
        clear = is_allowed(who, "secret", Action.READ_VALUE)
        return [self._view(r, clear) for r in self._store.query(Query(KIND, who.account_id))]

    def get(self, who: Principal, key: str) -> Secret:
        require(who, "secret", Action.READ)
        record = self._record(who.account_id, rules.validate_key(key))
        return self._view(record, is_allowed(who, "secret", Action.READ_VALUE))

    def create(self, who: Principal, key: Any, value: Any, functions: Any = None) -> Secret:
        """``functions``: the uuids of the only functions that may read and update it (None: every function)."""
        require(who, "secret", Action.WRITE)
        key, text, readers = rules.validate_key(key), rules.stringify(value), rules.validate_functions(functions)
        if self._store.count(Query(KIND, who.account_id)) >= rules.SECRETS_PER_ACCOUNT:
            raise LimitReached(detail=f"at most {rules.SECRETS_PER_ACCOUNT} secrets per account")
        record = self._insert(who.account_id, key, text, who.display_name, readers)
        return self._view(record, is_allowed(who, "secret", Action.READ_VALUE), value=rules.parse(text))

    def update(self, who: Principal, key: str, value: Any, functions: Any = UNSET) -> Secret:
        """Replaces the value; ``functions`` as for create (left out: unchanged)."""
        require(who, "secret", Action.WRITE)
        key, text = rules.validate_key(key), rules.stringify(value)
        readers = UNSET if functions is UNSET else rules.validate_functions(functions)
        record = self._replace(who.account_id, key, text, who.display_name, readers)
        return self._view(record, is_allowed(who, "secret", Action.READ_VALUE), value=rules.parse(text))

    def delete(self, who: Principal, key: str) -> None:
        require(who, "secret", Action.WRITE)
        key = rules.validate_key(key)
        if not self._store.delete(KIND, who.account_id, key):
            raise SecretNotFound(key=key)
        self._changed(who.account_id, key)

    # -- functions (Toolbelt SecretClient through the worker RPC bridge) --------------------------------------------
    def read_for_function(self, account_id: str, key: Any, function_uuid: str | None = None) -> dict[str, Any]:
        """{key, value} as readSecret resolves it; system secrets are readable (LpClient needs them).

        ``function_uuid`` None is the gateway itself (provisioning); a function must be on the secret's list, if any.
        """
        key = rules.validate_key(key)
        record = self._record(account_id, key)
        _check_reader(record, key, function_uuid)
        return {"key": key, "value": rules.parse(self._open(record))}

    def update_for_function(self, account_id: str, key: Any, value: Any, *, by: str = "function",
                            function_uuid: str | None = None) -> dict[str, Any]:
        """updateSecret: existing, non-system secrets only (functions never create one)."""
        key = rules.validate_key(key)
        if rules.is_system_secret(key):
            raise SecretForbidden(key=key)
        text = rules.stringify(value)
        self._replace(account_id, key, text, by, UNSET, function_uuid)
        return {"key": key, "value": rules.parse(text)}

    def rpc_methods(self, account_id: str, function_uuid: str | None = None, *,
                    by: str = "function") -> dict[str, RpcMethod]:
        """RPC method name → handler for one invocation's function: params {key} / {key, value}, result {key, value}."""

        def read(params: dict[str, Any]) -> dict[str, Any]:
            return self.read_for_function(account_id, _param(params, "key"), function_uuid)

        def update(params: dict[str, Any]) -> dict[str, Any]:
            return self.update_for_function(account_id, _param(params, "key"), _param(params, "value"), by=by,
                                            function_uuid=function_uuid)

        return {"secret.read": read, "secret.update": update}

    # -- system (provisioning) -------------------------------------------------------------------------------------
    def ensure(self, account_id: str, key: str, value: Any, *, by: str = "system") -> bool:
        """Create the secret unless it exists (an admin may have changed it); True if created now."""
        key, text = rules.validate_key(key), rules.stringify(value)
        try:
            self._insert(account_id, key, text, by)
        except SecretExists:
            return False
        return True

    def exists(self, account_id: str, key: str) -> bool:
        return self._store.get(KIND, account_id, key) is not None

    # -- internals ---------------------------------------------------------------------------------------------------
    def _record(self, account_id: str, key: str) -> Record:
        record = self._store.get(KIND, account_id, key)
        if record is None:
            raise SecretNotFound(key=key)
        return record

    def _open(self, record: Record) -> str:
        context = secret_context(record.pk, record.sk)
        return open_envelope(self._keyring, record.data["envelope"], context).decode()

    def _sealed(self, account_id: str, key: str, text: str, by: str, before: dict[str, Any] | None,
                readers: Any = UNSET) -> dict[str, Any]:
        now = self._clock.iso()
        envelope = seal(self._keyring, text.encode(), secret_context(account_id, key))
        created = before or {"created_at": now, "created_by": by}
        functions = (before or {}).get("functions") if readers is UNSET else readers
        return {"key": key, "envelope": envelope, "created_at": created["created_at"],
                "created_by": created["created_by"], "updated_at": now, "updated_by": by, "functions": functions}

    def _insert(self, account_id: str, key: str, text: str, by: str,
                readers: builtins.list[str] | None = None) -> Record:
        try:
            record = self._store.put(KIND, account_id, key, self._sealed(account_id, key, text, by, None, readers),
                                     expected_version=MUST_NOT_EXIST)
        except VersionConflict:
            raise SecretExists(key=key) from None
        self._changed(account_id, key)
        return record

    def _replace(self, account_id: str, key: str, text: str, by: str, readers: Any = UNSET,
                 function_uuid: str | None = None) -> Record:
        """Replace an existing secret; conditional on the version read, so a deleted secret is not resurrected."""

        def attempt() -> Record:
            current = self._record(account_id, key)
            _check_reader(current, key, function_uuid)  # the list may have changed since the caller's check
            data = self._sealed(account_id, key, text, by, current.data, readers)
            return self._store.put(KIND, account_id, key, data, expected_version=current.version)

        record = on_latest(attempt, tries=_RETRIES, what=f"Secret {key}")
        self._changed(account_id, key)
        return record

    def _view(self, record: Record, clear: bool, value: Any = UNSET) -> Secret:
        data = record.data

        def read() -> Any:
            return rules.parse(self._open(record)) if value is UNSET else value

        return Secret(key=record.sk, value=rules.shown_value(read, may_read_value=clear),
                      created_at=data.get("created_at", ""), created_by=data.get("created_by", ""),
                      updated_at=data.get("updated_at", ""), updated_by=data.get("updated_by", ""),
                      functions=data.get("functions"))

    def _changed(self, account_id: str, key: str) -> None:
        for hook in list(self.on_change):
            try:
                hook(account_id, key)
            except Exception:  # a broken listener must not fail the write that already happened
                log.exception("secret change hook failed for account %s", account_id)


def _check_reader(record: Record, key: str, function_uuid: str | None) -> None:
    readers = record.data.get("functions")
    if function_uuid is not None and readers is not None and function_uuid not in readers:
        raise SecretNotForFunction(key=key)


def _param(params: Any, name: str) -> Any:
    if not isinstance(params, dict) or name not in params:
        raise SecretInvalidFormat(detail=f"'{name}' is required")
    return params[name]
