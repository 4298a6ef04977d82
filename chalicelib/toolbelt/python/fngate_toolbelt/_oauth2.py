"""App-key credentials and Sentinel access tokens (POST {sentinel}/sentinel/api/v2/account/{accountId}/app/token
?v=2.0, form client_id, client_secret, grant_type=client_credentials), cached per client id until a minute before
``expires_in``."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlencode

from . import _rpc, _transport
from ._csds import CsdsClient
from ._errors import ErrorCodes, ToolBeltError
from ._secrets import SecretClient

_tokens: dict[str, tuple[dict[str, Any], str, float]] = {}  # client_id → (token data, secret, expires at)


def read_credentials(secrets: SecretClient, name: str, fresh: bool, component: str, codes: Any) -> dict[str, str]:
    """{client_id, client_secret} from a secret; errors in the caller's component and codes."""
    try:
        value = secrets.read_secret(name, use_cache=not fresh)["value"]
    except ToolBeltError:
        raise
    except Exception as err:
        raise ToolBeltError(component, codes.Failure,
                            f"Could not fetch App Key credentials from secret storage: {err}") from None
    if not (isinstance(value, dict) and isinstance(value.get("client_id"), str)
            and isinstance(value.get("client_secret"), str)):
        raise ToolBeltError(component, codes.Format, "Credentials have Invalid Format")
    return value


def access_token(csds: CsdsClient, creds: dict[str, str], fresh: bool = False) -> dict[str, Any]:
    hit = _tokens.get(creds["client_id"])
    if not fresh and hit and hit[1] == creds["client_secret"] and time.monotonic() < hit[2]:
        return hit[0]
    try:
        data = _request_token(csds, creds)
    except ToolBeltError:
        raise
    except Exception as err:
        raise ToolBeltError("Oauth2Client", ErrorCodes.OAuth2.General,
                            f"Obtaining OAuth2 Access Token from sentinel failed due to: {err}") from None
    try:
        lifetime = float(data.get("expires_in"))  # type: ignore[arg-type]  # None → TypeError → 0
    except (TypeError, ValueError):
        lifetime = 0.0
    _tokens[creds["client_id"]] = (data, creds["client_secret"], time.monotonic() + lifetime - 60)
    return data


def authorization(csds: CsdsClient, creds: dict[str, str], fresh: bool = False) -> str:
    data = access_token(csds, creds, fresh)
    return f"{data['token_type']} {data['access_token']}"


def _request_token(csds: CsdsClient, creds: dict[str, str]) -> dict[str, Any]:
    url = f"{csds.base_url('sentinel')}/sentinel/api/v2/account/{_rpc.account_id()}/app/token?v=2.0"
    form = urlencode({"client_id": creds["client_id"], "client_secret": creds["client_secret"],
                      "grant_type": "client_credentials"}).encode()
    res = _transport.request("POST", url, {"Content-Type": "application/x-www-form-urlencoded",
                                           "X-Request-Id": _rpc.trace_id()}, form, timeout=30.0)
    try:
        body = res.json()
    except ValueError:
        body = res.text()
    if not (isinstance(body, dict) and isinstance(body.get("access_token"), str)
            and isinstance(body.get("token_type"), str)):
        raise ToolBeltError("Oauth2Client", ErrorCodes.OAuth2.UnexpectedResponse,
                            f"AuthServer unexpected response: {body!r}. Status Code: {res.status}")
    return body
