"""The domain allowlist: V1 /proxy-settings (management-api.md §3.2) and the V2-style /domains, one storage."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint, Response

from chalicelib.api._wire import authenticate, json_response, object_body, route
from chalicelib.domain.errors import BadInput, ValidationFailed
from chalicelib.services.container import services
from chalicelib.services.domains import AllowedDomain

bp = Blueprint(__name__)
BASE = "/api/account/{account_id}"
V1, V2 = BASE + "/proxy-settings", BASE + "/domains"


def v1_domain(item: AllowedDomain) -> dict[str, Any]:
    return {"id": item.id, "domain": item.domain, "name": item.name}


def v2_domain(item: AllowedDomain) -> dict[str, Any]:
    return {**v1_domain(item), "createdAt": item.created_at, "createdBy": item.created_by,
            "updatedAt": item.updated_at, "updatedBy": item.updated_by}


def _id(text: str) -> int:
    if not text.isdigit() or len(text) > 12:
        raise BadInput(detail="domain id must be a positive integer")
    return int(text)


def _domain(body: dict[str, Any], *, required: bool) -> Any:
    if required and "domain" not in body:
        raise ValidationFailed(detail="'domain' is required")
    return body.get("domain")


def _list(account_id: str) -> list[AllowedDomain]:
    return services().domains.list(authenticate(bp.current_request, account_id))


def _add(account_id: str) -> AllowedDomain:
    who = authenticate(bp.current_request, account_id)
    body = object_body(bp.current_request)
    return services().domains.add(who, _domain(body, required=True), body.get("name"))


def _update(account_id: str, domain_id: str) -> AllowedDomain:
    who = authenticate(bp.current_request, account_id)
    body = object_body(bp.current_request)
    return services().domains.update(who, _id(domain_id), _domain(body, required=False), body.get("name"))


def _remove(account_id: str, domain_id: str) -> Response:
    who = authenticate(bp.current_request, account_id)
    services().domains.remove(who, _id(domain_id))
    return json_response({"message": "Successfully deleted domain"})


@route(bp, V1, ["GET"], summary="Allowlisted domains (V1)", tag="allowlist",
       responses={"200": "array of {id, domain, name}"})
def list_proxy_settings(account_id: str) -> Response:
    return json_response([v1_domain(d) for d in _list(account_id)])


@route(bp, V1, ["POST"], summary="Allowlist a domain (V1; body {domain, id: -1, name?})", tag="allowlist",
       body="{domain, id, name?}", responses={"201": "{id, domain, name}", "409": "already allowlisted"})
def add_proxy_setting(account_id: str) -> Response:
    return json_response(v1_domain(_add(account_id)), status=201)


@route(bp, V1 + "/{domain_id}", ["PUT"], summary="Change an allowlisted domain (V1)", tag="allowlist",
       body="{domain?, name?}", responses={"200": "{id, domain, name}"})
def update_proxy_setting(account_id: str, domain_id: str) -> Response:
    return json_response(v1_domain(_update(account_id, domain_id)))


@route(bp, V1 + "/{domain_id}", ["DELETE"], summary="Remove an allowlisted domain (V1)", tag="allowlist")
def remove_proxy_setting(account_id: str, domain_id: str) -> Response:
    return _remove(account_id, domain_id)


@route(bp, V2, ["GET"], summary="Allowlisted domains (V2-style; ours)", tag="allowlist",
       responses={"200": "array of {id, domain, name, createdAt, createdBy, updatedAt, updatedBy}"})
def list_domains(account_id: str) -> Response:
    return json_response([v2_domain(d) for d in _list(account_id)])


@route(bp, V2, ["POST"], summary="Allowlist a domain (V2-style; ours)", tag="allowlist", body="{domain, name?}",
       responses={"201": "the domain", "409": "already allowlisted"})
def add_domain(account_id: str) -> Response:
    return json_response(v2_domain(_add(account_id)), status=201)


@route(bp, V2 + "/{domain_id}", ["PUT"], summary="Change an allowlisted domain (V2-style; ours)", tag="allowlist",
       body="{domain?, name?}")
def update_domain(account_id: str, domain_id: str) -> Response:
    return json_response(v2_domain(_update(account_id, domain_id)))


@route(bp, V2 + "/{domain_id}", ["DELETE"], summary="Remove an allowlisted domain (V2-style; ours)", tag="allowlist")
def remove_domain(account_id: str, domain_id: str) -> Response:
    return _remove(account_id, domain_id)
