"""Subcommand registration and the error boundary shared by every developer command."""

from __future__ import annotations

import argparse
import json
import os
import sys
import textwrap
import traceback
from collections.abc import Callable
from typing import Any

from chalicelib.devcli.errors import CliError, Exit
from chalicelib.devcli.output import Output

Handler = Callable[[argparse.Namespace, Output], int]
ENV_DEBUG = "FNGATE_DEBUG"


def common_options() -> argparse.ArgumentParser:
    """Options every developer command takes, wherever they appear on the line."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", help="machine output: one JSON document on stdout")
    common.add_argument("--profile", help="login profile to use (default: $FNGATE_PROFILE, else the current one)")
    return common


def add_command(sub: Any, name: str, handler: Handler, help_text: str, examples: str,
                parents: list[argparse.ArgumentParser] | None = None, **kw: Any) -> argparse.ArgumentParser:
    parser = sub.add_parser(name, help=help_text, description=help_text, parents=parents or [],
                            formatter_class=argparse.RawDescriptionHelpFormatter,
                            epilog="examples:\n" + textwrap.indent(textwrap.dedent(examples).strip(), "  "), **kw)
    parser.set_defaults(func=lambda args: run_command(handler, args))
    return parser


def run_command(handler: Handler, args: argparse.Namespace) -> int:
    out = Output(as_json=bool(getattr(args, "json", False)))
    try:
        return int(handler(args, out))
    except KeyboardInterrupt:
        return 130
    except CliError as err:
        return _report(out, err.message, err.code, err.hint, err)
    except Exception as err:  # domain errors of local runs and anything unexpected: one line, no traceback
        from chalicelib.domain.errors import FngateError

        if os.environ.get(ENV_DEBUG):
            traceback.print_exc()
        if isinstance(err, FngateError):
            return _report(out, str(err), Exit.USAGE if err.status < 500 else Exit.SERVER, "", None)
        if isinstance(err, OSError):
            return _report(out, f"{err.strerror or err}: {err.filename or ''}".rstrip(": "), Exit.FAILED, "", None)
        return _report(out, f"internal error: {type(err).__name__}: {err}", Exit.SERVER,
                       f"set {ENV_DEBUG}=1 to see where", None)


def _report(out: Output, message: str, code: Exit, hint: str, err: CliError | None) -> int:
    if out.as_json:
        body: dict[str, Any] = {"message": message, "exitCode": int(code), "kind": code.name.lower()}
        if hint:
            body["hint"] = hint
        status = getattr(err, "status", None)
        if status is not None:
            body["status"], body["errorCode"] = status, getattr(err, "error_code", "")
        details = err.details if err is not None and isinstance(err.details, dict) else {}
        if details.get("errorCode") and "errorCode" not in body:
            body["errorCode"] = details["errorCode"]
        if details.get("errorLogs"):
            body["logs"] = details["errorLogs"]
        sys.stdout.write(json.dumps({"error": body}) + "\n")
    sys.stderr.write(f"fngate: {message}\n")
    if hint:
        sys.stderr.write(f"  hint: {hint}\n")
    return int(code)


def exit_codes_help() -> str:
    return "exit codes:\n" + "\n".join(f"  {int(code):>2}  {code.name.lower().replace('_', ' ')}" for code in Exit)


def register(sub: Any, admin_sub: Any) -> None:
    from chalicelib.devcli.commands import admin, auth, aws, deploys, get, invoke, scaffold, sync

    common = common_options()
    for module in (auth, scaffold, sync, deploys, invoke, get, aws):
        module.register(sub, [common])
    admin.register(admin_sub, [common])
