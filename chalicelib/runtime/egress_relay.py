"""The worker side of egress: a TCP listener on the worker's own loopback that pipes to the gateway's unix socket.

A worker lives in its own network namespace, so it cannot reach the host's 127.0.0.1; a unix socket is a file and
crosses namespaces. The executor hands the worker two variables (``FNGATE_EGRESS_SOCKET``, the proxy's socket path,
and ``FNGATE_EGRESS_TOKEN``, its own proxy password); ``start_from_env`` starts the relay and sets
``HTTP_PROXY``/``HTTPS_PROXY`` = ``http://fn:<token>@127.0.0.1:<port>`` so ordinary HTTP clients use it.

Order inside the worker (it matters): ``unshare(CLONE_NEWNET)`` as root → ``bring_loopback_up()`` (needs
CAP_NET_ADMIN in the new namespace) → drop privileges (setgid/setuid) → ``start_from_env()`` → run user code.
Stdlib only: the zygote may load this module by path.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import select
import socket
import struct
import threading
from collections.abc import Callable, MutableMapping

ENV_SOCKET = "FNGATE_EGRESS_SOCKET"
ENV_TOKEN = "FNGATE_EGRESS_TOKEN"
PROXY_USER = "fn"
PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy")

_SIOCGIFFLAGS, _SIOCSIFFLAGS, _IFF_UP = 0x8913, 0x8914, 0x1
_IFREQ = "16sH22x"  # struct ifreq: name[IFNAMSIZ], then ifr_flags in a 24-byte union
_BUF = 65536
HEAD_MAX = 16_384  # a proxy request head larger than this is refused


class HeadTooLarge(ValueError):
    """A request head over HEAD_MAX bytes."""


def read_head(conn: socket.socket, limit: int = HEAD_MAX) -> tuple[bytes, bytes]:
    """A proxy request's head (without the blank line) and whatever bytes came after it; HeadTooLarge past
    ``limit``, ConnectionAbortedError if the peer closes first. The egress proxy and the Lambda shim's relay read
    heads with this one function."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        if len(buf) > limit:
            raise HeadTooLarge("request head too large")
        chunk = conn.recv(4096)
        if not chunk:
            raise ConnectionAbortedError("closed before a full request head")
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    return head, rest


def bring_loopback_up(name: str = "lo") -> None:
    """Set IFF_UP on the loopback of the current network namespace (a fresh one starts with it down).

    Needs CAP_NET_ADMIN in that namespace: call it right after ``unshare(CLONE_NEWNET)`` and before ``setuid``.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack(_IFREQ, name.encode(), 0)
        flags = struct.unpack(_IFREQ, fcntl.ioctl(sock, _SIOCGIFFLAGS, request))[1]
        if not flags & _IFF_UP:
            fcntl.ioctl(sock, _SIOCSIFFLAGS, struct.pack(_IFREQ, name.encode(), flags | _IFF_UP))


def pipe(client: socket.socket, upstream: socket.socket, *, idle_timeout_s: float = 60.0,
         on_exchange: Callable[[], bool] | None = None) -> None:
    """Copy bytes both ways until ``upstream`` ends, either side fails, or nothing moves for ``idle_timeout_s``.

    The client finishing its sending is passed on as a half-close (the answer may still come); the upstream finishing
    ends the exchange, so a client that keeps its end open cannot pin the thread. ``on_exchange`` is called before
    the client's bytes are passed on whenever they follow bytes from the upstream — the client starting a new
    request after an answer — and the pipe ends if it returns False.
    """
    poller = select.poll()
    peers = {client.fileno(): (client, upstream), upstream.fileno(): (upstream, client)}
    for fd in peers:
        poller.register(fd, select.POLLIN)
    answered = False  # the upstream sent bytes since the client last did
    while peers:
        ready = poller.poll(idle_timeout_s * 1000)
        if not ready:
            return
        for fd, _ in ready:
            src, dst = peers[fd]
            try:
                data = src.recv(_BUF)
                if data:
                    if src is client and answered and on_exchange is not None and not on_exchange():
                        return
                    answered = src is upstream
                    dst.sendall(data)
                    continue
            except OSError:
                return
            if src is upstream:
                return
            poller.unregister(fd)
            del peers[fd]
            with contextlib.suppress(OSError):
                dst.shutdown(socket.SHUT_WR)


def start_relay(unix_path: str, host: str = "127.0.0.1", port: int = 0, *, idle_timeout_s: float = 300.0) -> int:
    """Listen on ``host:port`` (0: any free port) in a daemon thread; each TCP client is piped to ``unix_path``.

    Returns the bound port. The relay checks nothing: the proxy behind the socket authenticates and filters.
    """
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((host, port))
    listener.listen(64)
    thread = threading.Thread(target=_accept_loop, args=(listener, unix_path, idle_timeout_s),
                              name="egress-relay", daemon=True)
    thread.start()
    return listener.getsockname()[1]


def _accept_loop(listener: socket.socket, unix_path: str, idle_timeout_s: float) -> None:
    while True:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        threading.Thread(target=_relay_one, args=(conn, unix_path, idle_timeout_s),
                         name="egress-relay-conn", daemon=True).start()


def _relay_one(conn: socket.socket, unix_path: str, idle_timeout_s: float) -> None:
    upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        upstream.settimeout(idle_timeout_s)
        conn.settimeout(idle_timeout_s)
        upstream.connect(unix_path)
        pipe(conn, upstream, idle_timeout_s=idle_timeout_s)
    except OSError:
        pass  # the function sees a reset connection; the proxy side logs what it refused
    finally:
        upstream.close()
        conn.close()


def proxy_url(port: int, token: str, host: str = "127.0.0.1") -> str:
    """The proxy URL a function's HTTP client uses; the token is the password, the user name is ignored."""
    return f"http://{PROXY_USER}:{token}@{host}:{port}"


def proxy_env(port: int, token: str) -> dict[str, str]:
    """HTTP_PROXY/HTTPS_PROXY (both spellings): what most HTTP clients read to find their proxy."""
    return dict.fromkeys(PROXY_VARS, proxy_url(port, token))


def start_from_env(environ: MutableMapping[str, str] | None = None) -> dict[str, str]:
    """Start the relay from FNGATE_EGRESS_SOCKET/TOKEN and export the proxy variables into ``environ``.

    Returns the variables set ({} when the worker has no egress: then it has no network at all).
    """
    env = os.environ if environ is None else environ
    path, token = env.get(ENV_SOCKET), env.get(ENV_TOKEN)
    if not path or not token:
        return {}
    exported = proxy_env(start_relay(path), token)
    env.update(exported)
    return exported
