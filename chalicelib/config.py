"""Settings from the environment (FNGATE_*), and which backends they select.

An explicit argument beats the environment, which beats the default — in ``Settings.from_env`` only.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

ENV_DATA_DIR = "FNGATE_DATA_DIR"
ENV_STORE = "FNGATE_STORE"  # sqlite | dynamodb
ENV_EXECUTOR = "FNGATE_EXECUTOR"  # local | aws_lambda
ENV_KEYRING = "FNGATE_KEYRING"  # local | kms
ENV_TABLE = "FNGATE_TABLE"
ENV_KMS_KEY_ID = "FNGATE_KMS_KEY_ID"
ENV_PUBLIC_HOST = "FNGATE_PUBLIC_HOST"  # host[:port] published by service discovery; default: the request's Host
ENV_DOMAIN_MAP = "FNGATE_DOMAIN_MAP"  # JSON {"msgHist": "host", ...} for LivePerson services
ENV_FUNCTION_TIMEOUT = "FNGATE_FUNCTION_TIMEOUT_S"
ENV_FUNCTION_TIMEOUT_MAX = "FNGATE_FUNCTION_TIMEOUT_MAX_S"  # the most a function may set (timeoutSeconds)
ENV_FUNCTION_MEMORY = "FNGATE_FUNCTION_MEMORY_MB"  # what a new function gets
ENV_FUNCTION_MEMORY_MAX = "FNGATE_FUNCTION_MEMORY_MAX_MB"  # the most a function may set (memoryMB)
ENV_MAX_WORKERS = "FNGATE_MAX_WORKERS"
ENV_INSECURE_SANDBOX = "FNGATE_INSECURE_SANDBOX"
ENV_MAX_BODY = "FNGATE_MAX_BODY_BYTES"
ENV_BODY_TIMEOUT = "FNGATE_BODY_TIMEOUT_S"  # a request body must arrive within this after its headers (408)
ENV_ACCOUNT_RATE = "FNGATE_ACCOUNT_RATE"  # invocations per second per account
ENV_ACCOUNT_CONCURRENCY = "FNGATE_ACCOUNT_CONCURRENCY"  # invocations in flight per account
ENV_LAMBDA_ROLE_ARN = "FNGATE_LAMBDA_ROLE_ARN"  # execution role of function Lambdas (CloudWatch Logs only)
ENV_LAMBDA_IMAGE_URI = "FNGATE_LAMBDA_IMAGE_URI"  # worker image (needed for Node functions on AWS)
ENV_LAMBDA_SUBNET_IDS = "FNGATE_LAMBDA_SUBNET_IDS"  # comma-separated private subnets of function Lambdas
ENV_LAMBDA_SECURITY_GROUP_IDS = "FNGATE_LAMBDA_SECURITY_GROUP_IDS"  # their security groups (egress: the proxy only)
ENV_EGRESS_PROXY_URL = "FNGATE_EGRESS_PROXY_URL"  # http://host:3128: the egress proxy service function Lambdas use
ENV_GATEWAY_URL = "FNGATE_GATEWAY_URL"  # the API's public base URL: where a function Lambda's Toolbelt calls
ENV_TLS = "FNGATE_TLS"  # clients reach this gateway over HTTPS only: answers carry Strict-Transport-Security
ENV_JOBS = "FNGATE_JOBS"  # background (a runner thread in `fngate serve`) | inline | sqs
ENV_JOBS_QUEUE_URL = "FNGATE_JOBS_QUEUE_URL"  # the SQS queue that announces jobs (FNGATE_JOBS=sqs)
ENV_RECORDS = "FNGATE_RECORDS"  # batched (written behind the answer) | sync (written before it: AWS Lambda)
ENV_DEPS_MAX_MB = "FNGATE_DEPS_MAX_MB"  # installed dependencies of one function, at most
ENV_DEPS_BUILD_TIMEOUT = "FNGATE_DEPS_BUILD_TIMEOUT_S"
ENV_DEPS_ALLOW = "FNGATE_DEPS_ALLOW"  # comma-separated package name globs a function may declare (empty: any)
ENV_DEPS_DENY = "FNGATE_DEPS_DENY"  # globs refused anywhere in a resolved dependency tree
ENV_EGRESS_PORTS = "FNGATE_EGRESS_PORTS"  # ports functions may reach besides 80 and 443 (comma-separated)
ENV_EGRESS_PRIVATE_CIDRS = "FNGATE_EGRESS_PRIVATE_CIDRS"  # private networks allowlisted hosts may resolve into
ENV_MAIL = "FNGATE_MAIL"  # none | smtp | ses (default: smtp when FNGATE_SMTP_HOST is set, else none)
ENV_MAIL_FROM = "FNGATE_MAIL_FROM"  # sender of email reports
ENV_SMTP_HOST, ENV_SMTP_PORT = "FNGATE_SMTP_HOST", "FNGATE_SMTP_PORT"
ENV_SMTP_TLS = "FNGATE_SMTP_TLS"  # none | starttls | ssl
ENV_SMTP_USER, ENV_SMTP_PASSWORD = "FNGATE_SMTP_USER", "FNGATE_SMTP_PASSWORD"
ENV_SCHEDULER = "FNGATE_SCHEDULER"  # local (a thread of `fngate serve`) | eventbridge (AWS) | off
ENV_SCHEDULER_TARGET_ARN = "FNGATE_SCHEDULER_TARGET_ARN"  # eventbridge: the app's fire_schedules Lambda
ENV_SCHEDULER_ROLE_ARN = "FNGATE_SCHEDULER_ROLE_ARN"  # eventbridge: the role EventBridge invokes it with
ENV_SCHEDULER_GROUP = "FNGATE_SCHEDULER_GROUP"  # eventbridge: the schedule group
ENV_CLOCK_OFFSET = "FNGATE_CLOCK_OFFSET_S"  # shifts this process's clock (tests reach a due time without waiting)
ENV_AWS_REGION = "AWS_REGION"
ENV_LAMBDA_NAME = "AWS_LAMBDA_FUNCTION_NAME"  # set by the Lambda runtime

DEFAULT_DATA_DIR = ".fngate"


def _globs(value: str | None) -> tuple[str, ...]:
    return tuple(g.strip() for g in (value or "").split(",") if g.strip())


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Settings:
    data_dir: Path = Path(DEFAULT_DATA_DIR)
    store: str = "sqlite"
    executor: str = "local"
    keyring: str = "local"
    table_name: str = "fngate"
    kms_key_id: str = ""
    public_host: str = ""
    domain_map: dict[str, str] = field(default_factory=dict)
    function_timeout_s: float = 30.0
    function_timeout_max_s: int = 30
    function_memory_mb: int = 256
    function_memory_max_mb: int = 256
    max_workers: int = 64
    insecure_sandbox: bool = False
    max_body_bytes: int = 1_048_576
    body_timeout_s: float = 30.0
    region: str = ""
    account_rate_per_s: float = 5000.0
    account_concurrency: int = 256
    lambda_role_arn: str = ""
    lambda_image_uri: str = ""
    lambda_subnet_ids: tuple[str, ...] = ()
    lambda_security_group_ids: tuple[str, ...] = ()
    egress_proxy_url: str = ""
    gateway_url: str = ""
    self_address: str = ""  # addr:port this gateway listens on; the egress proxy dials it for public_host
    tls: bool = False  # set by `fngate serve --tls-cert`, or FNGATE_TLS=1 behind a TLS edge (API Gateway)
    jobs: str = "background"  # how jobs are drained: background | inline (tests, the CLI's local mode) | sqs
    jobs_queue_url: str = ""
    egress_ports: tuple[int, ...] = ()
    egress_private_cidrs: tuple[str, ...] = ()
    deps_max_mb: int = 250
    deps_build_timeout_s: float = 120.0
    deps_allow: tuple[str, ...] = ()
    deps_deny: tuple[str, ...] = ()
    records: str = "batched"  # invocation records: batched behind the answer | sync (before it; AWS Lambda)
    shared_limits_path: Path | None = None  # file shared by the server processes for account limits; None: in-process
    mail: str = "none"  # email reports' transport: none | smtp | ses
    mail_from: str = "fngate@localhost"
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_tls: str = "none"
    smtp_user: str = ""
    smtp_password: str = field(default="", repr=False)
    scheduler: str = "local"  # what fires schedules: local | eventbridge | off
    scheduler_target_arn: str = ""
    scheduler_role_arn: str = ""
    scheduler_group: str = "default"
    clock_offset_s: float = 0.0

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, **overrides: Any) -> Settings:
        env = dict(os.environ if env is None else env)
        values: dict[str, Any] = {
            "data_dir": Path(env.get(ENV_DATA_DIR, DEFAULT_DATA_DIR)),
            "store": env.get(ENV_STORE, "sqlite"),
            "executor": env.get(ENV_EXECUTOR, "local"),
            "keyring": env.get(ENV_KEYRING, "local"),
            "table_name": env.get(ENV_TABLE, "fngate"),
            "kms_key_id": env.get(ENV_KMS_KEY_ID, ""),
            "public_host": env.get(ENV_PUBLIC_HOST, ""),
            "domain_map": json.loads(env.get(ENV_DOMAIN_MAP) or "{}"),
            "function_timeout_s": float(env.get(ENV_FUNCTION_TIMEOUT, "30")),
            "function_timeout_max_s": int(env.get(ENV_FUNCTION_TIMEOUT_MAX, "30")),
            "function_memory_mb": int(env.get(ENV_FUNCTION_MEMORY, "256")),
            "function_memory_max_mb": int(env.get(ENV_FUNCTION_MEMORY_MAX, "256")),
            "max_workers": int(env.get(ENV_MAX_WORKERS, "64")),
            "insecure_sandbox": _flag(env.get(ENV_INSECURE_SANDBOX)),
            "tls": _flag(env.get(ENV_TLS)),
            "max_body_bytes": int(env.get(ENV_MAX_BODY, "1048576")),
            "body_timeout_s": float(env.get(ENV_BODY_TIMEOUT, "30")),
            "region": env.get(ENV_AWS_REGION, env.get("AWS_DEFAULT_REGION", "")),
            "lambda_role_arn": env.get(ENV_LAMBDA_ROLE_ARN, ""),
            "lambda_image_uri": env.get(ENV_LAMBDA_IMAGE_URI, ""),
            "lambda_subnet_ids": _globs(env.get(ENV_LAMBDA_SUBNET_IDS)),
            "lambda_security_group_ids": _globs(env.get(ENV_LAMBDA_SECURITY_GROUP_IDS)),
            "egress_proxy_url": env.get(ENV_EGRESS_PROXY_URL, ""),
            "gateway_url": env.get(ENV_GATEWAY_URL, ""),
            "account_rate_per_s": float(env.get(ENV_ACCOUNT_RATE, "5000")),
            "account_concurrency": int(env.get(ENV_ACCOUNT_CONCURRENCY, "256")),
            "jobs": env.get(ENV_JOBS, "sqs" if env.get(ENV_JOBS_QUEUE_URL) else "background"),
            "jobs_queue_url": env.get(ENV_JOBS_QUEUE_URL, ""),
            "egress_ports": tuple(int(p) for p in _globs(env.get(ENV_EGRESS_PORTS))),
            "egress_private_cidrs": _globs(env.get(ENV_EGRESS_PRIVATE_CIDRS)),
            "deps_max_mb": int(env.get(ENV_DEPS_MAX_MB, "250")),
            "deps_build_timeout_s": float(env.get(ENV_DEPS_BUILD_TIMEOUT, "120")),
            "deps_allow": _globs(env.get(ENV_DEPS_ALLOW)),
            "deps_deny": _globs(env.get(ENV_DEPS_DENY)),
            # a Lambda is frozen once it has answered: nothing may be left to write behind the answer
            "records": env.get(ENV_RECORDS, "sync" if env.get(ENV_LAMBDA_NAME) else "batched"),
            "mail": env.get(ENV_MAIL, "smtp" if env.get(ENV_SMTP_HOST) else "none"),
            "mail_from": env.get(ENV_MAIL_FROM, "fngate@localhost"),
            "smtp_host": env.get(ENV_SMTP_HOST, ""),
            "smtp_port": int(env.get(ENV_SMTP_PORT, "25")),
            "smtp_tls": env.get(ENV_SMTP_TLS, "none"),
            "smtp_user": env.get(ENV_SMTP_USER, ""),
            "smtp_password": env.get(ENV_SMTP_PASSWORD, ""),
            "scheduler": env.get(ENV_SCHEDULER, "eventbridge" if env.get(ENV_SCHEDULER_TARGET_ARN) else "local"),
            "scheduler_target_arn": env.get(ENV_SCHEDULER_TARGET_ARN, ""),
            "scheduler_role_arn": env.get(ENV_SCHEDULER_ROLE_ARN, ""),
            "scheduler_group": env.get(ENV_SCHEDULER_GROUP, "default"),
            "clock_offset_s": float(env.get(ENV_CLOCK_OFFSET, "0")),
        }
        return replace(cls(**values), **overrides)

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "fngate.db"

    @property
    def function_limits(self) -> Any:
        """The per-function limits' defaults and ceilings (a ceiling is never below its default)."""
        from chalicelib.domain.limits import OperatorLimits

        timeout = max(1, int(self.function_timeout_s))
        return OperatorLimits(timeout_default_s=timeout, timeout_max_s=max(timeout, self.function_timeout_max_s),
                              memory_default_mb=self.function_memory_mb,
                              memory_max_mb=max(self.function_memory_mb, self.function_memory_max_mb))

    @property
    def deps_dir(self) -> Path:
        return self.data_dir / "deps"

    @property
    def key_dir(self) -> Path:
        return self.data_dir / "keys"
