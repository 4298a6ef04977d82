"""fngate push / pull: local function folders ⇄ the gateway, with a summary of what changes and a confirmation."""

from __future__ import annotations

import argparse
import difflib
import sys
from pathlib import Path
from typing import Any

from chalicelib.devcli.client import Api
from chalicelib.devcli.commands import add_command
from chalicelib.devcli.errors import CliError, Exit, usage
from chalicelib.devcli.output import Output
from chalicelib.devcli.project import LocalFunction, Project, dict_to_pairs, language_of, pairs_to_dict
from chalicelib.devcli.session import api_for


def selected_names(args: argparse.Namespace, project: Project, available: list[str], verb: str) -> list[str]:
    """NAMES, --all, or (as lpf does) the function folder the command runs in."""
    if args.names and args.all:
        raise usage("give function names or --all, not both")
    if args.all:
        return available
    if args.names:
        return list(dict.fromkeys(args.names))
    here = Path.cwd().resolve()
    if here.parent == project.functions_dir.resolve():
        return [here.name]
    raise usage(f"which functions? give NAMES or --all (or run fngate {verb} inside functions/NAME)")


def confirm(args: argparse.Namespace, question: str) -> None:
    if args.yes:
        return
    if not sys.stdin.isatty():
        raise CliError(f"{question} — not confirmed (stdin is not a terminal)", Exit.ABORTED,
                       hint="pass --yes to go ahead without asking")
    sys.stderr.write(f"{question} [y/N] ")
    sys.stderr.flush()
    if sys.stdin.readline().strip().lower() not in ("y", "yes"):
        raise CliError("cancelled", Exit.ABORTED)


def _line_diff(old: str, new: str) -> str:
    added = removed = 0
    for line in difflib.ndiff(old.splitlines(), new.splitlines()):
        added += line.startswith("+ ")
        removed += line.startswith("- ")
    return f"code (+{added} -{removed} lines)"


def _push_plan(api: Api, fn: LocalFunction, remote: dict[str, Any] | None) -> dict[str, Any]:
    plan: dict[str, Any] = {"name": fn.name, "uuid": remote["uuid"] if remote else None, "changes": [],
                            "meta": {}, "manifest": {}}
    if remote is None:
        plan["action"] = "create"
        plan["changes"] = [f"new {fn.runtime} function" + (f" for event {fn.event}" if fn.event else "")]
        return plan
    old = api.lambda_v1(remote["uuid"])
    impl = old.get("implementation") or {}
    if (old.get("eventId") or None) != fn.event:
        raise CliError(f"{fn.name}: the event of a function cannot change after it is created "
                       f"(gateway: {old.get('eventId') or 'none'}, folder: {fn.event or 'none'})", Exit.CONFLICT,
                       hint="create a function under a new name for the other event")
    if impl.get("code") != fn.code:
        plan["changes"].append(_line_diff(impl.get("code") or "", fn.code))
        plan["manifest"]["code"] = fn.code
    if pairs_to_dict(impl.get("environmentVariables"), "environment") != fn.environment:
        plan["changes"].append("environment variables")
        plan["manifest"]["environment"] = fn.environment
    if pairs_to_dict(impl.get("dependencies"), "dependencies") != fn.dependencies:
        plan["changes"].append("dependencies")
        plan["manifest"]["customDependencies"] = fn.dependencies
    if language_of((old.get("runtime") or {}).get("name")) != fn.language:
        plan["changes"].append(f"runtime → {fn.runtime}")
        plan["manifest"]["runtime"] = fn.runtime
    if (old.get("description") or "") != fn.description:
        plan["changes"].append("description")
        plan["meta"]["description"] = fn.description
    if fn.input != (old.get("samplePayload") or {"headers": [], "payload": {}}):
        plan["changes"].append("sample input")
        plan["meta"]["samplePayload"] = fn.input
    plan["action"] = "update" if plan["changes"] else "unchanged"
    return plan


def _apply_push(api: Api, fn: LocalFunction, plan: dict[str, Any]) -> dict[str, Any]:
    if plan["action"] == "create":
        body = {"name": fn.name, "description": fn.description, "runtime": fn.runtime, "code": fn.code,
                "environment": fn.environment, "samplePayload": fn.input, "customDependencies": fn.dependencies}
        if fn.event:
            body["eventId"] = fn.event
        created = api.call("POST", "/functions", body)
        return {"uuid": created["uuid"], "state": created.get("state")}
    uuid = plan["uuid"]
    if plan["meta"]:
        api.call("PUT", f"/functions/{uuid}", plan["meta"])
    if plan["manifest"]:
        manifest = api.function(uuid)["manifest"]
        api.call("PUT", f"/functions/{uuid}/manifest",
                 {"version": manifest["version"], "id": manifest["id"], **plan["manifest"]})
    return {"uuid": uuid, "state": api.function(uuid).get("state")}


def push(args: argparse.Namespace, out: Output) -> int:
    project = Project.find()
    names = selected_names(args, project, project.names(), "push")
    local = [project.load(n) for n in names]
    api = api_for(args)
    remote = {f["name"]: f for f in api.functions()}
    plans = [_push_plan(api, fn, remote.get(fn.name)) for fn in local]
    todo = [p for p in plans if p["action"] != "unchanged"]
    for plan in plans:
        out.progress(f"  {plan['name']}: {plan['action']}" + (f" — {', '.join(plan['changes'])}"
                                                               if plan["changes"] else ""))
    if todo:
        confirm(args, f"Push {len(todo)} function(s) to {api.url} (account {api.account})?")
    results = []
    for fn, plan in zip(local, plans, strict=True):
        done = _apply_push(api, fn, plan) if plan["action"] != "unchanged" else {"uuid": plan["uuid"]}
        results.append({"name": fn.name, "action": plan["action"], "changes": plan["changes"], **done})
        if plan["action"] != "unchanged":
            out.progress(f"pushed {fn.name} ({done.get('state')})")
    text = (f"Pushed {len(todo)} of {len(plans)} function(s)." if todo else "Nothing to push: the gateway has "
            "what the folders have.")
    if todo:
        text += f" Next: fngate deploy {' '.join(r['name'] for r in results if r['action'] != 'unchanged')}"
    out.result(results, text)
    return Exit.OK


def _pulled(project: Project, remote: dict[str, Any]) -> LocalFunction:
    impl = remote.get("implementation") or {}
    language = language_of((remote.get("runtime") or {}).get("name")) or "node"
    folder = project.functions_dir / remote["name"]
    config: dict[str, Any] = {}
    if (folder / "config.json").exists():
        config = project.load(remote["name"]).config  # keep fields fngate does not own
    sample = remote.get("samplePayload") or {}
    config.update({"name": remote["name"], "event": remote.get("eventId") or "No Event",
                   "description": remote.get("description") or "",
                   "input": sample if sample else config.get("input", {"headers": [], "payload": {}}),
                   "environmentVariables": dict_to_pairs(pairs_to_dict(impl.get("environmentVariables"), "env")),
                   "dependencies": impl.get("dependencies") or [], "runtime": {"node": "nodejs20"}.get(language,
                                                                                                     "python3.11")})
    return LocalFunction(remote["name"], folder, language, impl.get("code") or "", config)


def pull(args: argparse.Namespace, out: Output) -> int:
    project = Project.here_or_new()
    api = api_for(args)
    remote = {f["name"]: f for f in api.functions()}
    names = selected_names(args, project, sorted(remote), "pull")
    missing = [n for n in names if n not in remote]
    if missing:
        raise CliError(f"no function named {', '.join(missing)} on account {api.account}", Exit.NOT_FOUND,
                       hint="fngate get functions lists them")
    pulled = [_pulled(project, api.lambda_v1(remote[n]["uuid"])) for n in names]
    changed = []
    for fn in pulled:
        if project.exists(fn.name):
            old = project.load(fn.name)
            if (old.code, old.config, old.language) != (fn.code, fn.config, fn.language):
                changed.append(fn.name)
    if changed:
        out.progress(f"  will overwrite local changes in: {', '.join(changed)}")
        confirm(args, f"Overwrite {len(changed)} local function folder(s)?")
    project.ensure_scaffold()
    for fn in pulled:
        project.write(fn)
    rows = [{"name": fn.name, "runtime": fn.runtime, "folder": str(fn.folder.relative_to(project.root))}
            for fn in pulled]
    out.result(rows, f"Pulled {len(rows)} function(s) into {project.functions_dir}.")
    return Exit.OK


def register(sub: Any, parents: list[argparse.ArgumentParser]) -> None:
    for name, handler, help_text, examples in (
        ("push", push, "create or update functions on the gateway from their folders (shows what changes)", """
            fngate push hello                 # asks before changing anything
            fngate push --all --yes           # every folder under functions/, no question
            """),
        ("pull", pull, "write functions from the gateway into functions/NAME folders", """
            fngate pull hello
            fngate pull --all --yes           # overwrite local changes without asking
            """),
    ):
        p = add_command(sub, name, handler, help_text, examples, parents)
        p.add_argument("names", nargs="*", metavar="NAME", help="function names (default: the folder you are in)")
        p.add_argument("--all", action="store_true", help="every function")
        p.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
