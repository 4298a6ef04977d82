"""Wires the services from Settings (the factory), and hands them to the routes.

Routes call ``services()``; tests and the server install a built set with ``use_services`` — handed in, not patched.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chalicelib.clock import Clock, OffsetClock
from chalicelib.config import Settings
from chalicelib.crypto.envelope import Keyring, KmsKeyring, LocalKeyring
from chalicelib.jobs import JobQueue, JobRunner
from chalicelib.mail import Mailer, build_mailer
from chalicelib.runtime.base import Executor
from chalicelib.services.bots import BotService
from chalicelib.services.context_store import ContextStore
from chalicelib.services.deployments import DeploymentService
from chalicelib.services.domains import DomainService
from chalicelib.services.email_reports import EmailReportService
from chalicelib.services.functions import FunctionService
from chalicelib.services.identity import IdentityService, load_signer
from chalicelib.services.invocations import InvocationService
from chalicelib.services.jobs import JobService
from chalicelib.services.limiter import AccountLimiter
from chalicelib.services.logs import LogService
from chalicelib.services.people import PeopleService
from chalicelib.services.provisioning import ProvisioningService
from chalicelib.services.records import InvocationRecorder
from chalicelib.services.replay import ReplayService
from chalicelib.services.reports import ReportService
from chalicelib.services.repository import FunctionRepository
from chalicelib.services.retention import Periodic, Purger
from chalicelib.services.schedules import ScheduleService
from chalicelib.services.secrets import SecretService
from chalicelib.services.toolbelt_host import ToolbeltHost
from chalicelib.storage.base import Store

EGRESS_TMP_PREFIX = "fngate-egress-"
ALLOWLIST_TTL_S = 0.5  # a change made through another server process reaches this one's egress proxy within this
EMAIL_TICK_S = 300.0  # how often a local gateway looks for due email reports


@dataclass
class Services:
    settings: Settings
    store: Store
    keyring: Keyring
    executor: Executor
    clock: Clock
    identity: IdentityService
    functions: FunctionService
    deployments: DeploymentService
    invocations: InvocationService
    secrets: SecretService
    domains: DomainService
    provisioning: ProvisioningService
    recorder: InvocationRecorder
    jobs: JobQueue
    runner: JobRunner
    job_admin: JobService
    logs: LogService
    purger: Purger
    reports: ReportService
    email_reports: EmailReportService
    replay: ReplayService
    egress: Any = None  # the local executor's EgressProxy, when this factory built one
    toolbelt: ToolbeltHost = None  # type: ignore[assignment]  # always set by build_services
    schedules: ScheduleService = None  # type: ignore[assignment]  # always set by build_services
    scheduler: Any = None  # the LocalScheduler (FNGATE_SCHEDULER=local), started by start_background
    bots: Any = None  # BotService (Third-Party Bots connector)
    _periodic: list[Any] = field(default_factory=list)

    @property
    def people(self) -> PeopleService:
        """The account's users and app keys for its admins (over IdentityService, as the CLI uses it)."""
        return PeopleService(self.identity)

    def start_background(self) -> None:
        """What a long-running local gateway runs beside its requests: the job runner (``FNGATE_JOBS=background``)
        the purge of expired records and the local scheduler."""
        if self.settings.jobs == "background":
            self.runner.start()
            if self.scheduler is not None:
                self.scheduler.start()
        self.purger.start()
        self._periodic.append(Periodic("email-reports", self.email_reports.tick, EMAIL_TICK_S).start())

    def close(self) -> None:
        if self.scheduler is not None:
            self.scheduler.stop()
        for task in self._periodic:
            task.stop()
        self.purger.stop()
        self.runner.stop()
        self.executor.close()
        if self.egress is not None:
            self.egress.close()
            run_dir = os.path.dirname(self.egress.socket_path)
            if os.path.basename(run_dir).startswith(EGRESS_TMP_PREFIX):  # the fallback made by egress_socket_path
                with contextlib.suppress(OSError):
                    os.rmdir(run_dir)
        self.recorder.close()
        self.store.close()


def build_store(settings: Settings) -> Store:
    if settings.store == "dynamodb":
        from chalicelib.storage.dynamodb import DynamoStore

        return DynamoStore(table_name=settings.table_name, region_name=settings.region or None)
    from chalicelib.storage.sqlite import SqliteStore

    return SqliteStore(settings.sqlite_path)


def build_keyring(settings: Settings) -> Keyring:
    if settings.keyring == "kms":
        return KmsKeyring(settings.kms_key_id, region_name=settings.region or None)
    return LocalKeyring(settings.key_dir)


def egress_socket_path(settings: Settings) -> str:
    """<data_dir>/run/egress-<pid>.sock when worker uids can traverse to it; else (the CLI makes data_dir 0700) a
    per-process dir under the temp dir that they can traverse but not list."""
    run = settings.data_dir.resolve() / "run"
    if all(os.stat(d).st_mode & stat.S_IXOTH for d in (run.parent, *run.parent.parents) if d.exists()):
        for stale in run.glob("egress-*.sock"):  # of server processes that died without closing
            if not os.path.exists(f"/proc/{stale.stem.partition('-')[2]}"):
                stale.unlink(missing_ok=True)
        return str(run / f"egress-{os.getpid()}.sock")  # one per server process
    private = Path(tempfile.gettempdir()) / f"{EGRESS_TMP_PREFIX}{os.getpid()}"
    private.mkdir(mode=0o711, exist_ok=True)
    os.chmod(private, 0o711)
    return str(private / "egress.sock")


def build_egress(settings: Settings, domains: DomainService) -> Any:
    """The local executor's egress proxy (started): reads the accounts' allowlists, re-reads one when it changes."""
    from chalicelib.runtime.egress import EgressProxy, mapped_resolver, public_resolver

    routes: dict[str, str] = {}
    own_port: dict[str, list[int]] = {}
    ports = [80, 443, *settings.egress_ports]
    if settings.public_host and settings.self_address:  # functions call this gateway (Orchestrator, LpClient)
        routes[settings.public_host] = settings.self_address
        host, _, port = settings.public_host.rpartition(":") if ":" in settings.public_host else (
            settings.public_host, "", "80")
        own_port[host.strip("[]")] = [int(port)]  # the gateway's port, on the gateway's name only
    proxy = EgressProxy(domains.allowlist_for, socket_path=egress_socket_path(settings),
                        allowlist_ttl_s=ALLOWLIST_TTL_S,
                        resolver=mapped_resolver(routes, public_resolver(settings.egress_private_cidrs)),
                        allowed_ports=tuple(sorted(set(ports))), host_ports=own_port)
    domains.on_change.append(proxy.invalidate)
    return proxy.start()


def build_jobs(settings: Settings, store: Store, clock: Clock) -> tuple[JobQueue, JobRunner]:
    """The queue and its runner; the dispatcher follows ``settings.jobs`` (handlers are registered by the caller)."""
    queue = JobQueue(store, clock)
    runner = JobRunner(queue, clock)
    if settings.jobs == "sqs":
        from chalicelib.jobs.sqs import SqsDispatcher

        queue.dispatcher = SqsDispatcher(settings.jobs_queue_url, clock, region_name=settings.region or None)
    elif settings.jobs == "inline":
        queue.dispatcher = _Inline(runner)
    else:
        queue.dispatcher = runner  # wakes the background runner once started; until then it polls the store
    return queue, runner


class _Inline:
    def __init__(self, runner: JobRunner) -> None:
        self._runner = runner

    def notify(self, jobs: Any) -> None:
        self._runner.drain()


def build_executor(settings: Settings, rpc_handler: Any = None, egress: Any = None,
                   identity: IdentityService | None = None) -> Executor:
    if settings.executor == "aws_lambda":
        return build_lambda_executor(settings, identity)
    from chalicelib import toolbelt
    from chalicelib.runtime.deps import BuildLimits
    from chalicelib.runtime.local.executor import LocalExecutor

    return LocalExecutor(timeout_s=settings.function_timeout_s, max_workers=settings.max_workers,
                         insecure_sandbox=settings.insecure_sandbox, rpc_handler=rpc_handler,
                         toolbelt_node_path=toolbelt.NODE_PATH, toolbelt_python_path=toolbelt.PYTHON_PATH,
                         egress=egress, deps_root=str(settings.deps_dir.resolve()),  # the view mounts it
                         build_limits=BuildLimits(max_bytes=settings.deps_max_mb * 1024 * 1024,
                                                  timeout_s=settings.deps_build_timeout_s, allow=settings.deps_allow,
                                                  deny=settings.deps_deny))


def build_lambda_executor(settings: Settings, identity: IdentityService | None, client: Any = None,
                          iam_client: Any = None, logs_client: Any = None) -> Executor:
    """One Lambda per function, each under its account's role (unless FNGATE_LAMBDA_ROLE_ARN fixes one), with
    per-invocation tokens for the Toolbelt route and the egress proxy."""
    from chalicelib.aws.function_roles import FunctionRoles
    from chalicelib.aws.log_groups import FunctionLogGroups
    from chalicelib.runtime.aws_lambda import LambdaExecutor, ToolbeltAccess
    from chalicelib.runtime.deps import BuildLimits
    from chalicelib.services.toolbelt_host import route_path

    region = settings.region or None
    roles = None if settings.lambda_role_arn else FunctionRoles(iam_client, region_name=region)
    access = None
    if identity is not None:
        access = ToolbeltAccess(mint=identity.function_token, route=route_path, gateway_url=settings.gateway_url,
                                egress_proxy_url=settings.egress_proxy_url)
    return LambdaExecutor(client, region_name=region, role_arn=settings.lambda_role_arn,
                          image_uri=settings.lambda_image_uri, timeout_s=int(settings.function_timeout_s),
                          csds_domain=settings.public_host, roles=roles, subnet_ids=settings.lambda_subnet_ids,
                          security_group_ids=settings.lambda_security_group_ids, access=access,
                          log_groups=FunctionLogGroups(logs_client, region_name=region),
                          build_limits=BuildLimits(max_bytes=settings.deps_max_mb * 1024 * 1024,
                                                   timeout_s=settings.deps_build_timeout_s, allow=settings.deps_allow,
                                                   deny=settings.deps_deny))


def build_limiter(settings: Settings) -> AccountLimiter:
    """Per-account admission: in this process, or shared by every server process through a file."""
    if settings.shared_limits_path is not None:
        from chalicelib.services.shared_limiter import SharedAccountLimiter

        return SharedAccountLimiter(settings.shared_limits_path, settings.account_rate_per_s,
                                    settings.account_rate_per_s, settings.account_concurrency)
    return AccountLimiter(settings.account_rate_per_s, settings.account_rate_per_s, settings.account_concurrency)


def build_services(settings: Settings, *, store: Store | None = None, keyring: Keyring | None = None,
                   executor: Executor | None = None, clock: Clock | None = None,
                   mailer: Mailer | None = None) -> Services:
    """Everything a gateway process needs; pass parts in to replace them (tests, benchmarks)."""
    clock = clock or (OffsetClock(settings.clock_offset_s) if settings.clock_offset_s else Clock())
    store = store or build_store(settings)
    keyring = keyring or build_keyring(settings)
    secrets, domains = SecretService(store, keyring, clock), DomainService(store, clock)
    host = ToolbeltHost(ContextStore(store, clock), secrets.rpc_methods, settings.domain_map,
                        settings.public_host or "localhost:8080", "http")
    identity = IdentityService(store, keyring, load_signer(store, keyring), clock)
    egress = build_egress(settings, domains) if executor is None and settings.executor == "local" else None
    try:
        executor = executor or build_executor(settings, rpc_handler=host, egress=egress, identity=identity)
    except BaseException:
        if egress is not None:
            egress.close()
        raise
    repo = FunctionRepository(store, fresh=settings.store == "sqlite")
    jobs, runner = build_jobs(settings, store, clock)
    deployments = DeploymentService(repo, executor, clock, jobs)
    runner.register(*deployments.handlers())
    recorder = InvocationRecorder(store, sync=settings.records == "sync")
    limiter = build_limiter(settings)
    provisioning = ProvisioningService(store, identity, secrets, domains, settings.domain_map, settings.public_host)
    invocations = InvocationService(repo, deployments, executor, recorder, clock, limiter)
    functions = FunctionService(repo, clock, deployments.idle, settings.function_limits)
    schedules, scheduler = build_schedules(settings, store, repo, invocations, jobs, clock)
    runner.register(*schedules.handlers())
    deployments.on_undeploy.append(schedules.forget_function)
    functions.on_delete.append(schedules.forget_function)
    bots = BotService(store, keyring, clock, jobs, invocations, repo, settings.domain_map)
    runner.register(*bots.handlers())
    reports = ReportService(recorder.stats, repo, clock)
    email_reports = EmailReportService(store, jobs, reports, repo, mailer or build_mailer(settings), clock,
                                       settings.mail_from)
    runner.register(*email_reports.handlers())
    replay = ReplayService(store, keyring, repo, clock)
    replay.invocations, invocations.keeper = invocations, replay
    return Services(settings=settings, store=store, keyring=keyring, executor=executor, clock=clock,
                    identity=identity, functions=functions, deployments=deployments, jobs=jobs, runner=runner,
                    job_admin=JobService(jobs), invocations=invocations, secrets=secrets, domains=domains,
                    provisioning=provisioning, recorder=recorder, egress=egress, bots=bots, toolbelt=host,
                    logs=LogService(store, repo, clock), purger=Purger(store, clock),
                    reports=reports, email_reports=email_reports, replay=replay, schedules=schedules,
                    scheduler=scheduler)


def build_schedules(settings: Settings, store: Store, repo: FunctionRepository, invocations: InvocationService,
                    jobs: JobQueue, clock: Clock) -> tuple[ScheduleService, Any]:
    """The schedule service and what fires it: a LocalScheduler thread, or EventBridge kept in sync (AWS)."""
    sync = None
    if settings.scheduler == "eventbridge":
        from chalicelib.scheduler.eventbridge import EventBridgeSync

        sync = EventBridgeSync(settings.scheduler_target_arn, settings.scheduler_role_arn, settings.scheduler_group,
                               region_name=settings.region or None)
    schedules = ScheduleService(store, repo, invocations, jobs, clock, sync=sync)
    if settings.scheduler != "local":
        return schedules, None
    from chalicelib.scheduler.local import LocalScheduler

    scheduler = LocalScheduler(schedules.fire_due, clock)
    schedules.on_change.append(scheduler.wake)
    return schedules, scheduler


_current: Services | None = None
_lock = threading.Lock()


def services() -> Services:
    """The process's services, built from the environment on first use (as on AWS Lambda)."""
    global _current
    if _current is None:
        with _lock:
            if _current is None:
                _current = build_services(Settings.from_env())
    return _current


@contextlib.contextmanager
def use_services(built: Services) -> Iterator[Services]:
    global _current
    previous, _current = _current, built
    try:
        yield built
    finally:
        _current = previous


def install(built: Services) -> None:
    """Make ``built`` the process's services (the local server does this once at start)."""
    global _current
    _current = built
