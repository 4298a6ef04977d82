"""fngate login / logout / whoami: named profiles in the user's config file."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
import time
from typing import Any

from chalicelib.devcli.client import Api
from chalicelib.devcli.commands import add_command
from chalicelib.devcli.errors import CliError, Exit, usage
from chalicelib.devcli.output import Output
from chalicelib.devcli.profiles import Profile, ProfileStore
from chalicelib.devcli.session import api_for, client_token, open_profile

DEFAULT_URL = "http://127.0.0.1:8080"
ENV_PASSWORD = "FNGATE_PASSWORD"


def _secret(args: argparse.Namespace, stdin_flag: str, prompt: str, env: str | None = None) -> str:
    if getattr(args, stdin_flag):
        value = sys.stdin.readline().rstrip("\n")
    elif env and os.environ.get(env):
        value = os.environ[env]
    elif sys.stdin.isatty():
        value = getpass.getpass(prompt)
    else:
        raise usage(f"no {prompt.rstrip(': ').lower()} given", hint=f"pass --{stdin_flag.replace('_', '-')} and "
                                                                     "write it to stdin")
    if not value:
        raise usage(f"empty {prompt.rstrip(': ').lower()}")
    return value


def _wait_for_gateway(url: str, account: str, wait_s: float, out: Output) -> None:
    """Until the gateway answers (a starting `fngate serve`), at most ``wait_s`` seconds."""
    deadline, told = time.monotonic() + wait_s, False
    while True:
        try:
            Api(url, account).call("GET", "//openapi.json", auth=False, raw=True)
            return
        except CliError as err:
            if err.code != Exit.UNREACHABLE or time.monotonic() >= deadline:
                if err.code == Exit.UNREACHABLE:
                    raise
                return  # it answers (even with an error): it is up
        if not told:
            out.progress(f"waiting for the gateway at {url} ...")
            told = True
        time.sleep(0.2)


def login(args: argparse.Namespace, out: Output) -> int:
    store = ProfileStore()
    name = store.resolve_name(args.profile) if args.profile else (store.current_name() or "default")
    url, account = args.url.rstrip("/"), args.account
    modes = [m for m in ("user", "token", "client_id") if getattr(args, m)]
    if len(modes) != 1:
        raise usage("give exactly one of --user, --token or --client-id")
    if args.wait:
        _wait_for_gateway(url, account, args.wait, out)
    api = Api(url, account)
    if args.user:
        password = _secret(args, "password_stdin", "Password: ", ENV_PASSWORD)
        answer = api.call("POST", "/login", {"username": args.user, "password": password}, query={"v": "1.3"},
                          auth=False)
        config = answer.get("config") or {}
        profile = Profile(url, account, "password", token=answer["bearer"], login=config.get("loginName", args.user),
                          user_id=config.get("userId", ""))
    elif args.token:
        profile = Profile(url, account, "token", token=args.token)
        profile.login = str(profile.claims.get("login") or profile.claims.get("sub") or "")
    else:
        secret = _secret(args, "client_secret_stdin", "Client secret: ") if not args.client_secret \
            else args.client_secret
        token = client_token(url, account, args.client_id, secret)
        profile = Profile(url, account, "client", token=token, client_id=args.client_id, client_secret=secret)
    api.with_token(profile.token).call("GET", "/functions/count")  # proves the token works on this account
    store.save(name, profile)
    info = {"profile": name, **profile.public(), "config": str(store.path)}
    out.result(info, f"Logged in to {url} as {info['login'] or profile.auth} on account {account} "
                     f"(profile '{name}', saved in {store.path}).")
    return Exit.OK


def logout(args: argparse.Namespace, out: Output) -> int:
    store = ProfileStore()
    names = store.names() if args.all else [store.resolve_name(args.profile)]
    removed = [n for n in names if store.remove(n)]
    if not removed and not args.all:
        raise CliError(f"no profile '{names[0]}'", Exit.NOT_FOUND, hint="fngate whoami --all lists profiles")
    out.result({"removed": removed}, f"Logged out: {', '.join(removed) or 'nothing to do'}.")
    return Exit.OK


def whoami(args: argparse.Namespace, out: Output) -> int:
    if args.all:
        store = ProfileStore()
        current = store.current_name()
        rows = [{"profile": n, "current": n == current, **store.get(n).public()} for n in store.names()]
        out.table(rows, ["profile", "current", "url", "account", "login", "expiresAt"])
        return Exit.OK
    name, profile, _ = open_profile(args)
    api = api_for(args)
    info: dict[str, Any] = {"profile": name, **profile.public()}
    info["functions"] = api.call("GET", "/functions/count")
    roles = ", ".join(info["roles"] or info["scopes"]) or "none"
    out.result(info, f"{info['login'] or profile.auth} on account {profile.account} at {profile.url}\n"
                     f"profile: {name}   roles: {roles}   token valid until: {info['expiresAt'] or 'unknown'}\n"
                     f"functions on the account: {info['functions']}")
    return Exit.OK


def register(sub: Any, parents: list[argparse.ArgumentParser]) -> None:
    p = add_command(sub, "login", login, "log in to a gateway and save the login as a named profile", """
        echo "$PASSWORD" | fngate login --url http://127.0.0.1:8080 --account local --user dev --password-stdin
        fngate login --account local --token "$DEV_TOKEN" --profile ci
        fngate login --account local --client-id "$CID" --client-secret-stdin --profile crm < secret.txt
        """, parents)
    p.add_argument("--url", default=DEFAULT_URL, help=f"gateway base URL (default {DEFAULT_URL})")
    p.add_argument("--account", default="local", help="account id (default: local)")
    p.add_argument("--user", help="user login name (password from --password-stdin, $FNGATE_PASSWORD or a prompt)")
    p.add_argument("--password-stdin", action="store_true", help="read the password from the first line of stdin")
    p.add_argument("--token", help="a bearer token (from fngate admin bootstrap or create-user)")
    p.add_argument("--client-id", help="app key client id (client credentials: can invoke, nothing else)")
    p.add_argument("--client-secret", help="app key secret (prefer --client-secret-stdin)")
    p.add_argument("--client-secret-stdin", action="store_true", help="read the client secret from stdin")
    p.add_argument("--wait", type=float, default=0, metavar="SECONDS",
                   help="wait up to SECONDS for a gateway that is still starting")
    p = add_command(sub, "logout", logout, "forget a saved login (the current profile, --profile NAME, or --all)",
                    """
        fngate logout
        fngate logout --profile ci
        """, parents)
    p.add_argument("--all", action="store_true", help="forget every profile")
    p = add_command(sub, "whoami", whoami, "show who the current profile is, checked against the gateway", """
        fngate whoami
        fngate whoami --all        # every saved profile
        fngate whoami --json --profile ci
        """, parents)
    p.add_argument("--all", action="store_true", help="list all profiles (no gateway call)")
