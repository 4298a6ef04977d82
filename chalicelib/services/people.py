"""The account's users and app keys for its admins over HTTP: the permission check (users and app keys are
FaaS-Admin's, domain/permissions.py) in front of IdentityService, which `fngate admin users|app-keys` uses too, so
the rules of a user or an app key live in one place. Secrets and generated passwords are returned once, never
stored in clear."""

from __future__ import annotations

import secrets
from typing import Any

from chalicelib.domain.errors import Conflict, NotFound, ValidationFailed
from chalicelib.domain.models import AppKey, User
from chalicelib.domain.permissions import INVOKE_SCOPE, Action, Principal, require
from chalicelib.services.identity import IdentityService


def user_view(user: User) -> dict[str, Any]:
    return {"userId": user.user_id, "login": user.login_name, "roles": user.roles, "password": bool(
        user.password_hash), "disabled": user.disabled, "createdAt": user.created_at}


def key_view(key: AppKey) -> dict[str, Any]:
    return {"clientId": key.client_id, "name": key.name, "scopes": key.scopes, "createdAt": key.created_at}


class PeopleService:
    def __init__(self, identity: IdentityService) -> None:
        self._identity = identity

    def users(self, who: Principal) -> list[dict[str, Any]]:
        require(who, "user", Action.READ)
        return sorted((user_view(u) for u in self._identity.list_users(who.account_id)),
                      key=lambda u: u["login"].lower())

    def add_user(self, who: Principal, login: Any, roles: Any, password: Any = None,
                 generate_password: bool = False) -> dict[str, Any]:
        """A user with the given roles; a password given, generated (returned once) or none (tokens only)."""
        require(who, "user", Action.WRITE)
        generated = secrets.token_urlsafe(18) if generate_password and password is None else None
        user = self._identity.create_user(who.account_id, login, generated or password, roles)
        return {**user_view(user), **({"generatedPassword": generated} if generated else {})}

    def set_disabled(self, who: Principal, user_id: str, disabled: Any) -> dict[str, Any]:
        require(who, "user", Action.WRITE)
        if not isinstance(disabled, bool):
            raise ValidationFailed(detail="'disabled' must be true or false")
        if disabled and who.kind == "user" and user_id == who.subject:
            raise Conflict(detail="You cannot disable yourself: another admin can")
        user = self._identity.set_disabled(who.account_id, user_id[:100], disabled)
        if user is None:
            raise NotFound(what="User", key=user_id[:100])
        return user_view(user)

    def app_keys(self, who: Principal) -> list[dict[str, Any]]:
        require(who, "appKey", Action.READ)
        return sorted((key_view(k) for k in self._identity.list_app_keys(who.account_id)),
                      key=lambda k: k["name"].lower())

    def create_app_key(self, who: Principal, name: Any, scopes: Any = None) -> dict[str, Any]:
        """A new app key and its client secret, shown this once (only its hash is kept)."""
        require(who, "appKey", Action.WRITE)
        key, secret = self._identity.create_app_key(who.account_id, name, [INVOKE_SCOPE] if scopes is None
                                                    else scopes)
        return {**key_view(key), "clientSecret": secret}

    def revoke_app_key(self, who: Principal, client_id: str) -> None:
        require(who, "appKey", Action.WRITE)
        if not self._identity.delete_app_key(who.account_id, client_id[:100]):
            raise NotFound(what="App key", key=client_id[:100])
