"""Names of the per-account and per-function AWS resources: the one place that derives them.

Why every name carries an account key: IAM can only scope a role to resources by name pattern (or tag), so a
function Lambda, its log group and its account's execution role all share ``<prefix><account key>-``. A role of
account A then matches ``fngate-fn-<key A>-*`` and nothing of account B. Account ids may be 64 characters (longer
than a Lambda name allows with anything beside them), so the key is a digest, 12 hex characters (48 bits: a
collision among a million accounts has odds of ~1 in 500,000, and names are checked against the store anyway).
"""

from __future__ import annotations

import hashlib
import re

FUNCTION_PREFIX = "fngate-fn-"  # default prefix of function Lambdas and their accounts' roles
ACCOUNT_KEY_CHARS = 12
FUNCTION_KEY_CHARS = 16
NAME_MAX = 64  # Lambda function names and IAM role names
ROLE_PATH = "/fngate/functions/"
_PREFIX = re.compile(r"[A-Za-z0-9_-]*")


def check_prefix(prefix: str) -> str:
    """A prefix that leaves room for both keys; ValueError otherwise (a configuration error, found at start)."""
    if not _PREFIX.fullmatch(prefix) or len(prefix) + ACCOUNT_KEY_CHARS + 1 + FUNCTION_KEY_CHARS > NAME_MAX:
        longest = NAME_MAX - ACCOUNT_KEY_CHARS - 1 - FUNCTION_KEY_CHARS
        raise ValueError(f"function prefix must match [A-Za-z0-9_-]* and be at most {longest} characters")
    return prefix


def account_key(account_id: str) -> str:
    return hashlib.sha256(account_id.encode()).hexdigest()[:ACCOUNT_KEY_CHARS]


def account_scope(prefix: str, account_id: str) -> str:
    """The name prefix every Lambda (and log group) of this account starts with."""
    return f"{prefix}{account_key(account_id)}-"


def function_lambda_name(prefix: str, account_id: str, function_uuid: str) -> str:
    """Stable, valid and short: Lambda names allow [A-Za-z0-9-_] and 64 characters."""
    digest = hashlib.sha256(f"{account_id}/{function_uuid}".encode()).hexdigest()[:FUNCTION_KEY_CHARS]
    return account_scope(prefix, account_id) + digest


def function_log_group(lambda_name: str) -> str:
    return f"/aws/lambda/{lambda_name}"


def account_role_name(prefix: str, account_id: str) -> str:
    """The execution role shared by an account's function Lambdas (under ROLE_PATH)."""
    return f"{prefix}{account_key(account_id)}"
