"""fngate aws package | plan | deploy: the gateway's stack on AWS, from a checkout of this repository.

`plan` is offline (the template without dependencies, and a store: the data dir, or DynamoDB with
FNGATE_STORE=dynamodb); `deploy` uses boto3's standard credential chain and nothing else.
"""

from __future__ import annotations

import argparse
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

from chalicelib.devcli.commands import add_command
from chalicelib.devcli.errors import CliError, Exit
from chalicelib.devcli.output import Output

# CLI option → stack parameter (infra/fngate.yaml)
PARAMETERS = {"function_image": "FunctionImageUri", "egress_image": "EgressImageUri",
              "egress_tasks": "EgressTaskCount", "gateway_url": "GatewayUrl",
              "api_rate": "ApiThrottleRate", "api_burst": "ApiThrottleBurst"}
STACK_NAME_MAX = 40  # the gateway's Lambdas are named <stack>-email-report-tick (≤ 64)


def _package(args: argparse.Namespace, out_dir: Path, *, code: bool) -> Any:
    from chalicelib.aws import stack

    wheelhouse = Path(args.wheelhouse) if getattr(args, "wheelhouse", None) else None
    try:
        return stack.package(stack.project_root(), out_dir, wheelhouse=wheelhouse, code=code)
    except stack.StackError as exc:
        raise CliError(str(exc), Exit.FAILED) from None


def package(args: argparse.Namespace, out: Output) -> int:
    built = _package(args, Path(args.out), code=True)
    out.result({"template": str(built.template_path), "code": str(built.zip_path),
                "codeBytes": built.zip_path.stat().st_size},
               f"{built.template_path}\n{built.zip_path} ({built.zip_path.stat().st_size:,} bytes)")
    return 0


def plan(args: argparse.Namespace, out: Output) -> int:
    from chalicelib.aws import plan as planning
    from chalicelib.config import Settings
    from chalicelib.devcli.datadir import require_store
    from chalicelib.services.container import build_store

    settings = Settings.from_env()
    if args.data_dir:
        settings = replace(settings, data_dir=Path(args.data_dir))
    if settings.store == "sqlite":
        require_store(settings)  # before the template is built: a mistyped --data-dir fails at once
    with tempfile.TemporaryDirectory(prefix="fngate-plan-") as tmp:
        template = _package(args, Path(tmp), code=False).template
    items = planning.stack_items(template)
    store = build_store(settings)
    try:
        items += planning.runtime_items(store)
    finally:
        store.close()
    out.result([i.to_dict() for i in items], planning.render(items))
    return 0


def deploy(args: argparse.Namespace, out: Output) -> int:
    from chalicelib.aws import deploy as deploying

    if len(args.stack_name) > STACK_NAME_MAX or args.stack_name.startswith("fngate-fn"):
        raise CliError(f"--stack-name must be at most {STACK_NAME_MAX} characters and not start with fngate-fn",
                       Exit.USAGE)
    parameters = {PARAMETERS[k]: str(v) for k, v in vars(args).items() if k in PARAMETERS and v is not None}
    try:
        deployer = deploying.connect(args.stack_name, args.region, progress=out.progress)
        with tempfile.TemporaryDirectory(prefix="fngate-deploy-") as tmp:
            built = _package(args, Path(tmp), code=True)
            url = deployer.upload(built)
        result = deployer.deploy(url, parameters)
    except deploying.DeployError as exc:
        raise CliError(str(exc), Exit.FAILED) from None
    summary = {"stack": result.stack, "changed": result.changed, "status": result.status,
               "changes": result.changes, "outputs": result.outputs}
    text = [f"{result.stack}: {'updated' if result.changed else 'no changes'} ({result.status})"]
    text += [f"  {k} = {v}" for k, v in sorted(result.outputs.items())]
    out.result(summary, "\n".join(text))
    return 0


def register(sub: Any, parents: list[argparse.ArgumentParser]) -> None:
    group = sub.add_parser("aws", help="package, plan and deploy the gateway's AWS stack").add_subparsers(
        dest="aws", required=True)
    p = add_command(group, "package", package, "build the stack template and the gateway's Lambda package", """
        fngate aws package --out build/aws
        fngate aws package --out build/aws --wheelhouse wheels/    # pip reads only that folder
        """, parents)
    p.add_argument("--out", required=True, help="folder for template.json and deployment.zip")
    p.add_argument("--wheelhouse", help="install requirements.txt from this folder only (offline)")
    p = add_command(group, "plan", plan, "list every AWS resource the stack and the store call for (offline)", """
        fngate aws plan --data-dir .fngate
        FNGATE_STORE=dynamodb FNGATE_TABLE=fngate-Table-XYZ fngate aws plan --json
        """, parents)
    p.add_argument("--data-dir", help="the store to read (default .fngate, or DynamoDB with FNGATE_STORE=dynamodb)")
    p = add_command(group, "deploy", deploy, "create or update the stack through a change set (idempotent)", """
        fngate aws deploy --region eu-west-1
        fngate aws deploy --function-image 123456789012.dkr.ecr.eu-west-1.amazonaws.com/fn:1 \\
            --egress-image 123456789012.dkr.ecr.eu-west-1.amazonaws.com/egress:1
        """, parents)
    p.add_argument("--stack-name", default="fngate")
    p.add_argument("--region", help="default: the standard chain (AWS_REGION, the profile)")
    p.add_argument("--wheelhouse", help="install requirements.txt from this folder only")
    p.add_argument("--function-image", help="FunctionImageUri: the function Lambdas' image")
    p.add_argument("--egress-image", help="EgressImageUri: the egress proxy's image (starts the proxy)")
    p.add_argument("--egress-tasks", type=int, help="EgressTaskCount (default 1)")
    p.add_argument("--gateway-url", help="GatewayUrl: the API's public URL behind a custom domain")
    p.add_argument("--api-rate", type=int, help="ApiThrottleRate (default 1000 requests/s)")
    p.add_argument("--api-burst", type=int, help="ApiThrottleBurst (default 2000)")
