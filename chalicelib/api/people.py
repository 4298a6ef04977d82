"""The account's users and app keys over HTTP (ours, FaaS-Admin only): what `fngate admin users|app-keys` does on
the gateway's machine, for the web UI's Settings. An app key's secret and a generated password are in the answer
that creates them, and never again."""

from __future__ import annotations

from chalice import Blueprint, Response

from chalicelib.api._wire import authenticate, json_response, object_body, route
from chalicelib.api.schemas import ANY, BOOL, COMPONENTS, MESSAGE, OPERATIONS, STR, arr, json_body, obj, ok, ref
from chalicelib.services.container import services

bp = Blueprint(__name__)
USERS = "/api/account/{account_id}/users"
KEYS = "/api/account/{account_id}/appKeys"

COMPONENTS.update({
    "User": obj(("userId", "login", "roles", "disabled"), userId=STR, login=STR, roles=arr(STR), password=BOOL,
                disabled=BOOL, createdAt=STR, generatedPassword=STR),
    "UserRequest": obj(login=ANY, roles=ANY, password=ANY, generatePassword=ANY),
    "UserChange": obj(disabled=ANY),
    "AppKey": obj(("clientId", "name", "scopes"), clientId=STR, name=STR, scopes=arr(STR), createdAt=STR,
                  clientSecret=STR),
    "AppKeyRequest": obj(name=ANY, scopes=ANY),
})
OPERATIONS.update({
    ("GET", USERS): (None, ok(arr(ref("User")))),
    ("POST", USERS): (json_body("UserRequest"), ok(ref("User"), "201")),
    ("PUT", USERS + "/{user_id}"): (json_body("UserChange"), ok(ref("User"))),
    ("GET", KEYS): (None, ok(arr(ref("AppKey")))),
    ("POST", KEYS): (json_body("AppKeyRequest"), ok(ref("AppKey"), "201")),
    ("DELETE", KEYS + "/{client_id}"): (None, MESSAGE),
})


@route(bp, USERS, ["GET"], tag="people", summary="The account's users (ours; FaaS-Admin)",
       responses={"200": "[{userId, login, roles, password, disabled, createdAt}]"})
def list_users(account_id: str) -> Response:
    who = authenticate(bp.current_request, account_id)
    return json_response(services().people.users(who))


@route(bp, USERS, ["POST"], tag="people", summary="Create a user (ours; FaaS-Admin)",
       body="{login, roles: [FaaS-Admin | FaaS-Developer | FaaS-Invocation], password? | generatePassword?: true}",
       responses={"201": "the user; generatedPassword once if asked for", "409": "the login exists"})
def create_user(account_id: str) -> Response:
    who = authenticate(bp.current_request, account_id)
    body = object_body(bp.current_request)
    made = services().people.add_user(who, body.get("login"), body.get("roles"), body.get("password"),
                                      body.get("generatePassword") is True)
    return json_response(made, status=201)


@route(bp, USERS + "/{user_id}", ["PUT"], tag="people", body="{disabled: bool}",
       summary="Disable a user (no login, its tokens refused) or enable it again (ours; FaaS-Admin)")
def change_user(account_id: str, user_id: str) -> Response:
    who = authenticate(bp.current_request, account_id)
    body = object_body(bp.current_request)
    return json_response(services().people.set_disabled(who, user_id, body.get("disabled")))


@route(bp, KEYS, ["GET"], tag="people", summary="The account's app keys, without secrets (ours; FaaS-Admin)",
       responses={"200": "[{clientId, name, scopes, createdAt}]"})
def list_app_keys(account_id: str) -> Response:
    who = authenticate(bp.current_request, account_id)
    return json_response(services().people.app_keys(who))


@route(bp, KEYS, ["POST"], tag="people", body="{name, scopes?: [faas.lambda.invoke | faas.orchestrator.invoke]}",
       summary="Create an app key (ours; FaaS-Admin); its clientSecret is in this answer only",
       responses={"201": "{clientId, name, scopes, createdAt, clientSecret}", "409": "the name exists"})
def create_app_key(account_id: str) -> Response:
    who = authenticate(bp.current_request, account_id)
    body = object_body(bp.current_request)
    return json_response(services().people.create_app_key(who, body.get("name"), body.get("scopes")), status=201)


@route(bp, KEYS + "/{client_id}", ["DELETE"], tag="people",
       summary="Revoke an app key: its tokens stop working within seconds (ours; FaaS-Admin)")
def revoke_app_key(account_id: str, client_id: str) -> Response:
    who = authenticate(bp.current_request, account_id)
    services().people.revoke_app_key(who, client_id)
    return json_response({"message": "App key revoked"})
