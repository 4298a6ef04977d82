"""fngate on AWS end to end, under moto, through the Chalice app (chalice.test.Client): account → secret (KMS +
DynamoDB) → function → deploy (a Lambda from the image URI, under the account's own role, in the private subnets)
→ invoke (run by the in-process shim, reading the secret through the Toolbelt route with its per-invocation
token) → schedule (EventBridge Scheduler) → logs; and the bot intake (webhook → SQS job → function → reply).

moto's Lambda cannot run code without Docker, so the Lambda client handed to the executor is moto's for every
call but ``invoke``, which first asks moto for the function version (so an undeployed one still fails as on AWS)
and then runs the event through a real Shim with real workers: what the function image's entry point does. The
shim's Toolbelt calls go to the app's route through the same test client.
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from uuid import uuid4

import boto3
import pytest
from chalice.test import Client
from moto import mock_aws

from app import app
from chalicelib import toolbelt
from chalicelib.aws import names
from chalicelib.aws.log_groups import RETENTION_DAYS
from chalicelib.bots.fake import FakeMessaging, consumer_text
from chalicelib.bots.intake import sign
from chalicelib.clock import Clock, FrozenClock
from chalicelib.config import Settings
from chalicelib.crypto.envelope import KmsKeyring
from chalicelib.crypto.tokens import TokenVerifier, verify_keys_from_jwks
from chalicelib.domain.permissions import Principal, Role
from chalicelib.runtime.egress import public_resolver
from chalicelib.runtime.egress_service import TokenEgressProxy
from chalicelib.runtime.lambda_shim import handler
from chalicelib.runtime.lambda_shim.handler import Shim
from chalicelib.scheduler.eventbridge import schedule_name
from chalicelib.services.container import Services, build_lambda_executor, build_services, use_services
from chalicelib.services.domains import DomainService
from chalicelib.services.identity import IdentityService, load_signer
from chalicelib.storage.dynamodb import DynamoStore, create_table
from tests.aws.registries import needs_pypi
from tests.aws.test_lambda_shim import Context
from tests.conftest import ACCOUNT, as_json, json_request

REGION = "us-east-1"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/fngate-function@sha256:" + "a" * 64
GATEWAY = "https://gw.example.test"
TARGET = "arn:aws:lambda:us-east-1:123456789012:function:fngate-prod-fire_schedules"
SCHEDULER_ROLE = "arn:aws:iam::123456789012:role/fngate-scheduler"
GROUP = "fngate"
BASE = f"/api/account/{ACCOUNT}"
LOCAL = Path(handler.__file__).resolve().parent.parent / "local"
BOT_SECRET = "bot-app-secret"
DEV = Principal(ACCOUNT, "dev-1", "user", frozenset({Role.DEVELOPER}), login_name="dev")

FUNCTION = """def lambda_handler(input, callback):
    from fngate_toolbelt import Toolbelt
    secret = Toolbelt.secret_client().read_secret("api-key")["value"]
    payload = input["payload"]
    console.info("read the secret", {"length": len(secret)})
    if isinstance(payload, dict) and "message" in payload:  # a bot's conversation event
        callback(None, {"messages": ["echo: " + payload["message"]]})
        return
    callback(None, {"secret": secret, "payload": payload})
"""


def registry_networks() -> list[str]:
    """The addresses PyPI has here, opened as an operator opens networks (FNGATE_EGRESS_PRIVATE_CIDRS): CI may reach
    the registry through addresses that are not globally routable, which the proxy refuses by default."""
    found = set()
    for host in ("pypi.org", "files.pythonhosted.org"):
        with contextlib.suppress(OSError):
            found |= {f"{info[4][0]}/{128 if ':' in info[4][0] else 32}"
                      for info in socket.getaddrinfo(host, 443, type=socket.SOCK_STREAM)}
    return sorted(found)


class ShimmedLambda:
    """moto's Lambda client, except that ``invoke`` runs the event through a real Shim (see the module doc)."""

    def __init__(self, client: Any, shim: Shim) -> None:
        self._client, self._shim, self.events = client, shim, []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def invoke(self, FunctionName: str, Qualifier: str, Payload: bytes, **_: Any) -> dict[str, Any]:
        self._client.get_function_configuration(FunctionName=FunctionName, Qualifier=Qualifier)
        event = json.loads(Payload)
        self.events.append((FunctionName, event))
        answer = self._shim.handle(event, Context())
        return {"StatusCode": 200, "Payload": io.BytesIO(json.dumps(answer).encode())}


@dataclass
class Aws:
    client: Client
    svc: Services
    lam: ShimmedLambda
    boto: dict[str, Any]
    clock: FrozenClock
    creds: dict[str, str]
    queue_url: str
    fake: FakeMessaging
    egress_url: str
    rpc_calls: list[tuple[str, str, str]] = field(default_factory=list)

    def call(self, method: str, path: str, token: str = "developerToken", body: Any = None,
             headers: dict[str, str] | None = None, raw: bytes | None = None) -> tuple[int, Any]:
        res = json_request(self.client, method, path, self.creds[token] if token else None, body, headers, raw)
        return res.status_code, as_json(res)

    def deliver_jobs(self) -> int:
        """What Lambda's SQS event source does (one message per event), then the runner for delayed runs."""
        delivered = 0
        while messages := self.boto["sqs"].receive_message(QueueUrl=self.queue_url,
                                                            MaxNumberOfMessages=10).get("Messages", []):
            for message in messages:
                event = self.client.events.generate_sqs_event(message_bodies=[message["Body"]],
                                                              queue_name="fngate-jobs")
                self.client.lambda_.invoke("run_jobs", event)
                self.boto["sqs"].delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
                delivered += 1
        self.svc.runner.drain()
        return delivered


@pytest.fixture
def aws(tmp_path: Path) -> Iterator[Aws]:
    with mock_aws(config={"lambda": {"use_docker": False}}):
        boto = {name: boto3.client(name, region_name=REGION)
                for name in ("dynamodb", "kms", "sqs", "scheduler", "iam", "lambda", "ec2", "logs")}
        table = f"fngate-{uuid4().hex[:8]}"
        create_table(boto["dynamodb"], table)
        key_id = boto["kms"].create_key(Description="fngate")["KeyMetadata"]["KeyId"]
        queue_url = boto["sqs"].create_queue(QueueName=f"jobs-{uuid4().hex[:8]}")["QueueUrl"]
        boto["scheduler"].create_schedule_group(Name=GROUP)
        vpc = boto["ec2"].create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        subnet = boto["ec2"].create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
        group = boto["ec2"].create_security_group(GroupName="fn", Description="fn", VpcId=vpc)["GroupId"]
        fake = FakeMessaging(client_secret=BOT_SECRET).start()
        store = DynamoStore(client=boto["dynamodb"], table_name=table)
        keyring = KmsKeyring(key_id, region_name=REGION)
        signer = load_signer(store, keyring)
        egress = TokenEgressProxy(  # the egress service, over the same store, trusting the gateway's keys
            DomainService(store, Clock()).allowlist_for,
            TokenVerifier(verify_keys_from_jwks({"keys": signer.public_jwks})), listen="127.0.0.1:0",
            gateway_url=GATEWAY, resolver=public_resolver(registry_networks())).start()
        egress_url = "http://{}:{}".format(*egress.address)
        settings = Settings(
            data_dir=tmp_path, store="dynamodb", table_name=table, keyring="kms", kms_key_id=key_id,
            executor="aws_lambda", lambda_image_uri=IMAGE, lambda_subnet_ids=(subnet,),
            lambda_security_group_ids=(group,), gateway_url=GATEWAY, egress_proxy_url=egress_url, jobs="sqs",
            jobs_queue_url=queue_url, records="sync", region=REGION, scheduler="eventbridge",
            scheduler_target_arn=TARGET, scheduler_role_arn=SCHEDULER_ROLE, scheduler_group=GROUP,
            domain_map=fake.domain_map())
        clock = FrozenClock()
        identity = IdentityService(store, keyring, signer, clock)
        rpc_calls: list[tuple[str, str, str]] = []
        shim = Shim(worker_dir=LOCAL, node_binary=shutil.which("node"), toolbelt_python_path=toolbelt.PYTHON_PATH,
                    rpc=lambda *a, **kw: client_rpc(*a, **kw), deps_root=str(tmp_path / "lambda-tmp"))
        lam = ShimmedLambda(boto["lambda"], shim)
        executor = build_lambda_executor(settings, identity, client=lam, iam_client=boto["iam"],
                                         logs_client=boto["logs"])
        svc = build_services(settings, store=store, keyring=keyring, executor=executor, clock=clock)
        creds = svc.identity.bootstrap(ACCOUNT)
        with use_services(svc), Client(app) as client:
            env = Aws(client, svc, lam, boto, clock, creds, queue_url, fake, egress_url, rpc_calls)

            def client_rpc(url: str, token: str, method: str, params: Any, *, proxy: str = "",
                           timeout_s: float = 10) -> dict[str, Any]:
                """The shim's call to the gateway's route (the nested request keeps the outer one's context)."""
                assert url.startswith(GATEWAY) and proxy == egress_url
                rpc_calls.append((urlsplit(url).path, method, token))
                outer = app.current_request
                try:
                    res = client.http.post(urlsplit(url).path, headers={
                        "Authorization": f"Bearer {token}", "Content-Type": "application/json"},
                        body=json.dumps({"method": method, "params": params}).encode())
                finally:
                    app.current_request = outer
                answer = json.loads(res.body)
                return answer if res.status_code == 200 else {"ok": False, "code": "refused", "message": answer}

            yield env
        shim.close()
        svc.close()
        egress.close()
        fake.close()


def test_account_to_logs_on_aws(aws: Aws) -> None:
    # GIVEN an account's secret, sealed with KMS in DynamoDB
    status, _ = aws.call("POST", f"{BASE}/secrets", "adminToken", {"key": "api-key", "value": "k-123"})
    assert status == 201
    stored = json.dumps(aws.boto["dynamodb"].scan(TableName=aws.svc.settings.table_name)["Items"])
    assert "k-123" not in stored
    # AND a Python function
    status, fn = aws.call("POST", f"{BASE}/functions", body={"name": "reader", "description": "d",
                                                              "runtime": "Python 3.11", "code": FUNCTION})
    assert status == 201, fn
    uuid = fn["uuid"]

    # WHEN it is deployed (a job, announced on SQS, run by the app's SQS handler)
    assert aws.call("POST", f"{BASE}/deployments/{uuid}")[0] == 200
    assert aws.deliver_jobs() >= 1
    # THEN its Lambda runs the image under the account's own role, in the private subnets
    name = names.function_lambda_name(names.FUNCTION_PREFIX, ACCOUNT, uuid)
    config = aws.boto["lambda"].get_function(FunctionName=name)
    role = aws.boto["iam"].get_role(RoleName=names.account_role_name(names.FUNCTION_PREFIX, ACCOUNT))["Role"]
    assert config["Code"]["ImageUri"] == IMAGE and config["Configuration"]["PackageType"] == "Image"
    assert config["Configuration"]["Role"] == role["Arn"] and role["Path"] == names.ROLE_PATH
    assert config["Configuration"]["VpcConfig"]["SubnetIds"] == list(aws.svc.settings.lambda_subnet_ids)
    assert aws.boto["lambda"].get_alias(FunctionName=name, Name="live")["FunctionVersion"] != "$LATEST"
    assert aws.lam.events[0][1]["op"] == "check"  # the new version loaded the code before the alias moved
    # AND its log group exists before Lambda's first write, expiring as the stack's own groups do
    (group,) = aws.boto["logs"].describe_log_groups(logGroupNamePrefix=names.function_log_group(name))["logGroups"]
    assert group["retentionInDays"] == RETENTION_DAYS

    # WHEN it is invoked through the gateway
    status, result = aws.call("POST", f"{BASE}/lambdas/{uuid}/invoke?v=1", "developerToken",
                              {"timestamp": 0, "headers": [], "payload": {"n": 1}})
    # THEN the shim ran it, and its Toolbelt read the secret through the route with this invocation's token
    assert status == 200, result
    assert result == {"secret": "k-123", "payload": {"n": 1}}
    event = aws.lam.events[-1][1]
    assert event["toolbelt"]["url"] == GATEWAY + f"{BASE}/functions/{uuid}/toolbelt"
    assert event["egress"] == {"proxy": aws.egress_url, "token": event["toolbelt"]["token"]}
    claims = aws.svc.identity.signer.verify(event["toolbelt"]["token"])
    assert (claims["aud"], claims["sub"], claims["typ"]) == (ACCOUNT, uuid, "function")
    assert claims["exp"] - claims["iat"] <= int(aws.svc.settings.function_timeout_s) + 10
    assert aws.rpc_calls[-1][:2] == (f"{BASE}/functions/{uuid}/toolbelt", "secret.read")
    # AND its token opens nothing else
    token = event["toolbelt"]["token"]
    res = aws.client.http.get(f"{BASE}/secrets", headers={"Authorization": f"Bearer {token}"})
    assert res.status_code == 403

    # WHEN a schedule is created, THEN EventBridge Scheduler holds it; when it fires, the function runs
    status, schedule = aws.call("POST", f"{BASE}/schedules", body={
        "functionUuid": uuid, "cronExpression": "*/5 * * * *", "invocationBody": {"payload": {"from": "schedule"}},
        "isActive": True})
    assert status == 201, schedule
    aws.deliver_jobs()
    remote = aws.boto["scheduler"].get_schedule(Name=schedule_name(schedule["id"]), GroupName=GROUP)
    assert remote["Target"]["Arn"] == TARGET and remote["State"] == "ENABLED"
    due = aws.svc.schedules.get(DEV, schedule["id"]).next_due
    aws.clock.t = due + 0.5
    fired = json.loads(remote["Target"]["Input"]) | {"id": str(uuid4()), "time": _iso(due)}
    aws.client.lambda_.invoke("fire_schedules", fired)
    aws.deliver_jobs()
    status, runs = aws.call("GET", f"{BASE}/schedules/{schedule['id']}/runs")
    assert status == 200 and [r["status"] for r in runs] == ["SUCCEEDED"], runs
    assert aws.lam.events[-1][1]["input"]["payload"] == {"from": "schedule"}

    # AND the logs show both runs, with what the function logged
    window = f"startTimestamp={int(due - 3600) * 1000}&endTimestamp={int(aws.clock.t + 60) * 1000}"
    status, page = aws.call("GET", f"{BASE}/logs?{window}&lambdaUUID={uuid}")
    assert status == 200, page
    messages = [entry["message"] for entry in page["logs"]]
    assert messages.count("read the secret") == 2, page


def test_bot_intake_on_aws(aws: Aws) -> None:
    # GIVEN a deployed function and a bot bound to it
    aws.call("POST", f"{BASE}/secrets", "adminToken", {"key": "api-key", "value": "k"})
    status, fn = aws.call("POST", f"{BASE}/functions", body={"name": "bot-fn", "description": "d",
                                                              "runtime": "Python 3.11", "code": FUNCTION})
    aws.call("POST", f"{BASE}/deployments/{fn['uuid']}")
    aws.deliver_jobs()
    status, bot = aws.call("POST", f"{BASE}/bots", "adminToken", {
        "botId": "bot1", "functionUuid": fn["uuid"], "clientId": aws.fake.client_id, "clientSecret": BOT_SECRET,
        "agentId": "bot-agent"})
    assert status == 201, bot
    # WHEN the messaging side delivers a consumer's message
    data = json.dumps(consumer_text("conv-1", 1, "hello")).encode()
    status, ack = aws.call("POST", f"{BASE}/bots/bot1/webhook", "", raw=data,
                           headers={"x-liveperson-signature": sign(BOT_SECRET, data, "sha256")})
    assert (status, ack) == (200, {"queued": 1, "duplicates": 0})
    # THEN the job goes through SQS, the function's Lambda answers, and the reply reaches the conversation
    assert aws.deliver_jobs() >= 1
    replies = [r["body"]["event"]["message"] for r in aws.fake.sent("conv-1")
               if r["body"].get("event", {}).get("contentType") == "text/plain"]
    assert replies == ["echo: hello"]
    assert aws.lam.events[-1][1]["input"]["payload"]["message"] == "hello"


def _iso(ts: float) -> str:
    from chalicelib.domain.schedules import iso

    return iso(ts)


@needs_pypi
def test_function_with_dependencies_on_aws(aws: Aws) -> None:
    # GIVEN an account whose allowlist names PyPI (the container installs through the egress proxy)
    for domain in ("pypi.org", "files.pythonhosted.org"):
        assert aws.call("POST", f"{BASE}/proxy-settings?v=1", "adminToken", {"domain": domain})[0] == 201
    # AND a Python function that declares a dependency
    code = "def lambda_handler(input, callback):\n    import six\n    callback(None, {'six': six.__version__})\n"
    status, fn = aws.call("POST", f"{BASE}/functions", body={
        "name": "with-deps", "description": "d", "runtime": "Python 3.11", "code": code,
        "customDependencies": {"six": "1.17.0"}})
    assert status == 201, fn
    # WHEN it is deployed, THEN its Lambda built them once and the deployment keeps the lock it got
    aws.call("POST", f"{BASE}/deployments/{fn['uuid']}")
    aws.deliver_jobs()
    ops = [event["op"] for _, event in aws.lam.events]
    status, deployments = aws.call("GET", f"{BASE}/functions/{fn['uuid']}/deployments")
    assert ops == ["build", "check"], (ops, deployments[0].get("deploymentError"))
    lock = deployments[0]["dependencyLock"]
    assert lock.startswith("python-") and aws.lam.events[-1][1]["bundle"]["deps"]["key"] == lock
    # AND it runs with them
    status, result = aws.call("POST", f"{BASE}/lambdas/{fn['uuid']}/invoke?v=1", "developerToken",
                              {"timestamp": 0, "headers": [], "payload": {}})
    assert (status, result) == (200, {"six": "1.17.0"})


def test_without_pypi_on_the_allowlist_the_build_fails_with_the_proxys_refusal(
        aws: Aws, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("PIP_RETRIES", "0")  # pip retries a refused tunnel; once is enough to read its answer
    code = "def lambda_handler(input, callback):\n    import six\n    callback(None, 1)\n"
    fn = aws.call("POST", f"{BASE}/functions", body={
        "name": "no-registry", "description": "d", "runtime": "Python 3.11", "code": code,
        "customDependencies": {"six": "1.17.0"}})[1]
    aws.call("POST", f"{BASE}/deployments/{fn['uuid']}")
    aws.deliver_jobs()
    deployments = aws.call("GET", f"{BASE}/functions/{fn['uuid']}/deployments")[1]
    error = deployments[0]["deploymentError"]
    assert error["code"] == "com.liveperson.faas.fm.build-failed" and "pip could not resolve" in error["message"]
    assert "allowlist must name pypi.org" in error["message"], error["message"]
    assert f"egress denied (not allowlisted) account={ACCOUNT} function={fn['uuid']} host=pypi.org" in caplog.text
