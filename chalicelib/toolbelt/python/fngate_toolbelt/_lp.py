"""Toolbelt.lp_client(): a request to a LivePerson service found via CSDS, with a Sentinel app token
(``authorization: {token_type} {access_token}``, X-Request-Id); a 401 is retried once with fresh credentials."""

from __future__ import annotations

from typing import Any

from . import _rpc
from ._constants import DEFAULT_APP_KEY_SECRET
from ._csds import CsdsClient
from ._errors import ErrorCodes
from ._http import _UNSET, HTTPClient
from ._oauth2 import authorization, read_credentials
from ._secrets import SecretClient
from ._transport import Response


class LpClient:
    def __init__(self, csds: CsdsClient, secrets: SecretClient, http: HTTPClient | None = None) -> None:
        self._csds, self._secrets, self._http = csds, secrets, http or HTTPClient()

    def __call__(self, service: str, path: str, *, method: str = "GET", headers: dict[str, str] | None = None,
                 body: bytes | str | None = None, json: Any = _UNSET, timeout: float = 30.0,
                 app_key_secret_name: str = DEFAULT_APP_KEY_SECRET) -> Response:
        """``{scheme}://{host}{path}`` of the service; any status comes back as a Response."""
        url = f"{self._csds.base_url(service)}{path}"

        def send(fresh: bool) -> Response:
            creds = read_credentials(self._secrets, app_key_secret_name, fresh, "LpClient", ErrorCodes.LpClient.Creds)
            all_headers = {**(headers or {}), "authorization": authorization(self._csds, creds, fresh),
                           "X-Request-Id": _rpc.trace_id()}
            return self._http.request(method, url, headers=all_headers, body=body, json=json, timeout=timeout)

        response = send(False)
        return send(True) if response.status == 401 else response
