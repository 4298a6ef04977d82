"""The warm pool: per-target idle workers, bounded concurrency and queueing, LRU eviction; spare workers; chores.

Rules: a worker only ever serves the target it loaded (keyed by Target.key: never shared across functions,
versions or accounts); one invocation per worker at a time (so a timeout kills exactly one worker); at most
``per_target`` workers per target and ``max_workers`` overall; when the global cap is reached the least recently
used idle worker of any target is evicted; at most ``queue_max`` callers wait per target, each until its deadline.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from chalicelib.domain.errors import TooManyRequests, Unavailable
from chalicelib.runtime.base import Target
from chalicelib.runtime.local.worker import Worker

log = logging.getLogger("fngate.runtime.pool")


@dataclass(eq=False)
class _Slot:
    key: str
    cond: threading.Condition
    idle: list[Worker] = field(default_factory=list)
    count: int = 0  # live workers of this target, busy or idle or starting
    waiting: int = 0
    retired: bool = False


class WorkerPool:
    def __init__(self, start: Callable[[Target], Worker], retire: Callable[[Worker], None], *, max_workers: int,
                 per_target: int, queue_max: int) -> None:
        self._start, self._retire = start, retire
        self._max, self._per_target, self._queue_max = max_workers, per_target, queue_max
        self._lock = threading.Lock()
        self._capacity = threading.Condition(self._lock)  # waiters for room under the global cap
        self._slots: dict[str, _Slot] = {}
        self._owner: dict[Worker, _Slot] = {}
        self._lru: OrderedDict[Worker, None] = OrderedDict()  # idle workers, least recently used first
        self._total = 0
        self._closed = False

    def acquire(self, target: Target, deadline: float) -> Worker:
        """A warm idle worker, else a new one (evicting if needed), else wait in the target's bounded queue."""
        with self._lock:
            slot = self._slot(target.key)
            worker, victim = self._wait_for_room(slot, deadline)
            if worker is not None:
                return worker
            slot.count += 1
            self._total += 1
        if victim is not None:
            self._retire(victim)
        try:
            worker = self._start(target)
        except BaseException:
            with self._lock:
                self._forget(slot)
            raise
        with self._lock:
            self._owner[worker] = slot
        return worker

    def take_idle(self, target: Target) -> Worker | None:
        """A warm idle worker of ``target`` if one is free and nobody is queued for one; never waits."""
        with self._lock:
            slot = self._slots.get(target.key)
            if self._closed or slot is None or not slot.idle or slot.waiting:
                return None
            return self._pop_idle(slot)

    def _wait_for_room(self, slot: _Slot, deadline: float) -> tuple[Worker | None, Worker | None]:
        queued = False
        try:
            while True:
                if self._closed:
                    raise Unavailable(detail="The executor is shutting down")
                if slot.idle:
                    return self._pop_idle(slot), None
                cond = slot.cond
                if slot.count < self._per_target:
                    if self._total < self._max:
                        return None, None
                    victim = self._evict_one()
                    if victim is not None:
                        return None, victim
                    cond = self._capacity
                if not queued:
                    if slot.waiting >= self._queue_max:
                        raise TooManyRequests(detail=f"Too many invocations waiting for {slot.key}", retry_after=1)
                    queued, slot.waiting = True, slot.waiting + 1
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TooManyRequests(detail=f"Function {slot.key} is at its concurrency limit", retry_after=1)
                cond.wait(remaining)
        finally:
            if queued:
                slot.waiting -= 1

    def _pop_idle(self, slot: _Slot) -> Worker:
        """The most recently idle worker of ``slot``, off the LRU (lock held)."""
        worker = slot.idle.pop()
        del self._lru[worker]
        return worker

    def release(self, worker: Worker, healthy: bool) -> None:
        """Back to the idle list if it can serve again; otherwise retire it (outside the lock)."""
        with self._lock:
            slot = self._owner.get(worker)
            if (healthy and worker.alive and not worker.recycle and slot is not None and not slot.retired
                    and not self._closed):
                slot.idle.append(worker)
                self._lru[worker] = None
                slot.cond.notify()
                self._capacity.notify_all()
                return
            self._owner.pop(worker, None)
            if slot is not None:
                self._forget(slot)
        self._retire(worker)

    def _forget(self, slot: _Slot) -> None:
        """One worker of ``slot`` is gone (lock held)."""
        slot.count -= 1
        self._total -= 1
        slot.cond.notify()
        self._capacity.notify_all()
        if slot.count == 0 and slot.waiting == 0 and self._slots.get(slot.key) is slot:
            del self._slots[slot.key]

    def _evict_one(self) -> Worker | None:
        if not self._lru:
            return None
        victim, _ = self._lru.popitem(last=False)
        slot = self._owner.pop(victim)
        slot.idle.remove(victim)
        self._forget(slot)
        return victim

    def _slot(self, key: str) -> _Slot:
        slot = self._slots.get(key)
        if slot is None:
            slot = self._slots[key] = _Slot(key, threading.Condition(self._lock))
        return slot

    def retire_prefix(self, prefix: str) -> None:
        """Retire every worker whose target key starts with ``prefix`` (idle now, busy ones when released)."""
        victims: list[Worker] = []
        with self._lock:
            for key, slot in list(self._slots.items()):
                if key.startswith(prefix):
                    slot.retired = True
                    del self._slots[key]
                    victims.extend(self._drop_idle(slot))
                    slot.cond.notify_all()
        for worker in victims:
            self._retire(worker)

    def _drop_idle(self, slot: _Slot) -> list[Worker]:
        idle, slot.idle = slot.idle, []
        for worker in idle:
            del self._lru[worker]
            del self._owner[worker]
            slot.count -= 1
            self._total -= 1
        self._capacity.notify_all()
        return idle

    def close(self) -> None:
        victims: list[Worker] = []
        with self._lock:
            self._closed = True
            for slot in self._slots.values():
                victims.extend(self._drop_idle(slot))
                slot.cond.notify_all()
        for worker in victims:
            self._retire(worker)

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {"total": self._total, "idle": len(self._lru),
                    "targets": {k: {"workers": s.count, "idle": len(s.idle), "waiting": s.waiting,
                                    "pids": [w.pid for w in s.idle]} for k, s in self._slots.items()}}


class Chores:
    """One background thread for slow housekeeping (sweeping retired workers, refilling spares), in order."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="fngate-chores", daemon=True)
        self._thread.start()

    def put(self, chore: Callable[[], None]) -> None:
        self._queue.put(chore)

    def _run(self) -> None:
        while (chore := self._queue.get()) is not None:
            try:
                chore()
            except Exception:
                log.exception("housekeeping failed")

    def drain(self, timeout_s: float = 10.0) -> bool:
        """Wait until everything queued before this call is done (False on timeout)."""
        done = threading.Event()
        self._queue.put(done.set)
        return done.wait(timeout_s)

    def close(self, timeout_s: float = 5.0) -> None:
        """Finish what is queued, then stop."""
        self._queue.put(None)
        self._thread.join(timeout=timeout_s)


class Spares:
    """Keeps ``count`` generic workers started ahead of need (Node cannot fork: a spawn costs ~45 ms)."""

    def __init__(self, spawn: Callable[[], Worker], chores: Chores, count: int) -> None:
        self._spawn, self._chores, self._count = spawn, chores, count
        self._ready: deque[Worker] = deque()
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._pending = False
        self._spawning = False  # a spare is being started right now (not merely queued)
        self._demand = 0  # callers starting a worker of their own right now (a cold start with no spare)
        self._closed = False
        self._failures = 0

    def take(self, wait_s: float = 0.0) -> Worker | None:
        """A ready spare, if any; call refill() once the caller's own cold start is done (not to compete with it).
        If none is ready but one is being started, wait up to ``wait_s`` for it: it is further along than a
        spawn of the caller's own would be (and would compete with it for the zygote and the CPU)."""
        with self._lock:
            if not self._ready and self._spawning and wait_s > 0:
                self._changed.wait_for(lambda: bool(self._ready) or not self._spawning or self._closed, wait_s)
            return self._ready.popleft() if self._ready else None

    @contextlib.contextmanager
    def demand(self) -> Iterator[None]:
        """Around a caller's own cold start: refills wait for it (up to 1 s) rather than compete for the CPU."""
        with self._lock:
            self._demand += 1
        try:
            yield
        finally:
            with self._lock:
                self._demand -= 1
                self._changed.notify_all()

    def refill(self) -> None:
        with self._lock:
            if self._pending or self._closed or len(self._ready) >= self._count:
                return
            self._pending = True
        self._chores.put(self._top_up)

    def _top_up(self) -> None:
        try:
            while True:
                with self._lock:
                    self._changed.wait_for(lambda: self._demand == 0 or self._closed, 1.0)
                    if self._closed or len(self._ready) >= self._count:
                        return
                    self._spawning = True
                try:
                    worker = self._spawn()
                except BaseException:
                    with self._lock:
                        self._spawning = False
                        self._changed.notify_all()
                    raise
                with self._lock:  # one step: a waiter sees either "still spawning" or the new spare
                    self._spawning = False
                    closed = self._closed
                    if not closed:
                        self._ready.append(worker)
                    self._changed.notify_all()
                if closed:  # closed while it started: nobody will take it
                    worker.kill()
                self._failures = 0
        except Exception as err:
            self._failures += 1
            log.warning("could not start a spare worker (%s failures): %s", self._failures, err)
            time.sleep(min(5.0, 0.1 * 2 ** self._failures))
        finally:
            with self._lock:
                self._pending = False

    def close(self) -> list[Worker]:
        with self._lock:
            self._closed = True
            ready, self._ready = list(self._ready), deque()
        return ready
