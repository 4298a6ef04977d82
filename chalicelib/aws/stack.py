"""The deployable stack: `chalice package --stage prod` merged with infra/fngate.yaml into one CloudFormation template.

Why one stack: the gateway's Lambdas need the table, key, queue, network and roles by reference (environment,
role, SQS trigger), and the scheduler role needs the fire_schedules Lambda; one template lets CloudFormation order
and update them together. Chalice packages from a clean copy of the project (app.py, .chalice/, requirements.txt and
chalicelib/ without caches or node_modules), so what ships is what the gateway imports, whatever the checkout holds.

Only chalice's own output and infra/fngate.yaml feed the template; nothing here names resources except the API
integration's Lambda ARN (from APIHandler's FunctionName, to break the API ↔ handler cycle that FNGATE_GATEWAY_URL
would create).
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]  # chalice's own dependency (requirements-server.txt)

INFRA_TEMPLATE = Path("infra") / "fngate.yaml"
STAGE = "prod"
_PROJECT_FILES = ("app.py", "requirements.txt", ".chalice/config.json")
_SKIP_DIRS = {"__pycache__", "node_modules", ".mypy_cache", ".pytest_cache"}
_SKIP_SUFFIXES = (".pyc", ".pyo")
_LAMBDA_ARN = "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:"


class StackError(Exception):
    """The project cannot be packaged into a stack (chalice failed, or a Lambda the infra template does not cover)."""


@dataclass(frozen=True)
class Package:
    template: dict[str, Any]
    template_path: Path
    zip_path: Path


def project_root() -> Path:
    """The checkout holding app.py and chalicelib/ (fngate aws commands run from a source tree)."""
    return Path(__file__).resolve().parents[2]


def stage_project(project: Path, dest: Path) -> Path:
    """Copy what `chalice package` reads into ``dest``, without bytecode, caches or npm folders."""
    for name in _PROJECT_FILES:
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(project / name, dest / name)

    def ignore(folder: str, names: list[str]) -> set[str]:
        return {n for n in names if n in _SKIP_DIRS or n.endswith(_SKIP_SUFFIXES)}

    shutil.copytree(project / "chalicelib", dest / "chalicelib", ignore=ignore)
    return dest


def chalice_package(project: Path, out: Path, *, wheelhouse: Path | None = None, region: str = "us-east-1") -> Path:
    """Run `chalice package` for the prod stage into ``out`` (sam.json + deployment.zip).

    With ``wheelhouse`` pip installs the requirements from that folder only (no index: offline builds and tests).
    """
    env = dict(os.environ, AWS_DEFAULT_REGION=os.environ.get("AWS_DEFAULT_REGION", region))
    if wheelhouse is not None:
        env |= {"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(wheelhouse.resolve())}
    command = [sys.executable, "-c", "import sys; from chalice.cli import main; sys.exit(main())",
               "package", "--stage", STAGE, "--pkg-format", "cloudformation", str(out.resolve())]
    done = subprocess.run(command, cwd=project, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0 or not (out / "sam.json").exists():
        raise StackError(f"chalice package failed ({done.returncode}): {(done.stderr or done.stdout)[-2000:]}")
    return out


def load_infra(project: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((project / INFRA_TEMPLATE).read_text())
    return loaded


def _is_intrinsic(node: Any) -> bool:
    return isinstance(node, dict) and len(node) == 1 and next(iter(node)).startswith(("Fn::", "Ref"))


def _deep_merge(base: Any, overlay: Any) -> Any:
    """Mappings merge key by key; anything else (lists, scalars, an intrinsic function) is replaced by the overlay."""
    if isinstance(base, dict) and isinstance(overlay, dict) and not _is_intrinsic(overlay):
        merged = dict(base)
        for key, value in overlay.items():
            merged[key] = _deep_merge(base[key], value) if key in base else copy.deepcopy(value)
        return merged
    return copy.deepcopy(overlay)


def _replace_in_subs(node: Any, old: str, new: str) -> Any:
    if isinstance(node, dict):
        return {k: (v.replace(old, new) if k == "Fn::Sub" and isinstance(v, str) else _replace_in_subs(v, old, new))
                for k, v in node.items()}
    if isinstance(node, list):
        return [_replace_in_subs(v, old, new) for v in node]
    return node


def merge(chalice_template: dict[str, Any], infra: dict[str, Any]) -> dict[str, Any]:
    """infra/fngate.yaml onto chalice's template; StackError if a gateway Lambda lacks the infra's settings."""
    infra = dict(infra)
    infra.pop("Metadata", None)  # holds only the YAML anchor the functions are merged from
    template: dict[str, Any] = _deep_merge(chalice_template, infra)
    resources = template["Resources"]
    for name, resource in resources.items():
        if "Type" not in resource:
            raise StackError(f"infra/fngate.yaml merges onto {name}, which chalice package no longer generates")
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::Serverless::Function" and not (
                "FunctionName" in props and props.get("Role") == {"Fn::GetAtt": ["GatewayRole", "Arn"]}):
            raise StackError(f"the gateway Lambda {name} needs an entry in infra/fngate.yaml (name, role, settings)")
    resources.pop("DefaultRole", None)
    handler_name = resources["APIHandler"]["Properties"]["FunctionName"]["Fn::Sub"]
    resources["RestAPI"] = _replace_in_subs(resources["RestAPI"], "${APIHandler.Arn}", _LAMBDA_ARN + handler_name)
    return template


def package(project: Path, out: Path, *, wheelhouse: Path | None = None, code: bool = True) -> Package:
    """Stage the project, run chalice, merge with infra/: ``out``/template.json and ``out``/deployment.zip.

    ``code=False`` (`fngate aws plan`): the template only, with no dependencies installed (so no pip, no network).
    """
    out.mkdir(parents=True, exist_ok=True)
    staging = out / "project"
    if staging.exists():
        shutil.rmtree(staging)
    stage_project(project, staging)
    if not code:
        (staging / "requirements.txt").write_text("")
    chalice_out = chalice_package(staging, out / "chalice", wheelhouse=wheelhouse)
    template = merge(json.loads((chalice_out / "sam.json").read_text()), load_infra(project))
    zip_path = out / "deployment.zip"
    shutil.move(str(chalice_out / "deployment.zip"), zip_path)
    for props in _functions(template).values():
        props["CodeUri"] = "./deployment.zip"
    template_path = out / "template.json"
    template_path.write_text(json.dumps(template, indent=2, sort_keys=False) + "\n")
    shutil.rmtree(staging)
    return Package(template, template_path, zip_path)


def _functions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: r["Properties"] for name, r in template["Resources"].items()
            if r["Type"] == "AWS::Serverless::Function"}


def with_code(template: dict[str, Any], bucket: str, key: str) -> dict[str, Any]:
    """The template with every gateway Lambda's code at s3://bucket/key (what CloudFormation can read)."""
    out = copy.deepcopy(template)
    for props in _functions(out).values():
        props["CodeUri"] = {"Bucket": bucket, "Key": key}
    return out
