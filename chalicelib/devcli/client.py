"""HTTP client of the management API (V2 paths, V1 where only V1 has the data), with errors mapped to exit codes."""

from __future__ import annotations

import json
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any

from chalicelib.devcli.errors import CliError, Exit
from chalicelib.devcli.profiles import Profile

USER_AGENT = "fngate-cli"
_STATUS_EXIT = {400: Exit.USAGE, 401: Exit.AUTH, 403: Exit.FORBIDDEN, 404: Exit.NOT_FOUND, 405: Exit.SERVER,
                409: Exit.CONFLICT, 413: Exit.USAGE, 429: Exit.SERVER, 901: Exit.FAILED}
_AUTH_HINTS = {
    "Token expired": "the login expired: run fngate login again",
    "Invalid token": "the saved token is not valid on this gateway (another data dir?): run fngate login again",
    "The credentials behind this token were revoked": "the user or app key was deleted: ask an admin, then log in",
    "Invalid username or password": "wrong user name or password",
    "Client authentication failed": "unknown app key (client id) or wrong client secret",
}


class ApiError(CliError):
    """An error answer of the gateway: its HTTP status, error code and body are kept for callers."""

    def __init__(self, status: int, code: str, message: str, body: Any) -> None:
        exit_code = _STATUS_EXIT.get(status, Exit.SERVER)
        super().__init__(message or f"HTTP {status}", exit_code, hint=_AUTH_HINTS.get(message, ""), details=body)
        self.status, self.error_code, self.body = status, code, body


class Api:
    def __init__(self, url: str, account: str, token: str | None = None, *, timeout_s: float = 60,
                 refresh: Callable[[], str] | None = None) -> None:
        self.url, self.account, self.token = url.rstrip("/"), account, token
        self._timeout, self._refresh = timeout_s, refresh
        self._tls = ssl.create_default_context()

    @classmethod
    def for_profile(cls, profile: Profile, refresh: Callable[[], str] | None = None) -> Api:
        return cls(profile.url, profile.account, profile.token, refresh=refresh)

    def with_token(self, token: str) -> Api:
        self.token = token
        return self

    # -- raw -----------------------------------------------------------------------------------------------------
    def call(self, method: str, path: str, body: Any = None, *, query: dict[str, Any] | None = None,
             form: dict[str, str] | None = None, auth: bool = True, raw: bool = False) -> Any:
        """``path`` below ``/api/account/{account}`` unless it starts with ``//`` (then from the host root)."""
        target = path[1:] if path.startswith("//") else f"/api/account/{urllib.parse.quote(self.account)}{path}"
        if query:
            target += "?" + urllib.parse.urlencode({k: v for k, v in query.items() if v is not None}, doseq=True)
        headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        data = None
        if form is not None:
            data = urllib.parse.urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if auth:
            headers["Authorization"] = f"Bearer {self._bearer()}"
        return self._send(urllib.request.Request(self.url + target, data=data, method=method, headers=headers), raw)

    def _bearer(self) -> str:
        if not self.token and self._refresh is not None:
            self.token = self._refresh()
        if not self.token:
            raise CliError("not logged in", Exit.AUTH, hint="run fngate login")
        return self.token

    def _send(self, req: urllib.request.Request, raw: bool) -> Any:
        try:
            ctx = self._tls if req.full_url.startswith("https") else None
            with urllib.request.urlopen(req, timeout=self._timeout, context=ctx) as res:
                text = res.read()
        except urllib.error.HTTPError as err:
            raise _api_error(err.code, err.read()) from None
        except (urllib.error.URLError, ConnectionError, TimeoutError) as err:
            reason = getattr(err, "reason", err)
            raise CliError(f"cannot reach the gateway at {self.url}: {reason}", Exit.UNREACHABLE,
                           hint="is `fngate serve` running, and is the URL right? (fngate whoami shows it)") from None
        if raw:
            return text.decode("utf-8", "replace")
        if not text:
            return None
        try:
            return json.loads(text)
        except ValueError:
            raise CliError(f"the gateway at {self.url} answered with something that is not JSON", Exit.SERVER,
                           hint="is the URL that of a fngate gateway?") from None

    # -- functions ---------------------------------------------------------------------------------------------------
    def functions(self) -> list[dict[str, Any]]:
        return self.call("GET", "/functions")

    def find(self, name: str) -> dict[str, Any] | None:
        found = [f for f in self.call("GET", "/functions", query={"functionName": name}) if f.get("name") == name]
        return found[0] if found else None

    def require(self, name: str) -> dict[str, Any]:
        found = self.find(name)
        if found is None:
            raise CliError(f"no function named '{name}' on account {self.account}", Exit.NOT_FOUND,
                           hint="fngate get functions lists them; fngate push creates one from its folder")
        return found

    def function(self, uuid: str) -> dict[str, Any]:
        return self.call("GET", f"/functions/{uuid}")

    def lambda_v1(self, uuid: str) -> dict[str, Any]:
        return self.call("GET", f"/lambdas/{uuid}", query={"v": "1"})[0]

    def wait_for(self, uuid: str, done: Callable[[dict[str, Any]], bool], *, timeout_s: float,
                 on_change: Callable[[dict[str, Any]], None], interval_s: float = 0.25) -> dict[str, Any]:
        """Poll the V2 function until ``done(fn)``; ``on_change`` sees each new (state, deployment state)."""
        deadline, seen = time.monotonic() + timeout_s, None
        while True:
            fn = self.function(uuid)
            step = (fn.get("state"), (fn.get("lastDeployment") or {}).get("deploymentState"))
            if step != seen:
                seen = step
                on_change(fn)
            if done(fn):
                return fn
            if time.monotonic() >= deadline:
                raise CliError(f"gave up waiting after {timeout_s:g}s (state {fn.get('state')})", Exit.TIMEOUT,
                               hint="the work goes on in the gateway: fngate get functions shows its state")
            time.sleep(interval_s)


def _api_error(status: int, raw: bytes) -> ApiError:
    try:
        body = json.loads(raw) if raw else {}
    except ValueError:
        body = {"message": raw.decode("utf-8", "replace")[:200]}
    if not isinstance(body, dict):
        body = {"message": str(body)}
    code = body.get("code") or body.get("errorCode") or body.get("error") or ""
    message = body.get("message") or body.get("errorMsg") or body.get("error_description") or ""
    if status == 304:
        message = message or "Nothing changed"
    return ApiError(status, str(code), str(message), body)
