"""The `fngate` command: run the gateway locally and administer accounts.

  fngate serve --host H --port P --data-dir D [--tls-cert F --tls-key F] [--account A]
  fngate admin bootstrap --data-dir D --account A        → one JSON object of credentials on stdout
  fngate admin create-user --data-dir D --account A --login L --role FaaS-Developer [--password-stdin]
  fngate admin rotate-master-key --data-dir D [--resume] [--remove-old-keys]   → a JSON report on stdout
  fngate admin rotate-signing-key --data-dir D    → a new token signing key; tokens of the old one verify until exp
"""

from __future__ import annotations

import argparse
import json
import logging
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


def _admin(settings: Settings) -> SimpleNamespace:
    """Only what admin commands need (no executor): they work beside a running server on the same data dir."""
    from chalicelib.clock import Clock
    from chalicelib.services.container import build_keyring, build_store
    from chalicelib.services.domains import DomainService
    from chalicelib.services.identity import IdentityService, load_signer
    from chalicelib.services.provisioning import ProvisioningService
    from chalicelib.services.secrets import SecretService

    store, keyring, clock = build_store(settings), build_keyring(settings), Clock()
    identity = IdentityService(store, keyring, load_signer(store, keyring), clock)
    provisioning = ProvisioningService(store, identity, SecretService(store, keyring, clock),
                                       DomainService(store, clock), settings.domain_map, settings.public_host)
    return SimpleNamespace(store=store, keyring=keyring, identity=identity, provisioning=provisioning)


def _identity(settings: Settings) -> Any:
    return _admin(settings).identity


def cmd_serve(args: argparse.Namespace) -> int:
    from app import app
    from chalicelib.api.transport import render_transport_error
    from chalicelib.server import serve
    from chalicelib.services.container import build_services, install

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = _settings(args)
    if not settings.public_host:  # what the Toolbelt and service discovery call this gateway
        settings = replace(settings, public_host=f"localhost:{args.port}")
    listen = "127.0.0.1" if args.host in ("0.0.0.0", "", "::") else args.host
    settings = replace(settings, self_address=f"{listen}:{args.port}", tls=bool(args.tls_cert))
    settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    services = build_services(settings)
    install(services)
    services.start_background()
    first = not services.identity.account_exists(args.account)
    services.identity.ensure_account(args.account)

    def ready(address: str) -> None:
        print(f"fngate listening on {address} (data: {settings.data_dir})", flush=True)
        if first:
            print(f"Created account '{args.account}'.", flush=True)
        print(f"Credentials: fngate admin bootstrap --data-dir {settings.data_dir} --account {args.account}",
              flush=True)

    try:
        serve(app, args.host, args.port, tls_cert=args.tls_cert, tls_key=args.tls_key,
              max_body=settings.max_body_bytes, on_ready=ready, error_renderer=render_transport_error)
    finally:
        services.close()
    return 0


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
    parser = argparse.ArgumentParser(prog="fngate", description="Self-hostable functions gateway")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the gateway")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument("--data-dir")
    serve.add_argument("--tls-cert")
    serve.add_argument("--tls-key")
    serve.add_argument("--account", default=DEFAULT_ACCOUNT, help="account created on first start")
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
        from chalicelib.domain.errors import FngateError

        if isinstance(err, FngateError):
            print(f"fngate: {err}", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    sys.exit(main())
