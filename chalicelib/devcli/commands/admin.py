"""fngate admin users ... / app-keys ...: people and external systems of an account, straight on the data dir.

They work with the gateway running or not, and refuse a data dir that is not a fngate store (devcli/datadir.py).
A user's password is never printed unless fngate generated it; an app key's secret only when created or rotated.
"""

from __future__ import annotations

import argparse
import secrets
import sys
import time
from typing import Any

from chalicelib.devcli.commands import add_command
from chalicelib.devcli.datadir import open_identity, require_store
from chalicelib.devcli.errors import CliError, Exit, usage
from chalicelib.devcli.output import Output
from chalicelib.domain import limits

ROLES = ["FaaS-Admin", "FaaS-Developer", "FaaS-Invocation"]
SCOPES = ["faas.lambda.invoke", "faas.orchestrator.invoke"]


def _open(args: argparse.Namespace) -> Any:
    from dataclasses import replace
    from pathlib import Path

    from chalicelib.config import Settings
    from chalicelib.storage.base import Query

    settings = Settings.from_env()
    if args.data_dir:
        settings = replace(settings, data_dir=Path(args.data_dir))
    deadline = time.monotonic() + args.wait
    require_store(settings, args.wait)
    admin = open_identity(settings)
    while True:  # a gateway that is starting creates its account just after its store
        accounts = sorted(r.sk for r in admin.store.query(Query("account", "accounts")))
        if args.account in accounts or time.monotonic() >= deadline:
            break
        time.sleep(0.2)
    if args.account not in accounts:
        admin.store.close()
        raise CliError(f"no account '{args.account}' in {settings.data_dir.resolve()} (accounts: "
                       f"{', '.join(accounts) or 'none'})", Exit.NOT_FOUND,
                       hint="fngate serve --account NAME or fngate admin bootstrap --account NAME creates one")
    return admin


def _password(args: argparse.Namespace) -> tuple[str | None, bool]:
    """(password, generated): from stdin, generated, or none (token-only user)."""
    if getattr(args, "password_stdin", False):
        password = sys.stdin.readline().rstrip("\n")
        if len(password) < limits.PASSWORD_MIN:
            raise usage(f"the password must have at least {limits.PASSWORD_MIN} characters")
        return password, False
    if getattr(args, "generate_password", False):
        return secrets.token_urlsafe(18), True
    return None, False


def _user_row(user: Any) -> dict[str, Any]:
    return {"login": user.login_name, "userId": user.user_id, "roles": user.roles,
            "password": bool(user.password_hash), "disabled": user.disabled, "createdAt": user.created_at}


def _key_row(key: Any) -> dict[str, Any]:
    return {"name": key.name, "clientId": key.client_id, "scopes": key.scopes, "createdAt": key.created_at}


def users(args: argparse.Namespace, out: Output) -> int:
    admin = _open(args)
    try:
        ident = admin.identity
        if args.action == "list":
            out.table([_user_row(u) for u in ident.list_users(args.account)], ["login", "roles", "password",
                                                                                "disabled", "userId", "createdAt"])
            return Exit.OK
        if not args.login:
            raise usage(f"fngate admin users {args.action} needs --login NAME")
        user = ident.find_user(args.account, args.login)
        if args.action == "create":
            if user is not None:
                raise CliError(f"user {args.login} exists on account {args.account}", Exit.CONFLICT,
                               hint="fngate admin users rotate --login NAME sets a new password")
            password, generated = _password(args)
            user = ident.create_user(args.account, args.login, password, args.role or ["FaaS-Developer"])
        elif user is None:
            raise CliError(f"no user {args.login} on account {args.account}", Exit.NOT_FOUND)
        elif args.action in ("disable", "enable"):
            user = ident.set_disabled(args.account, user.user_id, args.action == "disable")
            out.result({**_user_row(user), "accountId": args.account}, f"{args.action.capitalize()}d user "
                       f"{user.login_name}" + (": no login, its tokens stop working within seconds."
                                               if user.disabled else ": it can log in again."))
            return Exit.OK
        elif args.action == "revoke":
            ident.delete_user(args.account, args.login)
            out.result({**_user_row(user), "revoked": True}, f"Revoked user {args.login}: its tokens stop working "
                                                              "within seconds.")
            return Exit.OK
        else:  # rotate
            password, generated = _password(args)
            if password is None:
                password, generated = secrets.token_urlsafe(18), True
            user = ident.set_password(args.account, args.login, password)
        result = {**_user_row(user), "accountId": args.account, "token": ident.user_token(user)}
        if generated:
            result["generatedPassword"] = password
        text = f"{args.action.capitalize()}d user {user.login_name} ({', '.join(user.roles)}) on {args.account}."
        if generated:
            text += f"\npassword (shown once): {password}"
        out.result(result, text)
        return Exit.OK
    finally:
        admin.store.close()


def app_keys(args: argparse.Namespace, out: Output) -> int:
    admin = _open(args)
    try:
        ident = admin.identity
        if args.action == "list":
            out.table([_key_row(k) for k in ident.list_app_keys(args.account)], ["name", "clientId", "scopes",
                                                                                  "createdAt"])
            return Exit.OK
        if not args.name:
            raise usage(f"fngate admin app-keys {args.action} needs --name NAME (or a client id)")
        key = ident.find_app_key(args.account, args.name)
        if args.action == "create":
            if key is not None:
                raise CliError(f"app key {args.name} exists on account {args.account}", Exit.CONFLICT,
                               hint="one key per external system: rotate it, or pick another name")
            key, secret = ident.create_app_key(args.account, args.name, args.scope or [SCOPES[0]])
        elif key is None:
            raise CliError(f"no app key {args.name} on account {args.account}", Exit.NOT_FOUND)
        elif args.action == "revoke":
            ident.delete_app_key(args.account, key.client_id)
            out.result({**_key_row(key), "revoked": True}, f"Revoked app key {key.name}: its tokens stop working "
                                                            "within seconds.")
            return Exit.OK
        else:
            key, secret = ident.rotate_app_key(args.account, key.client_id)
        result = {**_key_row(key), "accountId": args.account, "clientSecret": secret}
        out.result(result, f"{args.action.capitalize()}d app key {key.name}\nclient id:     {key.client_id}\n"
                           f"client secret: {secret}   (shown once)")
        return Exit.OK
    finally:
        admin.store.close()


def _place(p: argparse.ArgumentParser, *more: str) -> None:
    p.add_argument("action", choices=["create", "list", "rotate", "revoke", *more])
    p.add_argument("--data-dir", help="the gateway's data dir (default: $FNGATE_DATA_DIR or .fngate)")
    p.add_argument("--account", default="local", help="default: local")
    p.add_argument("--wait", type=float, default=0, metavar="SECONDS",
                   help="wait up to SECONDS for a starting gateway to create the store")


def register(admin_sub: Any, parents: list[argparse.ArgumentParser]) -> None:
    common = [q for q in parents]
    p = add_command(admin_sub, "users", users, "create, list, rotate (new password), disable, enable or revoke users",
                    """
        echo "$PASSWORD" | fngate admin users create --login dev --role FaaS-Developer --password-stdin
        fngate admin users create --login ci --role FaaS-Developer --generate-password --json
        fngate admin users list
        fngate admin users rotate --login dev        # prints a generated password once
        fngate admin users disable --login dev       # kept, but no login; its tokens stop working
        fngate admin users enable --login dev
        fngate admin users revoke --login dev
        """, common)
    _place(p, "disable", "enable")
    p.add_argument("--login", help="the user's login name")
    p.add_argument("--role", action="append", choices=ROLES, help="repeatable (default FaaS-Developer)")
    p.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    p.add_argument("--generate-password", action="store_true", help="generate one and print it once")
    p = add_command(admin_sub, "app-keys", app_keys, "create, list, rotate or revoke app keys (one per external "
                    "system; client credentials for invocation)", """
        fngate admin app-keys create --name crm          # prints client id and secret once
        fngate admin app-keys list --json
        fngate admin app-keys rotate --name crm          # new secret, same client id
        fngate admin app-keys revoke --name crm
        """, common)
    _place(p)
    p.add_argument("--name", help="app key name (the external system), or its client id")
    p.add_argument("--scope", action="append", choices=SCOPES, help=f"repeatable (default {SCOPES[0]})")
