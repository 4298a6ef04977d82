"""Validation rules for functions and identifiers (management-api.md §7), each in one place.

Functions raise ValidationFailed / InterfaceWrong with a message a developer can act on.
"""

from __future__ import annotations

import re
from typing import Any

from chalicelib.domain import limits
from chalicelib.domain.errors import BadInput, InterfaceWrong, ValidationFailed
from chalicelib.domain.permissions import SCOPES, Role
from chalicelib.domain.runtimes import Runtime

_NAME = re.compile(limits.NAME_PATTERN)
_ACCOUNT = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_ENV_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_RESERVED_ENV = re.compile(r"^(X_LIVEPERSON_|FNGATE_|NODE_OPTIONS$|LD_|PYTHON)")


def validate_account_id(account_id: str) -> str:
    if not isinstance(account_id, str) or not _ACCOUNT.match(account_id):
        raise BadInput(detail="account id must be 1-64 letters, digits, '-' or '_'")
    return account_id


def require_type(value: Any, expected: type | tuple[type, ...], field: str) -> Any:
    if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
        names = " or ".join(t.__name__ for t in (expected if isinstance(expected, tuple) else (expected,)))
        raise BadInput(detail=f"'{field}' must be of type {names.replace('str', 'string')}")
    return value


def validate_name(name: Any) -> str:
    require_type(name, str, "name")
    if not name or len(name) > limits.NAME_MAX or not _NAME.match(name):
        raise ValidationFailed(
            detail=f"name must be 1-{limits.NAME_MAX} characters of letters, digits, '-' or '_' (got {name[:60]!r})")
    return name


def validate_description(description: Any) -> str:
    require_type(description, str, "description")
    if len(description) > limits.DESCRIPTION_MAX:
        raise ValidationFailed(detail=f"description must be at most {limits.DESCRIPTION_MAX} characters")
    return description


def validate_skills(skills: Any) -> list[str]:
    require_type(skills, list, "skills")
    if len(skills) > limits.SKILLS_MAX:
        raise ValidationFailed(detail=f"at most {limits.SKILLS_MAX} skills per function")
    out = []
    for skill in skills:
        if isinstance(skill, int) and not isinstance(skill, bool):
            skill = str(skill)
        require_type(skill, str, "skills[]")
        if not skill or len(skill) > limits.SKILL_ID_MAX:
            raise ValidationFailed(detail="each skill id must be a non-empty string")
        out.append(skill)
    return out


def validate_code(code: Any, runtime: Runtime) -> str:
    require_type(code, str, "code")
    if len(code) > limits.CODE_MAX:
        raise ValidationFailed(detail=f"code must be at most {limits.CODE_MAX} characters (got {len(code)})")
    first = code.split("\n", 1)[0].rstrip("\r")
    if not runtime.first_line.match(first):
        raise InterfaceWrong(
            detail=f"not a valid lambda: line 1 must declare the entry point for {runtime.name}: "
                   f"{runtime.first_line_help}")
    return code


def validate_environment(env: Any) -> dict[str, str]:
    """Accepts V2's {KEY: value} or V1's [{key, value}]; returns {KEY: value}."""
    if isinstance(env, list):
        pairs = []
        for item in env:
            require_type(item, dict, "environmentVariables[]")
            pairs.append((item.get("key"), item.get("value")))
    else:
        require_type(env, dict, "environment")
        pairs = list(env.items())
    if len(pairs) > limits.ENV_VARS_MAX:
        raise ValidationFailed(detail=f"at most {limits.ENV_VARS_MAX} environment variables")
    out: dict[str, str] = {}
    for key, value in pairs:
        _validate_env_pair(key, value)
        if key in out:
            raise ValidationFailed(detail=f"environment variable {key} is defined twice")
        out[key] = value
    return out


def _validate_env_pair(key: Any, value: Any) -> None:
    if not isinstance(key, str) or not _ENV_KEY.match(key) or len(key) > limits.ENV_KEY_MAX:
        raise ValidationFailed(
            detail=f"environment variable names must match [A-Za-z_][A-Za-z0-9_]* and be at most "
                   f"{limits.ENV_KEY_MAX} characters (got {str(key)[:60]!r})")
    if _RESERVED_ENV.match(key):
        raise ValidationFailed(detail=f"environment variable {key} is reserved by the platform")
    if not isinstance(value, str) or len(value) > limits.ENV_VALUE_MAX:
        raise ValidationFailed(detail=f"environment variable {key} must be a string of at most "
                                      f"{limits.ENV_VALUE_MAX} characters")


_PACKAGE = re.compile(r"^(@[a-z0-9][\w.-]*/)?[A-Za-z0-9][\w.-]*$")  # npm (scoped) and PyPI names


def validate_dependencies(deps: Any) -> list[dict[str, str]]:
    """[{key: package name, value: version spec}]: names unique and well formed; the build step resolves them."""
    require_type(deps, list, "dependencies")
    if len(deps) > limits.DEPENDENCIES_MAX:
        raise ValidationFailed(detail=f"at most {limits.DEPENDENCIES_MAX} dependencies")
    out: list[dict[str, str]] = []
    for dep in deps:
        require_type(dep, dict, "dependencies[]")
        name, spec = dep.get("key"), dep.get("value", "")
        if not isinstance(name, str) or not _PACKAGE.match(name) or len(name) > 214:
            raise ValidationFailed(detail=f"dependency name {name!r} is not a package name")
        if not isinstance(spec, str) or len(spec) > 256 or any(c in spec for c in "\n\r;|&$`<>"):
            raise ValidationFailed(detail=f"dependency {name}: version {spec!r} is not a version range")
        if any(d["key"].lower() == name.lower() for d in out):
            raise ValidationFailed(detail=f"dependency {name} is listed twice")
        out.append({"key": name, "value": spec})
    return out


def validate_timeout(value: Any, ceiling: int) -> int:
    """Seconds a run of the function may take (0 = the gateway's default), within the operator's ceiling."""
    require_type(value, int, "timeoutSeconds")
    if value != 0 and not limits.MIN_TIMEOUT_S <= value <= ceiling:
        raise ValidationFailed(detail=f"timeoutSeconds must be between {limits.MIN_TIMEOUT_S} and {ceiling}")
    return value


def validate_memory(value: Any, ceiling: int) -> int:
    """Megabytes of memory for the function (0 = the gateway's default), within the operator's ceiling."""
    require_type(value, int, "memoryMB")
    if value != 0 and not limits.MIN_MEMORY_MB <= value <= ceiling:
        raise ValidationFailed(detail=f"memoryMB must be between {limits.MIN_MEMORY_MB} and {ceiling}")
    return value


# -- people and app keys of an account (fngate admin users|app-keys, and the admin routes) -----------------------------
_LOGIN = re.compile(r"^[A-Za-z0-9@._+-]+$")


def validate_login(login: Any) -> str:
    require_type(login, str, "login")
    if not login or len(login) > limits.LOGIN_MAX or not _LOGIN.match(login):
        raise ValidationFailed(detail=f"login must be 1-{limits.LOGIN_MAX} characters of letters, digits, '@', '.', "
                                      f"'_', '+' or '-' (got {login[:60]!r})")
    return login


def validate_password(password: Any) -> str:
    require_type(password, str, "password")
    if len(password) < limits.PASSWORD_MIN or len(password) > 1024:
        raise ValidationFailed(detail=f"the password must have {limits.PASSWORD_MIN}-1024 characters")
    return password


def validate_roles(roles: Any) -> list[str]:
    """At least one role of spec §8, each once, in the matrix's order."""
    require_type(roles, list, "roles")
    known = [r.value for r in Role]
    wrong = [r for r in roles if r not in known]
    if not roles or wrong:
        raise ValidationFailed(detail=f"roles must be a non-empty list of {', '.join(known)} (got "
                                      f"{wrong[:3] or roles})")
    return [r for r in known if r in roles]


def validate_scopes(scopes: Any) -> list[str]:
    require_type(scopes, list, "scopes")
    known = sorted(SCOPES)
    wrong = [s for s in scopes if s not in known]
    if not scopes or wrong:
        raise ValidationFailed(detail=f"scopes must be a non-empty list of {', '.join(known)} (got "
                                      f"{wrong[:3] or scopes})")
    return [s for s in known if s in scopes]


def validate_app_key_name(name: Any) -> str:
    require_type(name, str, "name")
    if not name.strip() or len(name) > limits.APP_KEY_NAME_MAX or not name.isprintable():
        raise ValidationFailed(detail=f"an app key's name must be 1-{limits.APP_KEY_NAME_MAX} printable characters")
    return name.strip()
