"""fngate init: a function folder from its event's template, in the layout lpf uses (see devcli/project.py)."""

from __future__ import annotations

import argparse
from typing import Any

from chalicelib.devcli.commands import add_command
from chalicelib.devcli.errors import CliError, Exit, usage
from chalicelib.devcli.output import Output
from chalicelib.devcli.project import LocalFunction, Project, new_config

NAME_HELP = "letters, digits, '-' and '_' (the function's name on the gateway and its folder name)"


def init(args: argparse.Namespace, out: Output) -> int:
    import re

    from chalicelib.domain.events import EVENTS, EVENTS_BY_ID, template
    from chalicelib.domain.limits import NAME_PATTERN
    from chalicelib.domain.runtimes import NODE, PYTHON

    if not re.match(NAME_PATTERN, args.name) or len(args.name) > 50:
        raise usage(f"invalid function name {args.name!r}: {NAME_HELP}, at most 50")
    event = None
    if args.event not in (None, "none", "No Event"):
        event = EVENTS_BY_ID.get(args.event)
        if event is None:
            raise usage(f"unknown event {args.event!r}", hint="events: none, " + ", ".join(e.event_id for e in EVENTS))
    language = "python" if args.runtime == "python" else "node"
    project = Project.here_or_new()
    if project.exists(args.name):
        raise CliError(f"functions/{args.name} already exists in {project.root}", Exit.CONFLICT,
                       hint="pick another name, or edit the folder that is there")
    project.ensure_scaffold()
    code = template(event, PYTHON if language == "python" else NODE)
    payload = event.sample_payload if event else {}
    config = new_config(args.name, event.event_id if event else None, args.description or
                        (event.name if event else "A new function"), payload, language)
    fn = LocalFunction(args.name, project.functions_dir / args.name, language, code, config)
    project.write(fn)
    files = [str(p.relative_to(project.root)) for p in (fn.code_file, fn.folder / "config.json",
                                                           project.settings_path)]
    out.result({"name": fn.name, "runtime": fn.runtime, "event": fn.event, "root": str(project.root),
                "files": files},
               f"Created {', '.join(files)} in {project.root}\n"
               f"Next: fngate invoke {fn.name} --local   then   fngate push {fn.name} && fngate deploy {fn.name}")
    return Exit.OK


def register(sub: Any, parents: list[argparse.ArgumentParser]) -> None:
    p = add_command(sub, "init", init, "scaffold a function folder (functions/NAME) from an event's template", """
        fngate init hello                                          # Node.js, no event
        fngate init greeter --event conversational_command --runtime python
        fngate get events                                          # the event ids
        """, parents)
    p.add_argument("name", help=NAME_HELP)
    p.add_argument("--event", default="none", help="event id the function reacts to (default: none)")
    p.add_argument("--runtime", choices=["node", "python"], default="node", help="default: node")
    p.add_argument("--description", help="default: the event's name")
