"""Master-key rotation: re-wrap every stored data key under the keyring's current key, one record at a time.

Values are never decrypted; only data keys are unwrapped and wrapped again. Each record is rewritten on the
condition that its version is still the one read, so a concurrent update (already sealed under the current key)
wins and is simply checked again. Every record opens at every moment: under its old key until it is rewritten,
under the new one after. So a rotation interrupted anywhere loses nothing, and running it again finishes the job.
Old master key files are removed only on request, after a full scan finds no record that still references them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from chalicelib.crypto.envelope import DecryptionFailed, Keyring, LocalKeyring, rewrap
from chalicelib.domain.errors import VersionConflict
from chalicelib.services.secrets import KIND as SECRET_KIND
from chalicelib.services.secrets import secret_context
from chalicelib.storage.base import Query, Record, Store

log = logging.getLogger("fngate.rotation")
_RETRIES = 5
WriteHook = Callable[[Record], None]


def _accounts(store: Store) -> list[str]:
    return [r.sk for r in store.query(Query("account", "accounts"))]


@dataclass(frozen=True)
class SealedKind:
    """Where envelopes are stored: a kind, its pks, the data field holding the envelope and the encryption context.

    ``context`` returns None for records of the kind that hold no envelope of this shape.
    """

    kind: str
    pks: Callable[[Store], Iterable[str]]
    field: str
    context: Callable[[Record], dict[str, str] | None]


# Mirrors the layouts of services/secrets.py and services/identity.py (app-key secrets, the token signing key);
# tests/unit/test_rotation.py proves each still opens after the old key is gone.
SEALED_KINDS: tuple[SealedKind, ...] = (
    SealedKind(SECRET_KIND, _accounts, "envelope", lambda r: secret_context(r.pk, r.sk)),
    SealedKind("appkey", _accounts, "sealed", lambda r: {"account": r.pk, "app-key": r.sk}),
    SealedKind("system", lambda store: ["system"], "envelope",
               lambda r: {"purpose": "token-signing-key"} if r.sk.startswith("signing-key") else None),
)


@dataclass
class RotationReport:
    new_key_id: str | None = None
    rewrapped: int = 0
    already_current: int = 0
    failed: list[str] = field(default_factory=list)  # "kind/pk/sk" whose data key could not be unwrapped
    removed_keys: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.failed

    def to_dict(self) -> dict[str, Any]:
        return {"newKeyId": self.new_key_id, "rewrapped": self.rewrapped, "alreadyCurrent": self.already_current,
                "failed": self.failed, "removedKeys": self.removed_keys, "complete": self.complete}


class KeyRotation:
    """Re-wraps under ``keyring``'s current key; ``before_write`` runs before each rewrite (tests inject crashes)."""

    def __init__(self, store: Store, keyring: Keyring, *, kinds: tuple[SealedKind, ...] = SEALED_KINDS,
                 before_write: WriteHook | None = None) -> None:
        self._store, self._keyring, self._kinds, self._before_write = store, keyring, kinds, before_write

    def run(self, report: RotationReport | None = None) -> RotationReport:
        report = report or RotationReport()
        for kind, record in self._sealed_records():
            try:
                changed = self._rewrap_one(kind, record)
            except DecryptionFailed:
                report.failed.append(f"{record.kind}/{record.pk}/{record.sk}")
                log.error("could not unwrap the data key of %s/%s/%s", record.kind, record.pk, record.sk)
                continue
            if changed:
                report.rewrapped += 1
            else:
                report.already_current += 1
        return report

    def referenced_key_ids(self) -> set[str]:
        return {record.data[kind.field]["kid"] for kind, record in self._sealed_records()}

    def _sealed_records(self) -> Iterable[tuple[SealedKind, Record]]:
        for kind in self._kinds:
            for pk in kind.pks(self._store):
                for record in self._store.query(Query(kind.kind, pk)):
                    if record.data.get(kind.field) and kind.context(record) is not None:
                        yield kind, record

    def _rewrap_one(self, kind: SealedKind, record: Record | None) -> bool:
        for _ in range(_RETRIES):
            envelope = record.data.get(kind.field) if record else None
            context = kind.context(record) if record else None
            if record is None or not envelope or context is None or self._keyring.is_current(envelope["kid"]):
                return False  # gone, or rewritten meanwhile by an update sealed under the current key
            data = {**record.data, kind.field: rewrap(self._keyring, envelope, context)}
            if self._before_write:
                self._before_write(record)
            try:
                self._store.put(kind.kind, record.pk, record.sk, data, expected_version=record.version)
                return True
            except VersionConflict:
                record = self._store.get(kind.kind, record.pk, record.sk)
        raise VersionConflict(what=f"{kind.kind} {record.sk if record else ''}")


def rotate_master_key(store: Store, keyring: Keyring, *, resume: bool = False, remove_old_keys: bool = False,
                      before_write: WriteHook | None = None) -> RotationReport:
    """`fngate admin rotate-master-key`: a new local master key (unless ``resume``), then re-wrap everything.

    With KMS no key is created here: records move to the configured key id. (KMS automatic rotation keeps older
    backing keys inside the same KMS key, so it needs no re-wrap at all.)
    """
    report = RotationReport()
    if isinstance(keyring, LocalKeyring) and not resume:
        report.new_key_id = keyring.add_key()
    rotation = KeyRotation(store, keyring, before_write=before_write)
    rotation.run(report)
    if remove_old_keys and report.complete and isinstance(keyring, LocalKeyring):
        referenced = rotation.referenced_key_ids()  # a fresh scan: catches anything sealed under an old key since
        for key_id in keyring.key_ids():
            if key_id != keyring.current_id and key_id not in referenced:
                keyring.remove_key(key_id)
                report.removed_keys.append(key_id)
    return report
