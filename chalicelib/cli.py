"""The `fngate` command: run the gateway locally and administer accounts.

  fngate serve --host H --port P --data-dir D [--tls-cert F --tls-key F] [--account A] [--processes N]
  fngate admin bootstrap --data-dir D --account A        → one JSON object of credentials on stdout
  fngate admin create-user --data-dir D --account A --login L --role FaaS-Developer [--password-stdin]
  fngate admin rotate-master-key --data-dir D [--resume] [--remove-old-keys]   → a JSON report on stdout
  fngate admin users|app-keys ..., fngate login/init/push/deploy/invoke/get/...  → chalicelib/devcli/
  fngate admin rotate-signing-key --data-dir D    → a new token signing key; tokens of the old one verify until exp
  fngate aws package|plan|deploy                  → the AWS stack (chalicelib/devcli/commands/aws.py)
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import multiprocessing
import os
import signal
import sys
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from chalicelib.config import Settings

DEFAULT_ACCOUNT = "local"


def _settings(args: argparse.Namespace) -> Settings:
    settings = Settings.from_env()
    if getattr(args, "data_dir", None):
        settings = replace(settings, data_dir=Path(args.data_dir))
    if getattr(args, "insecure_sandbox", False):
        settings = replace(settings, insecure_sandbox=True)
    return settings


def _admin(settings: Settings, *, create: bool = False) -> SimpleNamespace:
    """Only what admin commands need (no executor): they work beside a running server on the same data dir.
    ``create``: `fngate serve` may make the store; admin commands refuse a dir that holds none."""
    from chalicelib.clock import Clock
    from chalicelib.services.container import build_keyring, build_store
    from chalicelib.services.domains import DomainService
    from chalicelib.services.identity import IdentityService, load_signer
    from chalicelib.services.provisioning import ProvisioningService
    from chalicelib.services.secrets import SecretService

    if not create:
        _require_store(settings)
    store, keyring, clock = build_store(settings), build_keyring(settings), Clock()
    identity = IdentityService(store, keyring, load_signer(store, keyring), clock)
    provisioning = ProvisioningService(store, identity, SecretService(store, keyring, clock),
                                       DomainService(store, clock), settings.domain_map, settings.public_host)
    return SimpleNamespace(store=store, keyring=keyring, identity=identity, provisioning=provisioning)


def _require_store(settings: Settings) -> None:
    """Admin commands work on the store `fngate serve` made; never silently on a new one in a mistyped dir."""
    from chalicelib.devcli.datadir import require_store

    require_store(settings)


def _identity(settings: Settings) -> Any:
    return _admin(settings).identity


def cmd_serve(args: argparse.Namespace) -> int:
    import app  # noqa: F401  imported once here, shared by the forked server processes
    from chalicelib.server import serve

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = _settings(args)
    if not settings.public_host:  # what the Toolbelt and service discovery call this gateway
        settings = replace(settings, public_host=f"localhost:{args.port}")
    listen = "127.0.0.1" if args.host in ("0.0.0.0", "", "::") else args.host
    settings = replace(settings, self_address=f"{listen}:{args.port}", tls=bool(args.tls_cert))
    settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    processes = max(1, args.processes or os.cpu_count() or 1)
    settings = _per_process(settings, processes)
    admin = _admin(settings, create=True)  # before the processes start; closed, as a store must not cross a fork
    try:
        first = not admin.identity.account_exists(args.account)
        admin.identity.ensure_account(args.account)
    finally:
        admin.store.close()

    def ready(address: str) -> None:
        print(f"fngate listening on {address} with {processes} process{'es' if processes > 1 else ''} "
              f"(data: {settings.data_dir})", flush=True)
        if first:
            print(f"Created account '{args.account}'.", flush=True)
        print(_next_steps(address, settings.data_dir, args.account), flush=True)

    failed = multiprocessing.Event()  # set by a server process that cannot build its services
    serve(functools.partial(_gateway_process, settings, failed), args.host, args.port, processes=processes,
          tls_cert=args.tls_cert, tls_key=args.tls_key, on_ready=ready)
    return 2 if failed.is_set() else 0


def _per_process(settings: Settings, processes: int) -> Settings:
    """What each of `processes` gateway processes is given: an equal share of the machine's warm-worker cap, and,
    when there are several, the file through which they share the accounts' rate and concurrency limits (one
    process keeps them in memory: no file lock per invocation)."""
    return replace(settings, max_workers=max(1, settings.max_workers // processes),
                   shared_limits_path=settings.data_dir / "run" / "limits" if processes > 1 else None)


def _gateway_process(settings: Settings, failed: Any) -> Any:
    """Runs in each server process: its own services (store connection, executor, background loops), closed when
    the process stops; answers with the RSGI app. If they cannot be built (no sandbox, say), the whole server
    stops with one line on stderr instead of replacing the process again and again."""
    from multiprocessing.util import Finalize

    from app import app
    from chalicelib.api.invoke import LOOP_ROUTES
    from chalicelib.api.transport import render_transport_error
    from chalicelib.domain.errors import FngateError
    from chalicelib.server import ChaliceRSGI
    from chalicelib.services.container import build_services, install

    try:
        services = build_services(settings)
    except FngateError as err:
        print(f"fngate: {err}", file=sys.stderr, flush=True)
        failed.set()
        os.kill(os.getppid(), signal.SIGTERM)
        os._exit(2)
    install(services)
    services.start_background()  # the job runner: one per process, leases keep them from sharing a job
    Finalize(services, services.close, exitpriority=10)  # multiprocessing runs these as a worker process exits
    return ChaliceRSGI(app, max_body=settings.max_body_bytes, error_renderer=render_transport_error,
                       body_timeout_s=settings.body_timeout_s, loop_routes=LOOP_ROUTES)


def _self_command() -> str:
    """How the user can run this very `fngate` again: the name on PATH, the script's path, or python -m."""
    import os
    import shlex
    import shutil

    script = sys.argv[0] if sys.argv else ""
    if os.path.basename(script) == "fngate":
        found = shutil.which("fngate")
        if found and os.path.exists(script) and os.path.samefile(found, script):
            return "fngate"
        return shlex.quote(os.path.relpath(script) if not os.path.isabs(script) else script)
    return f"{shlex.quote(sys.executable)} -m chalicelib.cli"


def _next_steps(address: str, data_dir: Path, account: str) -> str:
    """The banner's commands, written so they work when pasted into a shell in this directory."""
    import shlex

    fngate, where = _self_command(), shlex.quote(str(data_dir))
    return (f"Credentials: {fngate} admin bootstrap --data-dir {where} --account {account}\n"
            f"A user:      {fngate} admin users create --data-dir {where} --account {account} --login dev "
            f"--role FaaS-Developer --role FaaS-Admin --generate-password\n"
            f"Log in:      {fngate} login --url {address} --account {account} --user dev")


def cmd_bootstrap(args: argparse.Namespace) -> int:
    """Create or find the account, provision it as seed 000 says (idempotent), print its credentials."""
    settings = _settings(args)
    admin = _admin(settings)
    creds = admin.identity.bootstrap(args.account)
    admin.provisioning.provision(args.account, public_host=settings.public_host or args.public_host)
    json.dump(creds, sys.stdout)
    sys.stdout.write("\n")
    return 0


def cmd_create_user(args: argparse.Namespace) -> int:
    identity = _identity(_settings(args))
    identity.ensure_account(args.account)
    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else None
    existing = identity.find_user(args.account, args.login)
    if existing and password:
        user = identity.set_password(args.account, args.login, password)
    elif existing:
        user = existing
    else:
        user = identity.create_user(args.account, args.login, password, args.role or ["FaaS-Developer"])
    json.dump({"accountId": args.account, "userId": user.user_id, "loginName": user.login_name,
               "roles": user.roles, "token": identity.user_token(user)}, sys.stdout)
    sys.stdout.write("\n")
    return 0


def cmd_rotate_master_key(args: argparse.Namespace) -> int:
    """New local master key (KMS: the configured key id), then every data key re-wrapped; safe to re-run."""
    from chalicelib.services.container import build_keyring, build_store
    from chalicelib.services.rotation import rotate_master_key

    settings = _settings(args)
    _require_store(settings)
    store = build_store(settings)
    try:
        report = rotate_master_key(store, build_keyring(settings), resume=args.resume,
                                   remove_old_keys=args.remove_old_keys)
    finally:
        store.close()
    json.dump(report.to_dict(), sys.stdout)
    sys.stdout.write("\n")
    return 0 if report.complete else 1


def cmd_rotate_signing_key(args: argparse.Namespace) -> int:
    from chalicelib.clock import Clock
    from chalicelib.services.identity import rotate_signing_key

    admin = _admin(_settings(args))
    try:
        json.dump(rotate_signing_key(admin.store, admin.keyring, Clock()), sys.stdout)
    finally:
        admin.store.close()
    sys.stdout.write("\n")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from chalicelib.devcli.commands import exit_codes_help

    parser = argparse.ArgumentParser(prog="fngate", description="Self-hostable functions gateway",
                                     epilog=exit_codes_help(), formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the gateway")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument("--data-dir")
    serve.add_argument("--tls-cert")
    serve.add_argument("--tls-key")
    serve.add_argument("--account", default=DEFAULT_ACCOUNT, help="account created on first start")
    serve.add_argument("--processes", type=int, default=0,
                       help="server processes on the one port (default: the number of cores)")
    serve.add_argument("--insecure-sandbox", action="store_true",
                       help="run functions with weaker isolation where the OS lacks namespaces / root")
    serve.set_defaults(func=cmd_serve)
    admin = sub.add_parser("admin", help="administer accounts").add_subparsers(dest="admin", required=True)
    boot = admin.add_parser("bootstrap", help="create or return an account and print its credentials as JSON")
    boot.add_argument("--data-dir")
    boot.add_argument("--account", required=True)
    boot.add_argument("--public-host", default="localhost:8080",
                      help="host[:port] the Toolbelt reaches the gateway at (default allowlist, service discovery)")
    boot.set_defaults(func=cmd_bootstrap)
    user = admin.add_parser("create-user", help="create a user (password from stdin) and print a token")
    user.add_argument("--data-dir")
    user.add_argument("--account", required=True)
    user.add_argument("--login", required=True)
    user.add_argument("--role", action="append", choices=["FaaS-Admin", "FaaS-Developer", "FaaS-Invocation"])
    user.add_argument("--password-stdin", action="store_true")
    user.set_defaults(func=cmd_create_user)
    rotate = admin.add_parser("rotate-master-key", help="add a master key and re-wrap every data key under it")
    rotate.add_argument("--data-dir")
    rotate.add_argument("--resume", action="store_true", help="finish an interrupted rotation; no new key")
    rotate.add_argument("--remove-old-keys", action="store_true",
                        help="afterwards delete master keys no record references any more")
    rotate.set_defaults(func=cmd_rotate_master_key)
    from chalicelib.devcli import register

    register(sub, admin)
    signing = admin.add_parser("rotate-signing-key", help="sign new tokens with a new key (old tokens stay valid)")
    signing.add_argument("--data-dir")
    signing.set_defaults(func=cmd_rotate_signing_key)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        return 130
    except Exception as err:  # the CLI prints one line, not a traceback
        from chalicelib.devcli.errors import CliError
        from chalicelib.domain.errors import FngateError

        if isinstance(err, FngateError):
            print(f"fngate: {err}", file=sys.stderr)
            return 2
        if isinstance(err, CliError):
            print(f"fngate: {err.message}" + (f"\n  hint: {err.hint}" if err.hint else ""), file=sys.stderr)
            return int(err.code)
        raise


if __name__ == "__main__":
    sys.exit(main())
