"""A function Lambda's two ways out, both carrying the invocation's token: the Toolbelt route and the egress proxy.

Why a relay inside the Lambda: the token changes with every invocation, but a warm worker keeps the environment it
was loaded with. So the worker's HTTP_PROXY points at this relay on 127.0.0.1 (fixed for the container's life),
and the relay puts the current invocation's token into each connection's ``Proxy-Authorization`` before passing it
to the egress proxy service, which admits the connection only for that token's account allowlist. Whatever the
function sends as its own Proxy-Authorization is dropped. Stdlib only (the zip package holds no chalicelib).
"""

from __future__ import annotations

import base64
import contextlib
import json
import socket
import threading
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit

PROXY_USER = "fn"
RPC_FAILED = "com.fngate.rpc.failed"
RPC_TIMEOUT_S = 10.0


def proxy_authorization(token: str) -> str:
    return "Basic " + base64.b64encode(f"{PROXY_USER}:{token}".encode()).decode()


def rewrite_head(head: bytes, token: str) -> bytes:
    """The request head with any Proxy-Authorization replaced by the invocation's own."""
    lines = head.split(b"\r\n")
    kept = [line for line in lines[1:] if line and not line.lower().startswith(b"proxy-authorization:")]
    auth = f"Proxy-Authorization: {proxy_authorization(token)}".encode()
    return b"\r\n".join([lines[0], *kept, auth]) + b"\r\n\r\n"


class ProxyRelay:
    """Listens on 127.0.0.1; each connection goes to the egress proxy with the current token (``token``)."""

    def __init__(self, upstream: str, relay: Any, *, connect_timeout_s: float = 10,
                 idle_timeout_s: float = 300) -> None:
        """``relay``: the egress_relay module (loaded by path), for its read_head and pipe."""
        parts = urlsplit(upstream if "://" in upstream else f"http://{upstream}")
        self.upstream = (parts.hostname or "", parts.port or 3128)
        self.token = ""
        self._relay_module, self._connect_timeout, self._idle = relay, connect_timeout_s, idle_timeout_s
        self._listener: socket.socket | None = None
        self.port = 0

    def start(self) -> ProxyRelay:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        self._listener, self.port = listener, listener.getsockname()[1]
        threading.Thread(target=self._accept_loop, name="shim-egress-relay", daemon=True).start()
        return self

    def env(self) -> dict[str, str]:
        """What the worker's HTTP clients read to find their proxy (no password: the relay adds it)."""
        url = f"http://127.0.0.1:{self.port}"
        return dict.fromkeys(("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"), url)

    def close(self) -> None:
        if self._listener is not None:
            with contextlib.suppress(OSError):
                self._listener.close()

    def _accept_loop(self) -> None:
        assert self._listener is not None
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._relay, args=(conn,), name="shim-egress-conn", daemon=True).start()

    def _relay(self, conn: socket.socket) -> None:
        upstream: socket.socket | None = None
        try:
            conn.settimeout(self._idle)
            head, rest = self._relay_module.read_head(conn)
            upstream = socket.create_connection(self.upstream, timeout=self._connect_timeout)
            upstream.settimeout(self._idle)
            upstream.sendall(rewrite_head(head, self.token) + rest)
            self._relay_module.pipe(conn, upstream, idle_timeout_s=self._idle)
        except (OSError, ValueError):
            pass  # the function sees its connection closed; the proxy logs what it refused
        finally:
            if upstream is not None:
                upstream.close()
            conn.close()


def gateway_call(url: str, token: str, method: str, params: Any, *, proxy: str = "",
                 timeout_s: float = RPC_TIMEOUT_S) -> dict[str, Any]:
    """POST one RPC to the gateway's Toolbelt route (through the egress proxy when there is one); always returns
    an rpc-result body ({ok, result} or {ok: false, code, message}), never raises."""
    data = json.dumps({"method": method, "params": params}).encode()
    request = urllib.request.Request(url, data=data, method="POST", headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    handlers: list[Any] = []
    if proxy:
        handlers.append(urllib.request.ProxyHandler({"http": proxy, "https": proxy}))
        request.add_header("Proxy-Authorization", proxy_authorization(token))
    else:
        handlers.append(urllib.request.ProxyHandler({}))
    try:
        with urllib.request.build_opener(*handlers).open(request, timeout=timeout_s) as response:
            answer = json.loads(response.read())
    except urllib.error.HTTPError as err:
        return _refused(err)
    except (OSError, ValueError) as err:
        return {"ok": False, "code": RPC_FAILED, "message": f"The gateway could not be reached: {err}"}
    if not isinstance(answer, dict) or "ok" not in answer:
        return {"ok": False, "code": RPC_FAILED, "message": "The gateway answered an unexpected value"}
    return answer


def _refused(err: urllib.error.HTTPError) -> dict[str, Any]:
    try:
        body = json.loads(err.read() or b"{}")
    except ValueError:
        body = {}
    message = body.get("message") or body.get("errorMsg") if isinstance(body, dict) else None
    return {"ok": False, "code": RPC_FAILED, "message": f"The gateway refused the call ({err.code}): {message or ''}"}
