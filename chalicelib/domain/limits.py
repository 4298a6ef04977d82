"""Every numeric limit in one place, each with its source in the spec."""

from __future__ import annotations

from dataclasses import dataclass

# management-api.md §4.1 and §7
NAME_MAX = 50
NAME_PATTERN = r"^[A-Za-z0-9_-]+$"  # inferred: matches lpf's local folder names
DESCRIPTION_MAX = 200
EVENT_ID_MAX = 60
SKILLS_MAX = 500
SKILL_ID_MAX = 500
CODE_MAX = 100_000
ENV_VARS_MAX = 512
ENV_KEY_MAX = 200
ENV_VALUE_MAX = 1024
FUNCTIONS_PER_ACCOUNT = 50
DEPLOYED_PER_ACCOUNT = 50
INVOCATIONS_PER_MONTH = 150_000
VERSIONS_KEPT = 10  # V2: manifests kept per function
DEPENDENCIES_MAX = 50  # ours: declared packages per function (their own dependencies are not counted)
DEPLOYMENTS_KEPT = 20  # issue 4: the last 20 deployments can be restored (LivePerson keeps 5)
CONCURRENT_DEPLOYMENTS_PER_ACCOUNT = 3

# runtime-and-toolbelt.md §4
EXECUTION_TIMEOUT_S = 30.0
MEMORY_MB = 256
MIN_TIMEOUT_S, MIN_MEMORY_MB = 1, 128  # ours: per-function settings below these make no sense (Lambda: 128 MB)


@dataclass(frozen=True)
class OperatorLimits:
    """The per-function settings' ceilings, the operator's to raise (FNGATE_FUNCTION_*_MAX); LivePerson's by default."""

    timeout_default_s: int = int(EXECUTION_TIMEOUT_S)  # what a new function gets
    timeout_max_s: int = int(EXECUTION_TIMEOUT_S)
    memory_default_mb: int = MEMORY_MB
    memory_max_mb: int = MEMORY_MB
LOG_ENTRIES_MAX = 10
LOG_CHARS_MAX = 5000
OUTBOUND_REQUESTS_PER_S = 20
SECRET_VALUE_MAX = 16_384
SECRET_KEY_MAX = 100

# ours: HTTP bodies are bounded before they are read
REQUEST_BODY_MAX = 1_048_576
TOKEN_TTL_S = 3600  # > 30 min, or LivePerson's client refetches on every call (external-invocation.md §2.1)
USER_TOKEN_TTL_S = 12 * 3600
PASSWORD_MIN = 8  # ours: a user's password, set by an admin (CLI or API)
LOGIN_MAX = 100
APP_KEY_NAME_MAX = 100

# ours: what a JSON body may be (deeper or odder documents answer 400, never 500)
JSON_DEPTH_MAX = 64  # nested arrays/objects; LivePerson payloads are a few levels deep
JSON_NUMBER_DIGITS_MAX = 4300  # Python's own int/str conversion limit (sys.get_int_max_str_digits)
