"""Named login profiles in the user's config file (mode 0600, its folder 0700).

File: ``$FNGATE_CONFIG``, else ``$XDG_CONFIG_HOME/fngate/config.json`` (``~/.config/fngate/config.json``).
Shape: ``{"current": NAME, "profiles": {NAME: Profile}}``. A password is never stored; a user's bearer token is,
and a client-credentials profile keeps its client id and secret so a new token can be fetched when one expires.
"""

from __future__ import annotations

import base64
import json
import os
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from chalicelib.devcli.errors import CliError, Exit

ENV_CONFIG = "FNGATE_CONFIG"
ENV_PROFILE = "FNGATE_PROFILE"
DEFAULT_PROFILE = "default"


@dataclass
class Profile:
    url: str
    account: str
    auth: str  # "password" | "token" | "client"
    token: str = ""
    login: str = ""
    user_id: str = ""
    client_id: str = ""
    client_secret: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def claims(self) -> dict[str, Any]:
        return token_claims(self.token)

    @property
    def expires_at(self) -> float | None:
        exp = self.claims.get("exp")
        return float(exp) if isinstance(exp, int | float) else None

    def expired(self, now: float | None = None) -> bool:
        exp = self.expires_at
        return exp is not None and exp <= (time.time() if now is None else now)

    def public(self) -> dict[str, Any]:
        """What `whoami` and `--json` may show: no token, no secret."""
        claims = self.claims
        return {"url": self.url, "account": self.account, "auth": self.auth,
                "login": self.login or claims.get("login") or self.client_id or "",
                "roles": claims.get("roles", []), "scopes": (claims.get("scope") or "").split() or [],
                "expiresAt": _iso(self.expires_at)}


def token_claims(token: str) -> dict[str, Any]:
    """A JWT's claims, read without verifying it (the gateway verifies; the CLI only shows and times them)."""
    parts = token.split(".")
    if len(parts) != 3:
        return {}
    try:
        padded = parts[1] + "=" * (-len(parts[1]) % 4)
        claims = json.loads(base64.urlsafe_b64decode(padded))
    except ValueError:
        return {}
    return claims if isinstance(claims, dict) else {}


def _iso(ts: float | None) -> str | None:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts)) if ts else None


def config_path() -> Path:
    if os.environ.get(ENV_CONFIG):
        return Path(os.environ[ENV_CONFIG])
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "fngate" / "config.json"


class ProfileStore:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path or config_path()

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            return {"current": None, "profiles": {}}
        except (OSError, ValueError) as err:
            raise CliError(f"cannot read the config file {self.path}: {err}", Exit.USAGE,
                           hint="fix or remove it, then run fngate login again") from None
        if not isinstance(data, dict) or not isinstance(data.get("profiles"), dict):
            raise CliError(f"the config file {self.path} is not a fngate config", Exit.USAGE)
        return data

    def _write(self, data: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".config-")  # created 0600
        try:
            with os.fdopen(fd, "w") as f:
                json.dump(data, f, indent=2)
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise

    def names(self) -> list[str]:
        return sorted(self._read()["profiles"])

    def current_name(self) -> str | None:
        return self._read().get("current")

    def resolve_name(self, name: str | None) -> str:
        return name or os.environ.get(ENV_PROFILE) or self.current_name() or DEFAULT_PROFILE

    def get(self, name: str | None) -> Profile:
        data = self._read()
        resolved = self.resolve_name(name)
        raw = data["profiles"].get(resolved)
        if raw is None:
            known = ", ".join(sorted(data["profiles"])) or "none"
            raise CliError(f"not logged in (no profile '{resolved}'; profiles: {known})", Exit.AUTH,
                           hint="run: fngate login --url URL --account ACCOUNT --user NAME")
        return Profile(**raw)

    def save(self, name: str, profile: Profile, *, make_current: bool = True) -> None:
        data = self._read()
        data["profiles"][name] = asdict(profile)
        if make_current or not data.get("current"):
            data["current"] = name
        self._write(data)

    def remove(self, name: str) -> bool:
        data = self._read()
        found = data["profiles"].pop(name, None) is not None
        if data.get("current") == name:
            data["current"] = next(iter(sorted(data["profiles"])), None)
        if found:
            self._write(data)
        return found
