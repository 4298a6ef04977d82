"""fngate deploy / undeploy / rollback / delete: start the change, wait until it is live, report the cause on failure.

Deploys are jobs on the gateway: the request answers at once and the function's ``lastDeployment`` moves from
deploying to successful or failed (its ``deploymentError.message`` says why). The commands poll it.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from chalicelib.devcli.client import Api
from chalicelib.devcli.commands import add_command
from chalicelib.devcli.commands.sync import confirm
from chalicelib.devcli.errors import CliError, Exit, usage
from chalicelib.devcli.output import Output
from chalicelib.devcli.session import api_for

SETTLED = ("successful", "failed")
ROLLBACK_SOURCES = ("successful", "undeployed")


def _last(fn: dict[str, Any]) -> dict[str, Any]:
    return fn.get("lastDeployment") or {}


def _progress(out: Output, name: str) -> Callable[[dict[str, Any]], None]:
    def show(fn: dict[str, Any]) -> None:
        dep = _last(fn).get("deploymentState")
        out.progress(f"  {name}: {fn.get('state')}" + (f" (deployment {dep})" if dep else ""))
    return show


def _failure(name: str, fn: dict[str, Any]) -> CliError:
    error = _last(fn).get("deploymentError") or {}
    cause = error.get("message") or "no cause recorded"
    logs = error.get("errorLogs") or []
    details = "".join(f"\n    {log.get('level', '')}: {log.get('message', '')}" for log in logs[:10])
    return CliError(f"{name}: {fn.get('state')}: {cause}{details}", Exit.FAILED, details=fn,
                    hint="fix the code, fngate push, then deploy again (fngate invoke --local helps)")


def _wait_deployed(api: Api, args: argparse.Namespace, out: Output, name: str, uuid: str,
                   before: int | None) -> dict[str, Any]:
    def done(fn: dict[str, Any]) -> bool:
        last = _last(fn)
        return last.get("id") != before and last.get("deploymentState") in SETTLED

    fn = api.wait_for(uuid, done, timeout_s=args.timeout, on_change=_progress(out, name))
    if _last(fn).get("deploymentState") != "successful":
        raise _failure(name, fn)
    return fn


def _summary(fn: dict[str, Any]) -> dict[str, Any]:
    last = _last(fn)
    return {"name": fn.get("name"), "uuid": fn.get("uuid"), "state": fn.get("state"),
            "deploymentId": last.get("id"), "deploymentState": last.get("deploymentState"),
            "manifestVersion": last.get("manifestVersion")}


def deploy(args: argparse.Namespace, out: Output) -> int:
    api = api_for(args)
    results = []
    for name in args.names:
        fn = api.function(api.require(name)["uuid"])
        before = _last(fn).get("id")
        api.call("PATCH" if fn.get("state") == "Modified" else "POST", f"/deployments/{fn['uuid']}")
        out.progress(f"deploying {name} ...")
        if args.no_wait:
            results.append({"name": name, "uuid": fn["uuid"], "state": "deploying"})
            continue
        done = _wait_deployed(api, args, out, name, fn["uuid"], before)
        results.append(_summary(done))
        out.progress(f"deployed {name}: {done.get('state')}")
    out.result(results, "\n".join(f"{r['name']}: {r['state']}" for r in results))
    return Exit.OK


def undeploy(args: argparse.Namespace, out: Output) -> int:
    api = api_for(args)
    results = []
    for name in args.names:
        uuid = api.require(name)["uuid"]
        api.call("DELETE", f"/deployments/{uuid}")
        out.progress(f"undeploying {name} ...")
        if args.no_wait:
            results.append({"name": name, "uuid": uuid, "state": "Marked Undeployed"})
            continue
        fn = api.wait_for(uuid, lambda f: f.get("state") in ("Draft", "Deploy Error")
                          and _last(f).get("deploymentState") != "undeploying",
                          timeout_s=args.timeout, on_change=_progress(out, name))
        if fn.get("state") != "Draft":
            raise _failure(name, fn)
        results.append(_summary(fn))
    out.result(results, "\n".join(f"{r['name']}: {r['state']} (undeployed)" for r in results))
    return Exit.OK


def _rollback_source(history: list[dict[str, Any]], live_id: int | None, to: int | None) -> dict[str, Any]:
    if to is not None:
        found = [d for d in history if d.get("id") == to]
        if not found:
            raise CliError(f"no deployment {to} in the history (last {len(history)} kept)", Exit.NOT_FOUND,
                           hint="fngate get deployments NAME lists them")
        return found[0]
    earlier = [d for d in history if d.get("deploymentState") in ROLLBACK_SOURCES
               and (live_id is None or d.get("id", 0) < live_id)]
    if not earlier:
        raise CliError("no earlier successful deployment to roll back to", Exit.NOT_FOUND,
                       hint="fngate get deployments NAME lists the history")
    return earlier[0]


def rollback(args: argparse.Namespace, out: Output) -> int:
    api = api_for(args)
    fn = api.function(api.require(args.name)["uuid"])
    uuid, last = fn["uuid"], _last(fn)
    history = api.call("GET", f"/functions/{uuid}/deployments")
    live_id = last.get("id") if last.get("deploymentState") == "successful" else None
    source = _rollback_source(history, live_id, args.to)
    api.call("POST", f"/functions/{uuid}/deployments/{source['id']}/rollback")
    out.progress(f"rolling {args.name} back to deployment {source['id']} (manifest version "
                 f"{source.get('manifestVersion')}) ...")
    done = _wait_deployed(api, args, out, args.name, uuid, last.get("id"))
    result = {**_summary(done), "restoredFrom": source["id"]}
    out.result(result, f"{args.name}: {done.get('state')} with the code of deployment {source['id']}")
    return Exit.OK


def delete(args: argparse.Namespace, out: Output) -> int:
    api = api_for(args)
    fn = api.require(args.name)
    confirm(args, f"Delete function {args.name} ({fn['uuid']}) from {api.url}? Its versions and history go too.")
    api.call("DELETE", f"/functions/{fn['uuid']}")
    out.result({"name": args.name, "uuid": fn["uuid"], "deleted": True}, f"Deleted {args.name}.")
    return Exit.OK


def _positive(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise usage(f"not a number: {value}") from None
    if number <= 0:
        raise argparse.ArgumentTypeError("must be > 0")
    return number


def register(sub: Any, parents: list[argparse.ArgumentParser]) -> None:
    for name, handler, help_text, examples in (
        ("deploy", deploy, "deploy functions and wait until they are live (Build/Deploy Error: cause, exit 1)", """
            fngate deploy hello
            fngate deploy hello greeter --timeout 120
            fngate deploy hello --no-wait      # start it; fngate get functions shows the state
            """),
        ("undeploy", undeploy, "undeploy functions and wait until they are Draft", """
            fngate undeploy hello
            """),
    ):
        p = add_command(sub, name, handler, help_text, examples, parents)
        p.add_argument("names", nargs="+", metavar="NAME")
        p.add_argument("--timeout", type=_positive, default=300, metavar="SECONDS", help="default 300")
        p.add_argument("--no-wait", action="store_true", help="start the change and return")
    p = add_command(sub, "rollback", rollback, "make an earlier deployment's code live again (default: the one "
                    "before the live one)", """
            fngate rollback hello
            fngate rollback hello --to 3       # deployment id, from: fngate get deployments hello
            """, parents)
    p.add_argument("name", metavar="NAME")
    p.add_argument("--to", type=int, metavar="ID", help="deployment id to restore")
    p.add_argument("--timeout", type=_positive, default=300, metavar="SECONDS", help="default 300")
    p = add_command(sub, "delete", delete, "delete an undeployed function from the gateway (asks first)", """
            fngate undeploy hello && fngate delete hello --yes
            """, parents)
    p.add_argument("name", metavar="NAME")
    p.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
