"""Secrets (management-api.md §5, paths ours) and account provisioning (seed 000): thin routes over the services."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint, Response

from chalicelib.api._wire import authenticate, json_response, object_body, route
from chalicelib.domain.errors import BadInput, SecretInvalidFormat
from chalicelib.domain.secrets import Secret
from chalicelib.services.container import services

bp = Blueprint(__name__)
BASE = "/api/account/{account_id}"
NO_STORE = {"Cache-Control": "no-store"}  # values in clear for FaaS-Admin (the middleware sets it too)


def render(secret: Secret) -> dict[str, Any]:
    return {"key": secret.key, "value": secret.value, "createdAt": secret.created_at,
            "createdBy": secret.created_by, "updatedAt": secret.updated_at, "updatedBy": secret.updated_by,
            "functions": secret.functions}


def _value(body: dict[str, Any]) -> Any:
    if "value" not in body:
        raise SecretInvalidFormat(detail="'value' is required")
    return body["value"]


@route(bp, BASE + "/secrets", ["GET"], summary="List secrets; values masked unless the caller is FaaS-Admin (ours)",
       tag="secrets", responses={"200": "array of {key, value, createdAt, createdBy, updatedAt, updatedBy}"})
def list_secrets(account_id: str) -> Response:
    who = authenticate(bp.current_request, account_id)
    return json_response([render(s) for s in services().secrets.list(who)], headers=NO_STORE)


@route(bp, BASE + "/secrets", ["POST"], summary="Create a secret; the value (any JSON) is stored encrypted (ours)",
       tag="secrets", body="{key, value, functions?}", responses={"201": "the secret", "409": "the key exists"})
def create_secret(account_id: str) -> Response:
    who = authenticate(bp.current_request, account_id)
    body = object_body(bp.current_request)
    secret = services().secrets.create(who, body.get("key"), _value(body), body.get("functions"))
    return json_response(render(secret), status=201, headers=NO_STORE)


@route(bp, BASE + "/secrets/{key}", ["GET"], summary="One secret; value masked unless FaaS-Admin (ours)",
       tag="secrets")
def get_secret(account_id: str, key: str) -> Response:
    who = authenticate(bp.current_request, account_id)
    return json_response(render(services().secrets.get(who, key)), headers=NO_STORE)


@route(bp, BASE + "/secrets/{key}", ["PUT"], summary="Replace a secret's value; functions see it on their next "
       "read (ours)", tag="secrets", body="{key?, value, functions?}")
def update_secret(account_id: str, key: str) -> Response:
    who = authenticate(bp.current_request, account_id)
    body = object_body(bp.current_request)
    if body.get("key") not in (None, key):
        raise BadInput(detail="the key in the body differs from the key in the path")
    extra = {"functions": body["functions"]} if "functions" in body else {}
    return json_response(render(services().secrets.update(who, key, _value(body), **extra)), headers=NO_STORE)


@route(bp, BASE + "/secrets/{key}", ["DELETE"], summary="Delete a secret (ours)", tag="secrets")
def delete_secret(account_id: str, key: str) -> Response:
    who = authenticate(bp.current_request, account_id)
    services().secrets.delete(who, key)
    return json_response({"message": "Successfully deleted secret"})


@route(bp, BASE + "/provisioning", ["GET"], summary="Provisioning status: provisioned | pending (ours)",
       tag="provisioning", responses={"200": "{accountId, provisioned, status, secrets}"})
def provisioning_status(account_id: str) -> Response:
    who = authenticate(bp.current_request, account_id)
    return json_response(services().provisioning.status(who))


@route(bp, BASE + "/provisioning/terms", ["POST"], summary="FaaS-Admin accepts the terms of use: creates the "
       "app-key secrets and default allowlist (seed 000; ours)", tag="provisioning",
       responses={"200": "{accountId, provisioned, secretsCreated, domainsAdded, skippedServices}"})
def accept_terms(account_id: str) -> Response:
    who = authenticate(bp.current_request, account_id)
    svc = services()
    host = svc.settings.public_host or bp.current_request.headers.get("host", "")
    return json_response(svc.provisioning.accept_terms(who, public_host=host).to_dict())
