"""fngate invoke: a test invocation on the gateway ({result, logs}), or --local: the folder run on this machine in
the gateway's worker code with secrets from functions/settings.json; --watch reruns it on every save."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from chalicelib.devcli.client import ApiError
from chalicelib.devcli.commands import add_command
from chalicelib.devcli.errors import CliError, Exit, usage
from chalicelib.devcli.output import Output
from chalicelib.devcli.project import LocalFunction, Project
from chalicelib.devcli.session import api_for

WATCH_INTERVAL_S = 0.3


def _event(args: argparse.Namespace, fn: LocalFunction | None) -> dict[str, Any]:
    """The invocation body: --payload (a {headers, payload} object, or just the payload), else config.json input."""
    if args.payload is None:
        return fn.input if fn else {"headers": [], "payload": {}}
    try:
        text = sys.stdin.read() if args.payload == "-" else Path(args.payload).read_text()
    except OSError as err:
        raise usage(f"cannot read the payload file {args.payload}: {err.strerror}") from None
    try:
        data = json.loads(text) if text.strip() else {}
    except ValueError as err:
        raise usage(f"the payload is not JSON: {err}") from None
    if isinstance(data, dict) and "payload" in data and set(data) <= {"headers", "payload", "timestamp"}:
        return {"headers": data.get("headers") or [], "payload": data["payload"]}
    return {"headers": [], "payload": data}


def _show(out: Output, name: str, answer: dict[str, Any]) -> None:
    if not out.as_json:
        for log in answer.get("logs") or []:
            extras = log.get("extras")
            out.progress(f"[{log.get('level', '')}] {log.get('message', '')}" + (f" {json.dumps(extras)}"
                                                                                 if extras else ""))
    out.result(answer if out.as_json else answer.get("result"),
               None if out.as_json else json.dumps(answer.get("result"), indent=2))


def _failed(name: str, code: str, message: str, logs: list[dict[str, Any]]) -> CliError:
    return CliError(f"{name} failed: {code}: {message}", Exit.FAILED, details={"errorLogs": logs, "errorCode": code},
                    hint="the logs above are the function's own" if logs else "")


def _remote(args: argparse.Namespace, out: Output) -> int:
    fn = None
    try:
        fn = Project.find().load(args.name) if args.payload is None else None
    except CliError:
        fn = None  # no local folder: the gateway's function with an empty input
    api = api_for(args)
    uuid = api.require(args.name)["uuid"]
    try:
        answer = api.call("POST", f"/functions/{uuid}/test", _event(args, fn))
    except ApiError as err:
        if err.status != 901:
            raise
        _print_logs(out, err.body.get("errorLogs") or [])
        raise _failed(args.name, err.error_code, err.message, err.body.get("errorLogs") or []) from None
    _show(out, args.name, answer)
    return Exit.OK


def _print_logs(out: Output, logs: list[dict[str, Any]]) -> None:
    if not out.as_json:
        for log in logs:
            out.progress(f"[{log.get('level', '')}] {log.get('message', '')}")


def _run_local(runner: Any, project: Project, args: argparse.Namespace, out: Output) -> int:
    from chalicelib.domain.errors import FngateError, FunctionFailed

    fn = project.load(args.name)
    try:
        answer = runner.run(fn, _event(args, fn))
    except FunctionFailed as err:
        logs = list(getattr(err, "logs", None) or [])
        _print_logs(out, logs)
        raise _failed(args.name, err.v2_code, str(err), logs) from None
    except FngateError as err:
        raise CliError(f"{args.name} could not run: {err}", Exit.FAILED) from None
    _show(out, args.name, answer)
    return Exit.OK


def _fingerprint(project: Project, name: str) -> tuple[float, ...]:
    folder = project.functions_dir / name
    files = [*sorted(folder.iterdir()), project.settings_path] if folder.is_dir() else [project.settings_path]
    return tuple(f.stat().st_mtime_ns for f in files if f.is_file())


def _local(args: argparse.Namespace, out: Output) -> int:
    from chalicelib.config import Settings
    from chalicelib.devcli.local_invoke import LocalRunner

    project = Project.find()
    project.load(args.name)  # a clear error before any worker starts
    settings = Settings.from_env()
    runner = LocalRunner(project, insecure_sandbox=args.insecure_sandbox or settings.insecure_sandbox,
                         timeout_s=settings.function_timeout_s)
    try:
        if not args.watch:
            return _run_local(runner, project, args, out)
        seen: tuple[float, ...] = ()
        while True:
            now = _fingerprint(project, args.name)
            if now != seen:
                seen = now
                out.progress(f"--- {time.strftime('%H:%M:%S')} running {args.name} (Ctrl-C to stop)")
                try:
                    _run_local(runner, project, args, out)
                except CliError as err:
                    out.progress(f"fngate: {err.message}")
            time.sleep(WATCH_INTERVAL_S)
    except KeyboardInterrupt:
        return Exit.OK
    finally:
        runner.close()


def invoke(args: argparse.Namespace, out: Output) -> int:
    if args.watch and not args.local:
        raise usage("--watch reruns the local folder: use it with --local")
    if args.watch and args.payload == "-":
        raise usage("--watch cannot read the payload from stdin more than once: give a file")
    return _local(args, out) if args.local else _remote(args, out)


def register(sub: Any, parents: list[argparse.ArgumentParser]) -> None:
    p = add_command(sub, "invoke", invoke, "run a function: on the gateway (test invocation with logs) or "
                    "--local from its folder", """
        fngate invoke hello                              # the deployed function, input from config.json
        echo '{"payload": {"name": "x"}}' | fngate invoke hello --payload -
        fngate invoke hello --local                      # no server; secrets from functions/settings.json
        fngate invoke hello --local --watch              # rerun on every save
        """, parents)
    p.add_argument("name", metavar="NAME")
    p.add_argument("--payload", metavar="FILE", help="JSON input file, or - for stdin: {headers, payload} or the "
                                                     "payload alone (default: config.json input)")
    p.add_argument("--local", action="store_true", help="run the folder here, in the gateway's worker code")
    p.add_argument("--watch", action="store_true", help="with --local: rerun whenever the folder changes")
    p.add_argument("--insecure-sandbox", action="store_true",
                   help="with --local: run without the sandbox layers this machine lacks (no root)")
