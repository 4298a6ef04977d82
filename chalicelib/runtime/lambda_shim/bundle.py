"""The bundle: what a worker runs — its format lives here only (the shim reads it, LambdaExecutor builds it)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

RUNTIME_FILE = "runtime.json"
CODE_FILES = {"python": "function.py", "node": "function.js"}
BUNDLE_KEYS = ("runtime", "language", "code", "env", "limits", "deps")


class ShimError(Exception):
    """The platform cannot run the function (no code, a missing binary): not the function's fault."""


def bundle_digest(bundle: dict[str, Any]) -> str:
    """A stable digest of what a worker runs: the shim reloads its worker only when this changes."""
    canonical = {key: bundle.get(key) for key in BUNDLE_KEYS}
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def package_files(bundle: dict[str, Any]) -> dict[str, bytes]:
    """The bundle as files at the package root: runtime.json and function.py / function.js."""
    meta = {key: bundle[key] for key in BUNDLE_KEYS if key != "code" and key in bundle}
    return {RUNTIME_FILE: json.dumps(meta, sort_keys=True, indent=1).encode(),
            CODE_FILES[bundle["language"]]: str(bundle["code"]).encode()}


def read_package(root: Path) -> dict[str, Any] | None:
    """The bundle a zip package carries, or None when there is none (image mode)."""
    meta_path = root / RUNTIME_FILE
    if not meta_path.is_file():
        return None
    try:
        meta = json.loads(meta_path.read_text("utf-8"))
        return {**meta, "code": (root / CODE_FILES[meta["language"]]).read_text("utf-8")}
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ShimError(f"The packaged function is unreadable: {err}") from None
