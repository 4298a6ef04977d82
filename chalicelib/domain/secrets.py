"""Secret rules: key syntax, the stringified-value limit, system secret names, obfuscation (no I/O).

Sources: management-api.md §5 and runtime-and-toolbelt.md §2 (Toolbelt SecretClient), seed 000 (system secrets).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chalicelib.domain import limits
from chalicelib.domain.errors import SecretInvalidFormat

DEFAULT_APP_KEY = "lp-faas-default-app-key"  # seed 000: LpClient's credentials
ORCHESTRATOR_APP_KEY = "lp-faas-orchestrator-app-key"  # seed 000: OrchestratorClient's credentials
SYSTEM_SECRETS = frozenset({DEFAULT_APP_KEY, ORCHESTRATOR_APP_KEY})
SYSTEM_PREFIX = "LIVEPERSON_DEFAULT_"  # V2 names of the same system secrets
OBFUSCATED = "********"
SECRETS_PER_ACCOUNT = 1000  # ours: LivePerson publishes no limit; this bounds list and rotation work

_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def validate_key(key: Any) -> str:
    """A key of ``[A-Za-z0-9-_]``, 1..100 characters (the Toolbelt's own check)."""
    if not isinstance(key, str) or not key or len(key) > limits.SECRET_KEY_MAX or not _KEY.match(key):
        raise SecretInvalidFormat(detail=f"secret key must be 1-{limits.SECRET_KEY_MAX} characters of letters, "
                                         "digits, '-' or '_'")
    return key


def stringify(value: Any) -> str:
    """The value as JavaScript's JSON.stringify writes it; the limit counts UTF-16 units, as JavaScript does.

    The message never contains the value: it may be a secret that was pasted into the wrong field.
    """
    try:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError):
        raise SecretInvalidFormat(detail="secret value must be JSON") from None
    if len(text.encode("utf-16-le")) // 2 > limits.SECRET_VALUE_MAX:
        raise SecretInvalidFormat(detail=f"secret value must be at most {limits.SECRET_VALUE_MAX} characters "
                                         "after JSON stringify")
    return text


FUNCTIONS_PER_SECRET_MAX = 100  # ours: an account has at most 50 functions


def validate_functions(functions: Any) -> list[str] | None:
    """The optional list of function uuids allowed to use a secret: None (every function) or distinct strings."""
    if functions is None:
        return None
    if (not isinstance(functions, list) or len(functions) > FUNCTIONS_PER_SECRET_MAX
            or not all(isinstance(f, str) and 0 < len(f) <= 64 for f in functions)):
        raise SecretInvalidFormat(detail=f"'functions' must be null or a list of at most {FUNCTIONS_PER_SECRET_MAX} "
                                         "function uuids")
    return sorted(set(functions))


def parse(text: str) -> Any:
    return json.loads(text)


def is_system_secret(key: str) -> bool:
    """Provisioned app keys: functions may read them but never update them."""
    return key in SYSTEM_SECRETS or key.startswith(SYSTEM_PREFIX)


def shown_value(read: Callable[[], Any], *, may_read_value: bool) -> Any:
    """What a caller sees: the value for those allowed to read it in clear, a fixed mask otherwise.

    The mask has one length and type, so it leaks neither the length nor the shape of the value; ``read`` runs only
    when the value may be shown, so a masked view never decrypts.
    """
    return read() if may_read_value else OBFUSCATED


@dataclass(frozen=True)
class Secret:
    """A secret as a caller may see it: ``value`` is the parsed JSON value, or OBFUSCATED."""

    key: str
    value: Any
    created_at: str = ""
    created_by: str = ""
    updated_at: str = ""
    updated_by: str = ""
    functions: list[str] | None = None  # uuids of the only functions that may use it; None: every function
