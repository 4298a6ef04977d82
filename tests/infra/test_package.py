"""The gateway's Lambda package: lean (only what the gateway imports), complete (it imports in a bare interpreter),
and its template carries every handler chalice generates: the API, the SQS consumer and the scheduled ones."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from chalicelib.aws import stack

# what the deployed package may hold at its top level: the app, chalice's vendored runtime, requirements.txt's
# distributions and their dependencies
ALLOWED_TOP = {"app.py", "chalice", "chalicelib", "nacl", "_cffi_backend.cpython-311-x86_64-linux-gnu.so", "cffi",
               "pycparser", "croniter", "dateutil", "tzdata", "aws_lambda_powertools", "jmespath",
               "typing_extensions.py"}
NEVER = ("boto3", "botocore", "pip", "setuptools", "s3transfer", "urllib3", "yaml", "click", "granian", "wheel")


def _names(package: stack.Package) -> list[str]:
    with zipfile.ZipFile(package.zip_path) as z:
        return z.namelist()


def _top(name: str) -> str:
    return name.split("/", 1)[0]


def test_the_package_holds_only_what_the_gateway_imports(packaged: stack.Package) -> None:
    names = _names(packaged)
    tops = {_top(n) for n in names if not _top(n).endswith((".dist-info", ".data"))}
    assert tops <= ALLOWED_TOP, tops - ALLOWED_TOP
    assert not [n for n in names if _top(n).split("-")[0].lower() in NEVER]
    assert sorted(n for n in names if _top(n) == "chalice") == ["chalice/__init__.py", "chalice/app.py"]
    assert not [n for n in names if "__pycache__" in n or "node_modules" in n or n.endswith(".pyc")]


def test_the_package_keeps_the_gateway_code_and_its_static_files(packaged: stack.Package) -> None:
    names = set(_names(packaged))
    project = stack.project_root()
    shipped = {str(p.relative_to(project)) for p in (project / "chalicelib").rglob("*")
               if p.is_file() and "__pycache__" not in p.parts and "node_modules" not in p.parts
               and p.suffix != ".pyc"}
    assert shipped <= names, sorted(shipped - names)[:5]
    assert {"app.py", "chalicelib/web/index.html", "chalicelib/web/js/app.js"} <= names  # API Gateway serves the UI


def test_pynacl_ships_as_a_linux_x86_64_build(packaged: stack.Package) -> None:
    with zipfile.ZipFile(packaged.zip_path) as z:
        sodium = z.read("nacl/_sodium.abi3.so")
        wheel = next(n for n in z.namelist() if n.startswith("pynacl-") and n.endswith("/WHEEL"))
        tags = z.read(wheel).decode()
    assert sodium[:4] == b"\x7fELF" and int.from_bytes(sodium[18:20], "little") == 62  # EM_X86_64
    assert "manylinux" in tags and "x86_64" in tags


def test_the_package_imports_in_a_bare_interpreter(packaged: stack.Package, tmp_path: Path) -> None:
    # GIVEN the package unzipped, and a Python with no site-packages (Lambda's runtime adds only boto3)
    with zipfile.ZipFile(packaged.zip_path) as z:
        z.extractall(tmp_path)
    probe = ("import sys; sys.path.insert(0, sys.argv[1]); import app; import chalicelib.api.jobs as j, "
             "chalicelib.api.schedules as s, chalicelib.api.email_reports as e, nacl.secret, croniter; "
             "print(len(app.app.routes), *(callable(h) for h in (j.run_jobs, s.fire_schedules, e.email_report_tick)))")
    # WHEN the app and every handler module are imported from it alone
    done = subprocess.run([sys.executable, "-S", "-I", "-c", probe, str(tmp_path)], capture_output=True, text=True,
                          env={"FNGATE_STORE": "dynamodb", "AWS_DEFAULT_REGION": "us-east-1"}, cwd=tmp_path,
                          check=False)
    # THEN they load
    assert done.returncode == 0, done.stderr[-2000:]
    routes, *handlers = done.stdout.split()
    assert int(routes) > 50 and handlers == ["True"] * 3


def _function(template: dict[str, Any], handler: str) -> dict[str, Any]:
    found = [r["Properties"] for r in template["Resources"].values()
             if r["Type"] == "AWS::Serverless::Function" and r["Properties"]["Handler"] == handler]
    assert len(found) == 1, handler
    return found[0]


@pytest.mark.parametrize(("handler", "rate"), [("chalicelib.api.jobs.sweep_jobs", "rate(1 minute)"),
                                                ("chalicelib.api.schedules.fire_schedules", "rate(1 minute)"),
                                                ("chalicelib.api.email_reports.email_report_tick",
                                                 "rate(15 minutes)")])
def test_the_scheduled_handlers_run_on_their_rules(packaged: stack.Package, handler: str, rate: str) -> None:
    events = list(_function(packaged.template, handler)["Events"].values())
    assert [(e["Type"], e["Properties"]["Schedule"]) for e in events] == [("Schedule", rate)]


def test_the_job_consumer_reads_the_stacks_queue_one_message_at_a_time(packaged: stack.Package) -> None:
    props = _function(packaged.template, "chalicelib.api.jobs.run_jobs")
    (event,) = props["Events"].values()
    assert event["Type"] == "SQS"
    assert event["Properties"]["Queue"] == {"Fn::GetAtt": ["JobsQueue", "Arn"]}
    assert event["Properties"]["BatchSize"] == 1
    queue = packaged.template["Resources"]["JobsQueue"]["Properties"]
    assert queue["VisibilityTimeout"] >= 6 * props["Timeout"]  # AWS's advice for a Lambda trigger


def test_the_api_handler_serves_the_rest_api(packaged: stack.Package) -> None:
    props = _function(packaged.template, "app.app")
    api = packaged.template["Resources"]["RestAPI"]["Properties"]
    uris = {op["x-amazon-apigateway-integration"]["uri"]["Fn::Sub"]
            for path in api["DefinitionBody"]["paths"].values() for op in path.values()
            if "x-amazon-apigateway-integration" in op}
    assert uris == {"arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/"
                    "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:"
                    f"{props['FunctionName']['Fn::Sub']}/invocations"}


def test_a_handler_the_infra_template_does_not_cover_stops_the_build() -> None:
    chalice_out = {"Resources": {"NewTick": {"Type": "AWS::Serverless::Function",
                                             "Properties": {"Handler": "x.y", "Role": "arn:placeholder"}}}}
    with pytest.raises(stack.StackError, match=r"NewTick needs an entry in infra/fngate\.yaml"):
        stack.merge(chalice_out, {"Resources": {}})


def test_an_infra_entry_for_a_handler_chalice_no_longer_makes_stops_the_build() -> None:
    with pytest.raises(stack.StackError, match="OldTick, which chalice package no longer generates"):
        stack.merge({"Resources": {}}, {"Resources": {"OldTick": {"Properties": {"Timeout": 3}}}})
