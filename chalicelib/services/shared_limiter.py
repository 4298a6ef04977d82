"""The per-account limits of AccountLimiter, held for all server processes of one gateway through a shared file.

The file (mapped into every process) is a table of account slots: a token bucket (tokens, stamp) and one in-flight
counter per process column. Updates take a thread lock and an flock on the file (a few µs). A process owns its
column through a POSIX lock on one byte of ``<path>.procs``, which the kernel drops when the process dies, however
it dies: a process that claims a column zeroes every column whose owner is gone, so the in-flight counts of a
process killed with SIGKILL stop counting when its replacement starts. Time is CLOCK_MONOTONIC (one clock per
machine). Slots are never freed; when the table is full an account falls back to a limiter of this process.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import math
import mmap
import os
import struct
import threading
import time
from collections.abc import Callable
from pathlib import Path

from chalicelib.domain.errors import TooManyRequests
from chalicelib.services.limiter import AccountLimiter

log = logging.getLogger(__name__)

MAX_PROCESSES = 64  # columns
SLOTS = 16_384  # accounts per gateway
_HEAD = struct.Struct("<16sdd")  # account key (blake2b-128 of the id; zeros = free), tokens, stamp
_COLUMNS = struct.Struct(f"<{MAX_PROCESSES}i")
_SLOT_SIZE = _HEAD.size + _COLUMNS.size
_FILE_SIZE = SLOTS * _SLOT_SIZE
_EMPTY = bytes(16)


class _Admission:
    __slots__ = ("_account_id", "_limiter")

    def __init__(self, limiter: SharedAccountLimiter, account_id: str) -> None:
        self._limiter, self._account_id = limiter, account_id

    def __enter__(self) -> None:
        self._limiter._acquire(self._account_id)

    def __exit__(self, *exc: object) -> None:
        self._limiter._release(self._account_id)


class SharedAccountLimiter(AccountLimiter):
    def __init__(self, path: str | os.PathLike[str], rate_per_s: float, burst: float, max_in_flight: int,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(rate_per_s, burst, max_in_flight, clock)  # the fallback when the table is full
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        if os.fstat(self._fd).st_size < _FILE_SIZE:
            os.ftruncate(self._fd, _FILE_SIZE)  # sparse: pages appear as accounts do
        self._map = mmap.mmap(self._fd, _FILE_SIZE)
        self._procs = os.open(f"{path}.procs", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        self._thread_lock = threading.Lock()
        self._slots: dict[str, int] = {}
        self._column = self._claim_column()

    def admit(self, account_id: str) -> _Admission:  # type: ignore[override]
        return _Admission(self, account_id)

    def close(self) -> None:
        with self._thread_lock:
            self._map.close()
            os.close(self._fd)
            os.close(self._procs)  # releases the column

    # -- admission --------------------------------------------------------------------------------------------
    def _acquire(self, account_id: str) -> None:
        with self._thread_lock:
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            try:
                now = self._clock()  # read under the lock: a stamp must never move backwards
                offset = self._slot(account_id)
                if offset < 0:
                    return super()._acquire(account_id)
                key, tokens, stamp = _HEAD.unpack_from(self._map, offset)
                tokens = min(self._burst, tokens + max(0.0, now - stamp) * self._rate)
                if tokens < 1.0:
                    _HEAD.pack_into(self._map, offset, key, tokens, now)
                    wait = (1.0 - tokens) / self._rate if self._rate > 0 else 60.0
                    raise TooManyRequests(detail=f"account {account_id} is over its invocation rate of "
                                                 f"{self._rate:g}/s", retry_after=max(1, math.ceil(wait)))
                columns = offset + _HEAD.size
                if sum(_COLUMNS.unpack_from(self._map, columns)) >= self._max:
                    _HEAD.pack_into(self._map, offset, key, tokens, now)
                    raise TooManyRequests(detail=f"account {account_id} has {self._max} invocations in flight",
                                          retry_after=1)
                _HEAD.pack_into(self._map, offset, key, tokens - 1.0, now)
                mine = columns + 4 * self._column
                struct.pack_into("<i", self._map, mine, struct.unpack_from("<i", self._map, mine)[0] + 1)
            finally:
                fcntl.flock(self._fd, fcntl.LOCK_UN)

    def _release(self, account_id: str) -> None:
        with self._thread_lock:
            offset = self._slots.get(account_id, -1)
            if offset < 0:
                return super()._release(account_id)
            mine = offset + _HEAD.size + 4 * self._column  # only this process writes its column
            struct.pack_into("<i", self._map, mine, struct.unpack_from("<i", self._map, mine)[0] - 1)

    def _slot(self, account_id: str) -> int:
        """The account's slot offset (claimed on first sight; open addressing), or -1 when the table is full.
        Called with both locks held."""
        offset = self._slots.get(account_id)
        if offset is not None:
            return offset
        key = hashlib.blake2b(account_id.encode(), digest_size=16).digest()
        start = int.from_bytes(key[:4], "little") % SLOTS
        for probe in range(SLOTS):
            offset = ((start + probe) % SLOTS) * _SLOT_SIZE
            found = self._map[offset:offset + 16]
            if found == _EMPTY:
                _HEAD.pack_into(self._map, offset, key, self._burst, self._clock())
            elif found != key:
                continue
            self._slots[account_id] = offset
            return offset
        log.error("account limit table full (%d accounts): %s is limited per process", SLOTS, account_id)
        self._slots[account_id] = -1
        return -1

    # -- process columns --------------------------------------------------------------------------------------
    def _claim_column(self) -> int:
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            mine = -1
            used = [slot * _SLOT_SIZE for slot in range(SLOTS)
                    if self._map[slot * _SLOT_SIZE:slot * _SLOT_SIZE + 16] != _EMPTY]
            for column in range(MAX_PROCESSES):
                if not self._try_lock(column):
                    continue  # a live process holds it
                if mine < 0:
                    mine = column  # keep it
                else:
                    fcntl.lockf(self._procs, fcntl.LOCK_UN, 1, column)
                self._zero(used, column)  # nobody owns it: counts left there are a dead process's
            if mine < 0:
                raise OSError(f"more than {MAX_PROCESSES} gateway processes share {self._map}")
            return mine
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def _try_lock(self, column: int) -> bool:
        try:
            fcntl.lockf(self._procs, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, column)
            return True
        except OSError:
            return False

    def _zero(self, used: list[int], column: int) -> None:
        for offset in used:
            struct.pack_into("<i", self._map, offset + _HEAD.size + 4 * column, 0)
