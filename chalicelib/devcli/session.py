"""From the command line's --profile to a ready Api: checks expiry, refreshes client-credentials tokens."""

from __future__ import annotations

import argparse
import time

from chalicelib.devcli.client import Api
from chalicelib.devcli.errors import CliError, Exit
from chalicelib.devcli.profiles import Profile, ProfileStore

TOKEN_PATH = "//sentinel/api/account/{account}/app/token"


def client_token(url: str, account: str, client_id: str, client_secret: str) -> str:
    """OAuth2 client-credentials grant at the gateway's Sentinel endpoint."""
    api = Api(url, account)
    answer = api.call("POST", TOKEN_PATH.format(account=account), query={"v": "2.0"}, auth=False,
                      form={"grant_type": "client_credentials", "client_id": client_id,
                            "client_secret": client_secret})
    token = answer.get("access_token") if isinstance(answer, dict) else None
    if not token:
        raise CliError("the token endpoint answered without an access_token", Exit.SERVER)
    return str(token)


def open_profile(args: argparse.Namespace) -> tuple[str, Profile, ProfileStore]:
    store = ProfileStore()
    name = store.resolve_name(getattr(args, "profile", None))
    return name, store.get(name), store


def api_for(args: argparse.Namespace) -> Api:
    name, profile, store = open_profile(args)
    if profile.auth == "client":
        def refresh() -> str:
            profile.token = client_token(profile.url, profile.account, profile.client_id, profile.client_secret)
            store.save(name, profile, make_current=False)
            return profile.token

        if not profile.token or profile.expired(time.time() + 30):
            return Api.for_profile(profile, refresh=refresh).with_token(refresh())
        return Api.for_profile(profile, refresh=refresh)
    if profile.expired():
        raise CliError(f"the login of profile '{name}' expired at {profile.public()['expiresAt']}", Exit.AUTH,
                       hint=f"run: fngate login --profile {name} ... (fngate whoami shows where it pointed)")
    return Api.for_profile(profile)
