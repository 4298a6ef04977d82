"""Partial updates: a request's fields that were given, told apart from ones left out (None is a value here)."""

from __future__ import annotations

from typing import Any

UNSET: Any = object()  # "not in the request": leave the stored value as it is (or default it on create)


class Changes:
    """Base of the frozen dataclasses that carry a create/update request's fields (FunctionChanges, ...)."""

    def given(self, name: str) -> bool:
        return getattr(self, name) is not UNSET
