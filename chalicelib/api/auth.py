"""Sentinel token endpoint, agentVep login/refresh, service discovery (CSDS) and the public signing key."""

from __future__ import annotations

import base64
import json
from urllib.parse import parse_qs

from chalice import Blueprint, Response

from chalicelib.api._wire import JSON, client_address, json_response, object_body, route
from chalicelib.domain import jsondoc
from chalicelib.domain.errors import BadInput, FngateError, NotAuthenticated, NotFound, TooManyRequests
from chalicelib.domain.validation import validate_account_id
from chalicelib.services.container import services

bp = Blueprint(__name__)

# CSDS service names fngate answers for itself; LivePerson services come from the configured domain map.
SELF_SERVICES = ("faasGW", "faasUI", "sentinel", "agentVep", "faasGWV2")
LP_SERVICES = ("msgHist", "accountConfigReadOnly", "accountConfigReadWrite", "asyncMessaging", "asyncMessagingEnt",
               "engHistDomain", "rtbf", "auditLog", "smt", "pusher", "leDataReporting", "msgEwtAPI", "msdkgw",
               "swift", "mTLSGateway", "contextServiceDomain")


def _oauth_error(status: int, error: str, description: str) -> Response:
    return Response(body=json.dumps({"error": error, "error_description": description}), status_code=status,
                    headers={"Content-Type": JSON, "Cache-Control": "no-store"})


def _client_credentials() -> tuple[str, str, str]:
    """(grant_type, client_id, client_secret) from a form or JSON body, or HTTP Basic (RFC 6749 §2.3.1)."""
    req = bp.current_request
    raw = req.raw_body.decode("utf-8", "replace") if isinstance(req.raw_body, bytes) else (req.raw_body or "")
    if raw.lstrip().startswith("{"):
        try:
            data = {k: str(v) for k, v in jsondoc.parse(raw).items()}
        except (jsondoc.JsonRejected, AttributeError):
            raise BadInput(detail="malformed JSON body") from None
    else:
        data = {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}
    client_id, secret = data.get("client_id", ""), data.get("client_secret", "")
    scheme, _, value = (req.headers.get("authorization") or "").partition(" ")
    if scheme.lower() == "basic" and not client_id:
        try:
            client_id, _, secret = base64.b64decode(value).decode().partition(":")
        except ValueError:
            raise BadInput(detail="malformed Basic credentials") from None
    return data.get("grant_type", ""), client_id, secret


def _issue_token(account_id: str) -> Response:
    try:
        validate_account_id(account_id)
        grant, client_id, secret = _client_credentials()
        if grant != "client_credentials":
            return _oauth_error(400, "unsupported_grant_type", "only grant_type=client_credentials is supported")
        token = services().identity.app_token(account_id, client_id, secret, client_address(bp.current_request))
    except TooManyRequests as err:
        response = _oauth_error(429, "slow_down", err.message)
        response.headers["Retry-After"] = str(err.retry_after)
        return response
    except NotAuthenticated as err:
        return _oauth_error(401, "invalid_client", err.message)
    except FngateError as err:
        return _oauth_error(400, "invalid_request", err.message)
    return json_response(token, headers={"Cache-Control": "no-store"})


@route(bp, "/sentinel/api/account/{account_id}/app/token", ["POST"], tag="auth", auth="client-credentials",
       summary="OAuth2 client-credentials token (form body grant_type, client_id, client_secret; ?v=2.0)",
       body="application/x-www-form-urlencoded", responses={"200": "{access_token, token_type, expires_in}",
                                                            "401": "{error: invalid_client}"})
def app_token(account_id: str) -> Response:
    return _issue_token(account_id)


@route(bp, "/sentinel/api/v2/account/{account_id}/app/token", ["POST"], tag="auth", auth="client-credentials",
       summary="OAuth2 client-credentials token, the path the Toolbelt uses", body="form")
def app_token_v2(account_id: str) -> Response:
    return _issue_token(account_id)


@route(bp, "/sentinel/well-known/jwks", ["GET"], tag="auth", auth="none", summary="Public token signing keys")
def jwks() -> Response:
    return json_response({"keys": services().identity.signer.public_jwks})


@route(bp, "/api/account/{account_id}/login", ["POST"], tag="auth", auth="none",
       summary="User login as agentVep answers it (?v=1.3): bearer, csrf, sessionId, config",
       body="{username, password}")
def login(account_id: str) -> Response:
    validate_account_id(account_id)
    body = object_body(bp.current_request)
    username, password = body.get("username"), body.get("password")
    if not isinstance(username, str) or not isinstance(password, str):
        raise BadInput(detail="'username' and 'password' must be strings")
    session = services().identity.login(account_id, username, password, client_address(bp.current_request))
    return json_response(session, headers={"Cache-Control": "no-store"})


@route(bp, "/api/account/{account_id}/refresh", ["POST"], tag="auth", auth="session",
       summary="Check a login session (Cookie session_id=..., body {csrf}); 2xx = valid", body="{csrf}")
def refresh(account_id: str) -> Response:
    validate_account_id(account_id)
    cookie = bp.current_request.headers.get("cookie", "")
    session = next((part.split("=", 1)[1] for part in cookie.split(";") if part.strip().startswith("session_id=")),
                   "")
    body = object_body(bp.current_request, required=False)
    services().identity.check_session(account_id, session.strip(), str(body.get("csrf", "")))
    return json_response({"sessionTimeout": 3600})


@route(bp, "/api/account/{account_id}/service/baseURI.json", ["GET"], tag="auth", auth="none",
       summary="Service discovery (CSDS): this gateway for faasGW, faasUI, sentinel, agentVep; LivePerson "
               "services from the domain map")
def service_discovery(account_id: str) -> Response:
    validate_account_id(account_id)
    svc = services()
    if not svc.identity.account_exists(account_id):
        raise NotFound(what="Account", key=account_id)
    host = svc.settings.public_host or bp.current_request.headers.get("host", "localhost")
    entries = [{"service": name, "account": account_id, "baseURI": host} for name in SELF_SERVICES]
    entries += [{"service": name, "account": account_id, "baseURI": svc.settings.domain_map[name]}
                for name in LP_SERVICES if name in svc.settings.domain_map]
    return json_response({"baseURIs": entries})
