"""Domain allowlist rules (runtime-and-toolbelt.md §3): RFC 1035 host names, at most one leading wildcard label.

Wildcards: ``*.example.com`` matches any name below example.com, one label or more (``a.example.com`` and
``a.b.example.com``), like squid's ``.example.com``: whoever allowlists the zone trusts the zone. It never matches
``example.com`` itself (the docs do not say; the narrower reading is the safe one). A wildcard needs at least two
labels after ``*.`` so nobody can allowlist a whole TLD. ``localhost`` is the one single-label name accepted (local
gateways allowlist themselves); IP literals are refused, since the allowlist matches host names only.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from chalicelib.domain.errors import ValidationFailed

MAX_DOMAIN = 253
_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_SINGLE_LABEL_OK = frozenset({"localhost"})


def validate_domain(domain: object) -> str:
    """The domain lower-cased without a trailing dot, or ValidationFailed saying what is wrong."""
    if not isinstance(domain, str) or not domain.strip():
        raise ValidationFailed(detail="domain must be a non-empty string")
    name = normalize(domain)
    if len(name) > MAX_DOMAIN:
        raise ValidationFailed(detail=f"domain must be at most {MAX_DOMAIN} characters")
    labels = name.split(".")
    wildcard = labels[0] == "*"
    if wildcard:
        labels = labels[1:]
    if not labels or not all(_LABEL.match(label) for label in labels):
        raise ValidationFailed(detail=f"{domain[:80]!r} is not a valid host name (RFC 1035 labels, one leading '*.')")
    if labels[-1].isdigit():
        raise ValidationFailed(detail=f"{domain[:80]!r}: IP addresses are not allowed, use a host name")
    if wildcard and len(labels) < 2:
        raise ValidationFailed(detail=f"wildcard {domain[:80]!r} needs at least two labels after '*.'")
    if len(labels) < 2 and name not in _SINGLE_LABEL_OK:
        raise ValidationFailed(detail=f"{domain[:80]!r} is not a fully qualified domain name")
    return name


def normalize(host: str) -> str:
    """Lower case, no surrounding blanks, no trailing dot: the form stored and compared."""
    host = host.strip().lower()
    return host[:-1] if host.endswith(".") else host


def host_allowed(host: str, allowlist: Iterable[str]) -> bool:
    """Whether ``host`` (a name a function dials) is listed exactly or sits below a listed ``*.`` wildcard."""
    host = normalize(host)
    if not host or "*" in host or host.startswith(".") or ".." in host:
        return False
    for raw in allowlist:
        entry = normalize(raw)
        if entry.startswith("*."):
            if host.endswith(entry[1:]) and len(host) > len(entry) - 1:
                return True
        elif host == entry:
            return True
    return False
