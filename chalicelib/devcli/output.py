"""What commands print: results on stdout (text or ``--json``), progress and logs on stderr."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any, TextIO


class Output:
    def __init__(self, as_json: bool = False, out: TextIO | None = None, err: TextIO | None = None) -> None:
        self.as_json = as_json
        self._out, self._err = out or sys.stdout, err or sys.stderr

    def result(self, data: Any, text: str | None = None) -> None:
        """The command's answer: ``data`` as JSON with --json, else ``text`` (or ``data`` pretty-printed)."""
        if self.as_json or text is None:
            self._out.write(json.dumps(data, indent=None if self.as_json else 2, default=str) + "\n")
        elif text:
            self._out.write(text if text.endswith("\n") else text + "\n")
        self._out.flush()

    def table(self, rows: Sequence[dict[str, Any]], columns: Sequence[str], data: Any = None) -> None:
        if self.as_json:
            self.result(rows if data is None else data)
            return
        if not rows:
            self.result(rows, "(none)")
            return
        cells = [[_cell(row.get(c)) for c in columns] for row in rows]
        widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
        lines = ["  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip()]
        lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in cells]
        self.result(rows, "\n".join(lines))

    def progress(self, message: str) -> None:
        """Progress of long work: stderr, so stdout stays the answer (also with --json)."""
        self._err.write(message + "\n")
        self._err.flush()

    def warn(self, message: str) -> None:
        self.progress(f"warning: {message}")


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, list | dict):
        return json.dumps(value)
    return str(value)
