"""Who holds a lease, written so that a later process on the same host can tell the holder is gone.

An owner is ``host:pid:start`` (start = the process's start time in clock ticks since boot, from /proc), so a
restarted gateway takes over the jobs of a killed one at once instead of waiting for their leases to expire, and
a reused pid is not mistaken for the old process. Owners on other hosts (or without /proc) are trusted until
their lease expires.
"""

from __future__ import annotations

import functools
import os
import socket
import threading


def _start_time(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    return stat.rpartition(b")")[2].split()[19].decode()  # field 22, counted after the command name


@functools.cache
def _host() -> str:
    return socket.gethostname()


def this_process(tag: str = "") -> str:
    """This process's owner name; ``tag`` tells several runners of one process apart."""
    name = f"{_host()}:{os.getpid()}:{_start_time(os.getpid()) or '0'}"
    return f"{name}:{tag}" if tag else name


_alive_cache: dict[str, bool] = {}
_lock = threading.Lock()


def is_gone(owner: str) -> bool:
    """True only when ``owner`` certainly no longer runs (same host, and its process is dead or replaced)."""
    parts = owner.split(":")
    if len(parts) < 3 or parts[0] != _host() or not parts[1].isdigit():
        return False
    with _lock:
        if _alive_cache.get(owner) is False:
            return True
    gone = _start_time(int(parts[1])) != parts[2]
    if gone:
        with _lock:
            if len(_alive_cache) > 1000:
                _alive_cache.clear()
            _alive_cache[owner] = False  # a dead process stays dead; a live one is asked again next time
    return gone
