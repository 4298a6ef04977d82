"""Supported function runtimes and their entry-point rule (the "first line" rule of management-api.md §7)."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Runtime:
    id: str  # V2 manifest `runtime` (≤ 20 chars)
    uuid: str  # V1 runtime object uuid
    name: str
    base_image: str
    language: str  # "node" | "python"
    first_line: re.Pattern[str]
    first_line_help: str


NODE = Runtime(
    id="nodejs20",
    uuid="8a1e4f0c-4c1b-4b8e-9a53-0f1a0d6c2b01",
    name="Node.js 20",
    base_image="fngate/node20-worker:latest",
    language="node",
    first_line=re.compile(r"^\s*(async\s+)?function\s+lambda\s*\(\s*input\s*(,\s*callback\s*)?\)\s*\{\s*$"),
    first_line_help="function lambda(input, callback) {   or   async function lambda(input) {",
)
PYTHON = Runtime(
    id="python3.11",
    uuid="8a1e4f0c-4c1b-4b8e-9a53-0f1a0d6c2b02",
    name="Python 3.11",
    base_image="fngate/python311-worker:latest",
    language="python",
    first_line=re.compile(r"^\s*(async\s+)?def\s+lambda_handler\s*\(\s*input\s*(,\s*callback\s*)?\)\s*(->\s*[^:]+)?:\s*$"),
    first_line_help="def lambda_handler(input, callback):   or   async def lambda_handler(input):",
)
RUNTIMES: tuple[Runtime, ...] = (NODE, PYTHON)  # lpf 1.x takes element 0: Node first
_BY_KEY = {key: rt for rt in RUNTIMES for key in (rt.id, rt.uuid, rt.name, rt.name.lower())}
_ALIASES = {"node": NODE, "nodejs": NODE, "javascript": NODE, "python": PYTHON, "python3": PYTHON}


def find_runtime(key: str | None) -> Runtime | None:
    """Look up by id, V1 uuid, display name or a short alias; older LivePerson names ("Node.js 10") map to Node."""
    if not key:
        return NODE
    key = key.strip()
    if key in _BY_KEY:
        return _BY_KEY[key]
    low = key.lower()
    if low in _ALIASES or low in _BY_KEY:
        return _ALIASES.get(low) or _BY_KEY[low]
    if low.startswith("node"):
        return NODE
    if low.startswith("python"):
        return PYTHON
    return None
