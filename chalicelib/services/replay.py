"""Invocation replay (ours, beyond LivePerson): a function can opt in to keep its invocations' inputs (and results)
for 7 days, encrypted with the account's replay data key; a kept invocation can be run again as a test invocation
and its result compared with the original.

The account's data key is made once (sealed by the keyring, so a KMS call happens once per account and process,
not per invocation) and kept in the store wrapped; each kept invocation is a SecretBox under it. Records: kind
"replaycfg" (pk account, sk function uuid), "replaykey" (pk account), "invinput" (pk "<account>#<uuid>", sk as the
invocation record's, expiring after 7 days).
"""

from __future__ import annotations

import base64
import contextlib
import json
import threading
from typing import Any

from nacl.secret import SecretBox
from nacl.utils import random as random_bytes

from chalicelib.clock import Clock
from chalicelib.crypto.envelope import Keyring, open_envelope, seal
from chalicelib.domain.errors import (
    BadInput,
    ExecutionTimeExceeded,
    FngateError,
    FunctionFailed,
    NotFound,
    VersionConflict,
)
from chalicelib.domain.permissions import Action, Principal, require
from chalicelib.services.repository import FunctionRepository
from chalicelib.storage.base import EXPIRES_AT, MUST_NOT_EXIST, Query, Store

KEPT_S = 7 * 86_400
_SETTINGS_TTL_S = 1.0  # how stale "does this function keep inputs" may be on the invoke path
_KIND, _CFG, _KEY = "invinput", "replaycfg", "replaykey"


def status_of(err: FngateError | None) -> str:
    if err is None:
        return "SUCCEEDED"
    if isinstance(err, ExecutionTimeExceeded):
        return "TIMEOUT"
    return "CODING_FAILURE" if isinstance(err, FunctionFailed) else "PLATFORM_FAILURE"


class ReplayService:
    def __init__(self, store: Store, keyring: Keyring, repo: FunctionRepository, clock: Clock) -> None:
        self._store, self._keyring, self._repo, self._clock = store, keyring, repo, clock
        self._keeps: dict[tuple[str, str], tuple[float, bool]] = {}
        self._boxes: dict[str, SecretBox] = {}
        self._lock = threading.Lock()
        self.invocations: Any = None  # the InvocationService, set by the factory (it calls keep())

    # -- the setting ----------------------------------------------------------------------------------------------
    def settings(self, who: Principal, uuid: str) -> dict[str, Any]:
        require(who, "lambda", Action.READ)
        self._repo.get_cached(who.account_id, uuid)
        record = self._store.get(_CFG, who.account_id, uuid)
        return {"keepInputs": bool(record and record.data.get("keep")), "keptForSeconds": KEPT_S}

    def configure(self, who: Principal, uuid: str, keep: Any) -> dict[str, Any]:
        require(who, "lambda", Action.WRITE)
        self._repo.get_cached(who.account_id, uuid)
        if not isinstance(keep, bool):
            raise BadInput(detail="'keepInputs' must be true or false")
        self._store.put(_CFG, who.account_id, uuid, {"keep": keep, "updatedAt": self._clock.iso(),
                                                     "updatedBy": who.display_name})
        with self._lock:
            self._keeps.pop((who.account_id, uuid), None)
        return {"keepInputs": keep, "keptForSeconds": KEPT_S}

    def keeps(self, account_id: str, uuid: str) -> bool:
        now = self._clock.now()
        cached = self._keeps.get((account_id, uuid))
        if cached is not None and cached[0] > now:
            return cached[1]
        record = self._store.get(_CFG, account_id, uuid)
        keep = bool(record and record.data.get("keep"))
        self._keeps[(account_id, uuid)] = (now + _SETTINGS_TTL_S, keep)
        return keep

    # -- keeping --------------------------------------------------------------------------------------------------
    def keep(self, account_id: str, uuid: str, sort_key: str, request_id: str, event: Any, result: Any,
             err: FngateError | None) -> None:
        original = {"input": event, "result": result, "status": status_of(err),
                    "errorCode": err.v1_code if err else ""}
        sealed = self._box(account_id).encrypt(json.dumps(original).encode())
        self._store.put(_KIND, f"{account_id}#{uuid}", sort_key, {
            "requestId": request_id, "at": int(self._clock.now() * 1000), "status": original["status"],
            "sealed": base64.b64encode(bytes(sealed)).decode(), EXPIRES_AT: int(self._clock.now()) + KEPT_S})

    def kept(self, who: Principal, uuid: str, limit: int = 100) -> list[dict[str, Any]]:
        """The kept invocations of a function, newest first (no input: that needs a replay)."""
        require(who, "lambda", Action.READ)
        self._repo.get_cached(who.account_id, uuid)
        oldest = f"{int((self._clock.now() - KEPT_S) * 1000):013d}"
        records = self._store.query(Query(_KIND, f"{who.account_id}#{uuid}", start=oldest, reverse=True,
                                          limit=limit, omit=("sealed",)))
        return [{"requestId": r.data["requestId"], "at": r.data["at"], "status": r.data["status"]} for r in records]

    # -- replaying ------------------------------------------------------------------------------------------------
    def replay(self, who: Principal, uuid: str, request_id: str) -> dict[str, Any]:
        """Run a kept invocation again as a test invocation; both results and whether they agree."""
        require(who, "lambda", Action.INVOKE)
        original = self._original(who.account_id, uuid, request_id)
        from chalicelib.services.invocations import Call

        call = Call(body={"timestamp": 0, **original["input"]}, source="replay")
        try:
            outcome = self.invocations.invoke(who, uuid, call)
            again: dict[str, Any] = {"status": "SUCCEEDED", "result": outcome.result, "logs": outcome.logs,
                                     "errorCode": ""}
        except FngateError as err:
            again = {"status": status_of(err), "result": None, "logs": getattr(err, "logs", []),
                     "errorCode": err.v1_code}
        same = again["status"] == original["status"] and again["result"] == original["result"] \
            and again["errorCode"] == original["errorCode"]
        return {"requestId": request_id, "replayRequestId": call.request_id, "same": same,
                "original": {k: original[k] for k in ("status", "result", "errorCode")}, "replay": again}

    def _original(self, account_id: str, uuid: str, request_id: str) -> dict[str, Any]:
        self._repo.get_cached(account_id, uuid)
        oldest = f"{int((self._clock.now() - KEPT_S) * 1000):013d}"
        found = self._store.query(Query(_KIND, f"{account_id}#{uuid}", start=oldest,
                                        filters={"requestId": request_id}, limit=1))
        if not found:
            raise NotFound(what="kept invocation", key=request_id)
        plain = self._box(account_id).decrypt(base64.b64decode(found[0].data["sealed"]))
        return json.loads(plain)

    def _box(self, account_id: str) -> SecretBox:
        box = self._boxes.get(account_id)
        if box is not None:
            return box
        with self._lock:
            if account_id not in self._boxes:
                self._boxes[account_id] = SecretBox(self._data_key(account_id))
            return self._boxes[account_id]

    def _data_key(self, account_id: str) -> bytes:
        context = {"account": account_id, "purpose": "replay"}
        record = self._store.get(_KEY, account_id, "current")
        if record is None:
            envelope = seal(self._keyring, random_bytes(SecretBox.KEY_SIZE), context)
            with contextlib.suppress(VersionConflict):  # another process made it first: use theirs
                self._store.put(_KEY, account_id, "current", {"envelope": envelope}, expected_version=MUST_NOT_EXIST)
            record = self._store.get(_KEY, account_id, "current")
            assert record is not None
        return open_envelope(self._keyring, record.data["envelope"], context)
