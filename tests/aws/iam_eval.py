"""A small evaluator of IAM identity policies, enough to judge the documents fngate generates.

What it follows (IAM's documented logic for one principal's identity policies, no SCPs, boundaries or sessions):
an explicit Deny in any matching statement wins; else any matching Allow; else the implicit deny. A statement
matches when its Action (or NotAction) and Resource (or NotResource) match and every condition holds. Actions
match case-insensitively, resources case-sensitively; ``*`` and ``?`` are wildcards in both. Conditions: the
operators listed in OPERATORS, with IAM's rule that a missing key fails a positive operator and satisfies a
negated one. Anything it does not know (an operator, a policy element) raises, so a document using it cannot pass
a test by being misread.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

ALLOW, EXPLICIT_DENY, IMPLICIT_DENY = "Allow", "ExplicitDeny", "ImplicitDeny"
KNOWN_ELEMENTS = {"Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Condition"}


def wildcard(pattern: str, value: str, *, case_sensitive: bool = True) -> bool:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    flags = 0 if case_sensitive else re.IGNORECASE
    return re.fullmatch(regex, value, flags | re.DOTALL) is not None


def _any(patterns: Any, value: str, *, case_sensitive: bool) -> bool:
    items = [patterns] if isinstance(patterns, str) else list(patterns)
    return any(wildcard(p, value, case_sensitive=case_sensitive) for p in items)


OPERATORS: dict[str, tuple[Callable[[list[str], str], bool], bool]] = {
    # name → (test one context value against the condition's values, negated?)
    "StringEquals": (lambda vs, g: g in vs, False),
    "StringNotEquals": (lambda vs, g: g in vs, True),
    "StringLike": (lambda vs, g: any(wildcard(v, g) for v in vs), False),
    "StringNotLike": (lambda vs, g: any(wildcard(v, g) for v in vs), True),
    "ArnEquals": (lambda vs, g: g in vs, False),
    "ArnLike": (lambda vs, g: any(wildcard(v, g) for v in vs), False),
    "ArnNotLike": (lambda vs, g: any(wildcard(v, g) for v in vs), True),
    "Bool": (lambda vs, g: g.lower() in [v.lower() for v in vs], False),
}


def _condition_holds(condition: Mapping[str, Any], context: Mapping[str, Any]) -> bool:
    for operator, tests in condition.items():
        if_exists = operator.endswith("IfExists")
        name = operator[: -len("IfExists")] if if_exists else operator
        if name not in OPERATORS:
            raise ValueError(f"condition operator {operator} is not modelled")
        test, negated = OPERATORS[name]
        for key, values in tests.items():
            expected = [str(v) for v in ([values] if isinstance(values, str | bool) else values)]
            given = context.get(key.lower())
            if given is None:
                if not (negated or if_exists):
                    return False
                continue
            given_values = [str(g) for g in (given if isinstance(given, list) else [given])]
            matched = any(test(expected, g) for g in given_values)
            if matched == negated:
                return False
    return True


def statement_matches(statement: Mapping[str, Any], action: str, resource: str,
                      context: Mapping[str, Any]) -> bool:
    unknown = set(statement) - KNOWN_ELEMENTS
    if unknown or "Principal" in statement:
        raise ValueError(f"policy elements not modelled: {sorted(unknown)}")
    if "Action" in statement:
        if not _any(statement["Action"], action, case_sensitive=False):
            return False
    elif _any(statement["NotAction"], action, case_sensitive=False):
        return False
    if "Resource" in statement:
        if not _any(statement["Resource"], resource, case_sensitive=True):
            return False
    elif _any(statement["NotResource"], resource, case_sensitive=True):
        return False
    return _condition_holds(statement.get("Condition") or {}, context)


def evaluate(policies: Iterable[Mapping[str, Any]], action: str, resource: str,
             context: Mapping[str, Any] | None = None) -> str:
    """ALLOW, EXPLICIT_DENY or IMPLICIT_DENY for one request made by a principal holding ``policies``."""
    ctx = {k.lower(): v for k, v in (context or {}).items()}
    allowed = False
    for policy in policies:
        statements = policy["Statement"]
        for statement in [statements] if isinstance(statements, dict) else statements:
            if not statement_matches(statement, action, resource, ctx):
                continue
            if statement["Effect"] == "Deny":
                return EXPLICIT_DENY
            if statement["Effect"] != "Allow":
                raise ValueError(f"bad Effect {statement['Effect']!r}")
            allowed = True
    return ALLOW if allowed else IMPLICIT_DENY
