"""The per-account domain allowlist: what functions may reach through the egress proxy.

Three kinds of record keep it consistent under concurrent writers, with no locks: the entries (``domain``, sk =
zero-padded id, so they list in id order), a unique index on the domain name (``domain-name``, sk = domain) and an
id counter (``counter``). Each add, edit and remove is one conditional transaction over them, so ids only grow and a
domain is listed once. ``allowlist_for`` is what the proxy reads; ``on_change`` is how it learns to re-read.
"""

from __future__ import annotations

import builtins
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chalicelib.clock import Clock
from chalicelib.domain.allowlist import validate_domain
from chalicelib.domain.errors import DomainExists, DomainNotFound, LimitReached, ValidationFailed, VersionConflict
from chalicelib.domain.models import Document
from chalicelib.domain.permissions import Action, Principal, require
from chalicelib.storage.base import MUST_NOT_EXIST, Delete, Put, Query, Record, Store

log = logging.getLogger("fngate.domains")
KIND, NAME_KIND, COUNTER_KIND, COUNTER_SK = "domain", "domain-name", "counter", "allowlist-id"
DOMAINS_PER_ACCOUNT = 1000  # ours: LivePerson publishes no limit
NAME_MAX = 200  # ours
_RETRIES = 8

ChangeHook = Callable[[str], None]  # (account_id)


@dataclass(frozen=True)
class AllowedDomain(Document):
    id: int
    domain: str
    name: str
    created_at: str = ""
    created_by: str = ""
    updated_at: str = ""
    updated_by: str = ""


def _sk(domain_id: int) -> str:
    return f"{domain_id:012d}"


def _name(name: Any, default: str) -> str:
    if name is None or name == "":
        return default
    if not isinstance(name, str) or len(name) > NAME_MAX:
        raise ValidationFailed(detail=f"'name' must be a string of at most {NAME_MAX} characters")
    return name


class DomainService:
    def __init__(self, store: Store, clock: Clock) -> None:
        self._store, self._clock = store, clock
        self.on_change: list[ChangeHook] = []

    # -- management API ------------------------------------------------------------------------------------------
    def list(self, who: Principal) -> list[AllowedDomain]:
        require(who, "whitelist", Action.READ)
        return self.entries(who.account_id)

    def get(self, who: Principal, domain_id: int) -> AllowedDomain:
        require(who, "whitelist", Action.READ)
        return AllowedDomain.from_dict(self._record(who.account_id, domain_id).data)

    def add(self, who: Principal, domain: Any, name: Any = None) -> AllowedDomain:
        require(who, "whitelist", Action.WRITE)
        return self._add(who.account_id, domain, name, who.display_name)

    def update(self, who: Principal, domain_id: int, domain: Any = None, name: Any = None) -> AllowedDomain:
        require(who, "whitelist", Action.WRITE)
        for _ in range(_RETRIES):
            current = self._record(who.account_id, domain_id)
            old = AllowedDomain.from_dict(current.data)
            new_domain = old.domain if domain is None else validate_domain(domain)
            item = AllowedDomain(domain_id, new_domain, _name(name, old.name), old.created_at, old.created_by,
                                 self._clock.iso(), who.display_name)
            ops: list[Put | Delete] = [Put(KIND, who.account_id, _sk(domain_id), item.to_dict(), current.version)]
            if new_domain != old.domain:
                self._check_unique(who.account_id, new_domain)
                ops += [Delete(NAME_KIND, who.account_id, old.domain),
                        Put(NAME_KIND, who.account_id, new_domain, {"id": domain_id}, MUST_NOT_EXIST)]
            if self._try(ops):
                self._changed(who.account_id)
                return item
        raise VersionConflict(what="The allowlist")

    def remove(self, who: Principal, domain_id: int) -> None:
        require(who, "whitelist", Action.WRITE)
        for _ in range(_RETRIES):
            current = self._record(who.account_id, domain_id)
            ops: list[Put | Delete] = [Delete(KIND, who.account_id, _sk(domain_id), current.version),
                                       Delete(NAME_KIND, who.account_id, current.data["domain"])]
            if self._try(ops):
                self._changed(who.account_id)
                return
        raise VersionConflict(what="The allowlist")

    # -- the egress proxy and provisioning ---------------------------------------------------------------------------
    def allowlist_for(self, account_id: str) -> builtins.list[str]:
        """The account's allowlisted domains (exact names and ``*.`` wildcards): the proxy's ``allowlist_for``."""
        return [r.data["domain"] for r in self._store.query(Query(KIND, account_id))]

    def entries(self, account_id: str) -> builtins.list[AllowedDomain]:
        return [AllowedDomain.from_dict(r.data) for r in self._store.query(Query(KIND, account_id))]

    def ensure(self, account_id: str, domain: str, name: str = "", *, by: str = "system") -> bool:
        """Add the domain unless it is listed already; True if added now."""
        try:
            self._add(account_id, domain, name, by)
        except DomainExists:
            return False
        return True

    # -- internals ---------------------------------------------------------------------------------------------------
    def _add(self, account_id: str, domain: Any, name: Any, by: str) -> AllowedDomain:
        domain = validate_domain(domain)
        name = _name(name, domain)
        for _ in range(_RETRIES):
            self._check_unique(account_id, domain)
            if self._store.count(Query(KIND, account_id)) >= DOMAINS_PER_ACCOUNT:
                raise LimitReached(detail=f"at most {DOMAINS_PER_ACCOUNT} allowlisted domains per account")
            counter = self._store.get(COUNTER_KIND, account_id, COUNTER_SK)
            new_id = (counter.data["last"] if counter else 0) + 1
            now = self._clock.iso()
            item = AllowedDomain(new_id, domain, name, now, by, now, by)
            ops: list[Put | Delete] = [
                Put(COUNTER_KIND, account_id, COUNTER_SK, {"last": new_id},
                    counter.version if counter else MUST_NOT_EXIST),
                Put(KIND, account_id, _sk(new_id), item.to_dict(), MUST_NOT_EXIST),
                Put(NAME_KIND, account_id, domain, {"id": new_id}, MUST_NOT_EXIST)]
            if self._try(ops):  # lost a race for the id or the name: look again
                self._changed(account_id)
                return item
        raise VersionConflict(what="The allowlist")

    def _check_unique(self, account_id: str, domain: str) -> None:
        if self._store.get(NAME_KIND, account_id, domain) is not None:
            raise DomainExists(domain=domain)

    def _try(self, ops: builtins.list[Put | Delete]) -> bool:
        try:
            self._store.transact(ops)
        except VersionConflict:
            return False
        return True

    def _record(self, account_id: str, domain_id: int) -> Record:
        record = self._store.get(KIND, account_id, _sk(domain_id)) if domain_id > 0 else None
        if record is None:
            raise DomainNotFound(id=domain_id)
        return record

    def _changed(self, account_id: str) -> None:
        for hook in list(self.on_change):
            try:
                hook(account_id)
            except Exception:  # the write happened; a broken listener must not turn it into an error
                log.exception("allowlist change hook failed for account %s", account_id)
