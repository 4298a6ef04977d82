"""The developer workflow of the `fngate` command: login, init, push/pull, deploy, invoke, get, admin users/keys.

``register(sub, admin_sub)`` adds the subcommands to the parser of ``chalicelib/cli.py``. Each command is
``handler(args, out) -> int`` and runs inside ``commands.run_command``, the one place errors become an exit code and
a line on stderr (``--json``: also an ``{"error": ...}`` object on stdout) — never a traceback (``FNGATE_DEBUG=1``
shows one).
"""

from __future__ import annotations

from chalicelib.devcli.commands import register

__all__ = ["register"]
