"""`fngate aws plan`: every AWS resource fngate would have, read offline from the project and a store.

Two kinds: the stack's (the merged template; `fngate aws deploy` creates or updates them through a change set) and
the run-time ones the gateway creates as functions are deployed and schedules saved: one execution role per
account, one Lambda and log group per deployed function, one EventBridge Scheduler schedule per schedule. Their
names come from chalicelib/aws/names.py and scheduler/eventbridge.py, the same code the gateway runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chalicelib.aws import names
from chalicelib.domain.schedules import Schedule, aws_cron
from chalicelib.domain.states import is_invocable
from chalicelib.scheduler.eventbridge import schedule_name
from chalicelib.services.repository import FunctionRepository
from chalicelib.services.schedule_runs import KIND as SCHEDULE_KIND
from chalicelib.storage.base import Query, Store


@dataclass(frozen=True)
class Item:
    origin: str  # "stack" (CloudFormation) | "run time" (the gateway, at deploy or schedule save)
    type: str  # the AWS resource type
    name: str  # logical id in the stack, or the physical name
    detail: str = ""
    account: str = ""

    def to_dict(self) -> dict[str, str]:
        return {"origin": self.origin, "type": self.type, "name": self.name, "detail": self.detail,
                "account": self.account}


def stack_items(template: dict[str, Any]) -> list[Item]:
    """One item per resource of the merged template (SAM's expand into their AWS resources at deploy)."""
    items = []
    for logical_id, resource in template["Resources"].items():
        condition = resource.get("Condition")
        detail = f"only when {condition}" if condition else ""
        if resource["Type"] == "AWS::Serverless::Function":
            props = resource["Properties"]
            events = ", ".join(e["Type"] for e in props.get("Events", {}).values())
            detail = f"{props['Handler']}" + (f" ({events})" if events else "")
        items.append(Item("stack", resource["Type"], logical_id, detail))
    return items


def runtime_items(store: Store, prefix: str = names.FUNCTION_PREFIX) -> list[Item]:
    """The per-account roles, per-function Lambdas and log groups, and schedules the store's state calls for."""
    items: list[Item] = []
    repository = FunctionRepository(store)
    for account in sorted(r.sk for r in store.query(Query("account", "accounts"))):
        items.append(Item("run time", "AWS::IAM::Role", names.ROLE_PATH + names.account_role_name(prefix, account),
                          "execution role of the account's function Lambdas", account))
        for fn in sorted(repository.list_meta(account), key=lambda f: f.name):
            if not is_invocable(fn.state, live=fn.live):
                continue
            lambda_name = names.function_lambda_name(prefix, account, fn.uuid)
            items.append(Item("run time", "AWS::Lambda::Function", lambda_name,
                              f"function {fn.name} ({fn.uuid}), alias live", account))
            items.append(Item("run time", "AWS::Logs::LogGroup", names.function_log_group(lambda_name),
                              f"logs of {fn.name}", account))
        for record in store.query(Query(SCHEDULE_KIND, account)):
            schedule = Schedule.from_dict(record.data)
            state = "ENABLED" if schedule.is_active else "DISABLED"
            items.append(Item("run time", "AWS::Scheduler::Schedule", schedule_name(schedule.id),
                              f"{aws_cron(schedule.cron)} {schedule.time_zone} {state} → {schedule.function_uuid}",
                              account))
    return items


def render(items: list[Item]) -> str:
    """A plain table, grouped by origin, as the CLI prints it."""
    lines = []
    for origin, title in (("stack", "Stack (created or updated by `fngate aws deploy` through a change set)"),
                          ("run time", "Run time (created or updated by the gateway as functions are deployed)")):
        group = [i for i in items if i.origin == origin]
        lines.append(f"{title}: {len(group)}")
        width = max((len(i.type) for i in group), default=0)
        for item in group:
            account = f" [{item.account}]" if item.account else ""
            detail = f"  {item.detail}" if item.detail else ""
            lines.append(f"  + {item.type.ljust(width)}  {item.name}{account}{detail}")
    return "\n".join(lines) + "\n"
