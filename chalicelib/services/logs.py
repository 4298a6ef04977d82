"""Function logs: what deployed functions logged, read from their invocation records (kept 30 days).

Each invocation record (kind "invocation", pk "<account>#<function uuid>", sk "<ms:013d>#<request id>") carries the
log entries of that run, already capped by the runtime (runtime-and-toolbelt.md §1.5). Search pages through them
with an opaque cursor; export yields them in time order for the CSV / JSON-lines writers of the wire layer. Both read
the store a page of records at a time, so memory does not grow with the size of the answer.
"""

from __future__ import annotations

import base64
import heapq
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from chalicelib.clock import Clock
from chalicelib.domain.errors import BadInput
from chalicelib.domain.permissions import Action, Principal, require
from chalicelib.services.invocations import RECORD_KEPT_S
from chalicelib.services.repository import FunctionRepository
from chalicelib.storage.base import Query, Record, Store

LEVELS = ("Debug", "Info", "Warn", "Error")
SEARCH_WINDOW_MS = 7 * 86_400_000  # runtime-and-toolbelt.md §1.5: log search window max 7 days
PAGE_MAX = 1000
_RECORDS_PER_READ = 200
_FIRST_READ = 16
_KIND = "invocation"


@dataclass(frozen=True)
class LogFilter:
    """What to look for; ``function_uuids`` empty means every function of the account."""

    start_ms: int
    end_ms: int  # inclusive
    function_uuids: tuple[str, ...] = ()
    levels: frozenset[str] = frozenset()
    request_id: str = ""
    text: str = ""


@dataclass(frozen=True)
class LogEntry:
    function_uuid: str
    request_id: str
    level: str
    message: Any
    timestamp: int  # ms, when the function logged it
    extras: list[Any] = field(default_factory=list)
    status: str = ""  # the invocation's outcome

    def to_dict(self) -> dict[str, Any]:
        return {"functionUuid": self.function_uuid, "requestId": self.request_id, "level": self.level,
                "message": self.message, "extras": self.extras, "timestamp": self.timestamp,
                "invocationStatus": self.status}


_Key = tuple[str, str, int]  # (record sk, function uuid, index in the record's logs): the order of entries


def encode_cursor(key: _Key) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(key), separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> _Key:
    try:
        sk, uuid, index = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if isinstance(sk, str) and isinstance(uuid, str) and isinstance(index, int):
            return sk, uuid, index
    except (ValueError, TypeError):
        pass
    raise BadInput(detail="cursor is not one this API gave out")


def parse_levels(values: list[str]) -> frozenset[str]:
    wanted = {v.strip().lower() for value in values for v in value.split(",") if v.strip()}
    by_name = {level.lower(): level for level in LEVELS} | {"warning": "Warn"}
    unknown = wanted - set(by_name)
    if unknown:
        raise BadInput(detail=f"unknown log levels {sorted(unknown)}; use {', '.join(LEVELS)}")
    return frozenset(by_name[v] for v in wanted)


def _text_of(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)


class LogService:
    def __init__(self, store: Store, repo: FunctionRepository, clock: Clock) -> None:
        self._store, self._repo, self._clock = store, repo, clock

    def search(self, who: Principal, flt: LogFilter, *, limit: int = 100, cursor: str = "",
               newest_first: bool = True) -> tuple[list[LogEntry], str]:
        """One page of matching entries and the cursor of the next page ("" when there is none)."""
        require(who, "logs", Action.READ)
        if flt.end_ms - flt.start_ms > SEARCH_WINDOW_MS:
            raise BadInput(detail="the search window is at most 7 days (endTimestamp - startTimestamp)")
        if not 1 <= limit <= PAGE_MAX:
            raise BadInput(detail=f"limit must be between 1 and {PAGE_MAX}")
        after = decode_cursor(cursor) if cursor else None
        found: list[tuple[_Key, LogEntry]] = []
        for key, entry in self._entries(who.account_id, flt, newest_first, after):
            found.append((key, entry))
            if len(found) > limit:
                break
        if len(found) > limit:
            return [e for _, e in found[:limit]], encode_cursor(found[limit - 1][0])
        return [e for _, e in found], ""

    def check_function(self, who: Principal, uuid: str) -> None:
        """FunctionNotFound unless the account has the function (before a request's other faults)."""
        require(who, "logs", Action.READ)
        self._repo.get_cached(who.account_id, uuid)

    def export(self, who: Principal, flt: LogFilter) -> Iterator[LogEntry]:
        """Every matching entry within the retention period, oldest first, read lazily."""
        require(who, "logs", Action.READ)
        return (entry for _, entry in self._entries(who.account_id, flt, False, None))

    # -- internals ------------------------------------------------------------------------------------------------
    def _entries(self, account_id: str, flt: LogFilter, reverse: bool,
                 after: _Key | None) -> Iterator[tuple[_Key, LogEntry]]:
        if flt.end_ms < flt.start_ms:
            raise BadInput(detail="endTimestamp is before startTimestamp")
        oldest_kept = int((self._clock.now() - RECORD_KEPT_S) * 1000)
        low, high = f"{max(flt.start_ms, oldest_kept, 0):013d}", f"{max(flt.end_ms + 1, 0):013d}"
        if after is not None:  # resume at the cursor's record (entries up to the cursor are skipped below)
            low, high = (low, min(high, after[0] + "\x00")) if reverse else (max(low, after[0]), high)
        uuids = flt.function_uuids or tuple(f.uuid for f in self._repo.list_meta(account_id))
        for uuid in flt.function_uuids:
            self._repo.get_cached(account_id, uuid)  # FunctionNotFound for a function the account does not have
        streams = [self._of_function(account_id, uuid, low, high, reverse, flt) for uuid in uuids]
        merged = heapq.merge(*streams, key=lambda item: item[0], reverse=reverse) if len(streams) > 1 \
            else (streams[0] if streams else iter(()))
        for key, entry in merged:
            if after is not None and not _past(key, after, reverse):
                continue
            yield key, entry

    def _of_function(self, account_id: str, uuid: str, low: str, high: str, reverse: bool,
                     flt: LogFilter) -> Iterator[tuple[_Key, LogEntry]]:
        text = flt.text.lower()
        for record in self._records(account_id, uuid, low, high, reverse, flt.request_id):
            logs = record.data.get("logs") or []
            order = range(len(logs) - 1, -1, -1) if reverse else range(len(logs))
            for i in order:
                raw = logs[i]
                level = raw.get("level", "Info")
                if flt.levels and level not in flt.levels:
                    continue
                message, extras = raw.get("message", ""), raw.get("extras") or []
                if text and text not in _text_of(message).lower() and text not in _text_of(extras).lower():
                    continue
                yield (record.sk, uuid, i), LogEntry(uuid, record.data.get("request_id", ""), level, message,
                                                     int(raw.get("timestamp") or record.data.get("at", 0)), extras,
                                                     record.data.get("status", ""))

    def _records(self, account_id: str, uuid: str, low: str, high: str, reverse: bool,
                 request_id: str) -> Iterator[Record]:
        filters = {"request_id": request_id} if request_id else {}
        size = _FIRST_READ  # small first: a page of results often needs few records (and a merge reads every
        while True:         # function's first read before it yields anything)
            page = self._store.query(Query(_KIND, f"{account_id}#{uuid}", start=low, end=high, reverse=reverse,
                                           limit=size, filters=filters, omit=("input",)))
            yield from page
            if len(page) < size:
                return
            size = min(size * 4, _RECORDS_PER_READ)
            if reverse:
                high = page[-1].sk
            else:
                low = page[-1].sk + "\x00"


def _past(key: _Key, after: _Key, reverse: bool) -> bool:
    return key < after if reverse else key > after
