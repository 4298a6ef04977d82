"""fngate get ..., fngate logs, fngate schedules: read the account's resources.

``logs`` and ``schedules`` call the spec's paths (/logs, /schedules); a gateway without those routes answers
404 "No route", which is reported as "not available on this gateway".
"""

from __future__ import annotations

import argparse
import re
import time
from typing import Any

from chalicelib.devcli.client import Api, ApiError
from chalicelib.devcli.commands import add_command
from chalicelib.devcli.errors import CliError, Exit, usage
from chalicelib.devcli.output import Output
from chalicelib.devcli.session import api_for

RESOURCES = ("functions", "deployments", "schedules", "secrets", "domains", "account", "events", "jobs")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
FOLLOW_INTERVAL_S = 2.0


def _optional_route(api: Api, what: str, method: str, path: str, body: Any = None, **kw: Any) -> Any:
    try:
        return api.call(method, path, body, **kw)
    except ApiError as err:
        if err.status in (404, 405) and err.message.startswith(("No route", "Method")):
            raise CliError(f"{what} are not available on this gateway ({api.url})", Exit.NOT_FOUND) from None
        raise


def _functions(api: Api, args: argparse.Namespace, out: Output) -> None:
    rows = [{**f, "deployment": (f.get("lastDeployment") or {}).get("deploymentState")} for f in api.functions()]
    out.table(rows, ["name", "state", "deployment", "eventId", "uuid", "updatedAt"])


def _deployments(api: Api, args: argparse.Namespace, out: Output) -> None:
    if args.name:
        fn = api.require(args.name)
        rows = api.call("GET", f"/functions/{fn['uuid']}/deployments")
        for row in rows:
            row["error"] = (row.get("deploymentError") or {}).get("message")
        out.table(rows, ["id", "deploymentState", "manifestVersion", "restoredFrom", "createdAt", "error"])
        return
    names = {f["uuid"]: f["name"] for f in api.functions()}
    rows = [{**d, "name": names.get(d.get("functionUuid"), "")} for d in api.call("GET", "/deployments")]
    out.table(rows, ["name", "id", "deploymentState", "manifestVersion", "createdAt"])


def _account(api: Api, args: argparse.Namespace, out: Output) -> None:
    info = {"account": api.account, "url": api.url, "functions": api.call("GET", "/functions/count"),
            "deployed": api.call("GET", "/deployments/count")}
    try:
        info["provisioning"] = api.call("GET", "/provisioning")
    except ApiError:
        info["provisioning"] = None  # admins only
    out.result(info, "\n".join(f"{k}: {v}" for k, v in info.items() if v is not None))


def _simple(path: str, columns: list[str], what: str) -> Any:
    def show(api: Api, args: argparse.Namespace, out: Output) -> None:
        out.table(_optional_route(api, what, "GET", path), columns)
    return show


def _jobs(api: Api, args: argparse.Namespace, out: Output) -> None:
    rows = api.call("GET", "/jobs", query={"state": "dead" if args.dead else "pending"})
    out.table(rows, ["id", "kind", "state", "attempts", "lastError", "updatedAt"])


_GETTERS = {
    "functions": _functions, "deployments": _deployments, "account": _account, "jobs": _jobs,
    "events": _simple("/events", ["eventId", "eventName", "lambdaLimit"], "events"),
    "secrets": _simple("/secrets", ["key", "value", "updatedAt", "updatedBy"], "secrets"),
    "domains": _simple("/domains", ["id", "domain", "name", "createdAt"], "allowlisted domains"),
    "schedules": _simple("/schedules", ["id", "functionUuid", "cronExpression", "isActive", "nextExecution",
                                        "lastExecution"], "schedules"),
}


def get(args: argparse.Namespace, out: Output) -> int:
    if args.name and args.resource != "deployments":
        raise usage("a function NAME is only taken by: fngate get deployments NAME")
    _GETTERS[args.resource](api_for(args), args, out)
    return Exit.OK


def parse_since(text: str, now: float | None = None) -> int:
    """``90s``, ``15m``, ``2h``, ``7d`` ago → epoch milliseconds."""
    match = re.fullmatch(r"(\d+)([smhd])", text.strip())
    if not match:
        raise usage(f"--since takes a duration like 30s, 15m, 2h or 7d, not {text!r}")
    now = time.time() if now is None else now
    return int((now - int(match.group(1)) * _UNITS[match.group(2)]) * 1000)


def logs(args: argparse.Namespace, out: Output) -> int:
    """A function's stored logs (GET /logs: pages of {logs, cursor}), oldest first; --follow polls for more."""
    api = api_for(args)
    uuid = api.require(args.name)["uuid"]
    start = parse_since(args.since)
    while True:
        query: dict[str, Any] = {"lambdaUUID": uuid, "startTimestamp": start, "endTimestamp": int(time.time() * 1000),
                                 "filterLevels": args.level or None, "order": "asc", "limit": 1000}
        while True:
            page = _optional_route(api, "logs", "GET", "/logs", query=query) or {}
            entries = page.get("logs", []) if isinstance(page, dict) else page
            for entry in entries:
                if out.as_json:
                    out.result(entry)
                else:
                    stamp = entry.get("timestamp") or entry.get("time") or ""
                    out.result(entry, f"{stamp} {entry.get('level', '')} {entry.get('message', '')}")
                start = max(start, int(entry.get("timestamp") or 0) + 1)
            cursor = page.get("cursor") if isinstance(page, dict) else None
            if not cursor:
                break
            query["cursor"] = cursor
        if not args.follow:
            return Exit.OK
        time.sleep(FOLLOW_INTERVAL_S)


def schedules(args: argparse.Namespace, out: Output) -> int:
    api = api_for(args)
    if args.action == "list":
        _GETTERS["schedules"](api, args, out)
        return Exit.OK
    if not args.target:
        raise usage(f"fngate schedules {args.action} needs " + ("a function NAME" if args.action == "create"
                                                                else "a schedule ID"))
    if args.action == "delete":
        _optional_route(api, "schedules", "DELETE", f"/schedules/{args.target}")
        out.result({"id": args.target, "deleted": True}, f"Deleted schedule {args.target}.")
        return Exit.OK
    if not args.cron:
        raise usage("fngate schedules create NAME --cron '*/5 * * * *'")
    uuid = api.require(args.target)["uuid"]
    body = {"functionUuid": uuid, "lambdaUUID": uuid, "cronExpression": args.cron, "isActive": True,
            "description": args.description or "", "timeZone": args.time_zone}
    created = _optional_route(api, "schedules", "POST", "/schedules", body)
    out.result(created, f"Scheduled {args.target}: {args.cron} ({args.time_zone}), id {created.get('id')}")
    return Exit.OK


def register(sub: Any, parents: list[argparse.ArgumentParser]) -> None:
    p = add_command(sub, "get", get, "list the account's " + ", ".join(RESOURCES), """
        fngate get functions
        fngate get deployments hello       # one function's history (ids for rollback --to)
        fngate get jobs --dead             # background work that failed for good
        fngate get events --json
        """, parents)
    p.add_argument("resource", choices=RESOURCES)
    p.add_argument("name", nargs="?", metavar="NAME", help="with deployments: one function's history")
    p.add_argument("--dead", action="store_true", help="with jobs: the dead-lettered ones")
    p = add_command(sub, "logs", logs, "show a function's stored logs (needs the gateway's logs API)", """
        fngate logs hello --since 1h
        fngate logs hello --follow --level Error
        """, parents)
    p.add_argument("name", metavar="NAME")
    p.add_argument("--since", default="1h", help="how far back: 30s, 15m, 2h, 7d (default 1h)")
    p.add_argument("--follow", "-f", action="store_true", help="keep printing new entries")
    p.add_argument("--level", action="append", choices=["Debug", "Info", "Warn", "Error"])
    p = add_command(sub, "schedules", schedules, "create, list or delete cron schedules (needs the gateway's "
                    "schedules API)", """
        fngate schedules create hello --cron '*/5 * * * *'
        fngate schedules list
        fngate schedules delete 12
        """, parents)
    p.add_argument("action", choices=["create", "list", "delete"])
    p.add_argument("target", nargs="?", metavar="NAME|ID", help="create: function name; delete: schedule id")
    p.add_argument("--cron", help="cron expression (UTC unless --time-zone)")
    p.add_argument("--time-zone", default="Etc/UTC")
    p.add_argument("--description")
