"""Function dependencies: resolved and locked at deploy (the build step), installed once per lock into a
content-addressed cache, and mounted read-only into the workers of every function with that lock.

Node.js packages come from npm (``npm install --package-lock-only`` resolves and locks, ``npm ci`` installs the
lock), Python packages from PyPI as wheels only (``pip install --dry-run --report`` resolves, ``pip install
--no-deps`` installs the pinned set). No package code runs at build time: npm lifecycle scripts are not run
(``--ignore-scripts``) and wheels have no install step. The installers themselves run as an unprivileged build
uid where the interpreter and npm are readable by other users (else — as under a home dir of mode 0700 — as the
gateway's user, logged at start; no package code runs either way). The registry is the standard pip/npm
configuration (PIP_* and NPM_CONFIG_* variables, the system's pip.conf / npmrc). A failure of the installer is a
BuildFailed with the installer's own message.

Cache layout: ``<root>/<key>/`` holds ``node_modules/`` or the Python packages, plus ``fngate-lock.json``; the key
is ``node-<sha256>`` / ``python-<sha256>`` of the resolved lock, so a second function with the same lock reuses
the directory. ``<root>`` is traversable but not listable by workers. ``<root>/.build/specs/<hash>`` remembers the
lock a declaration resolved to, as a lockfile would: deploying the same declaration again (a redeploy, another
function) reuses it without asking the registry; ``fngate`` re-resolves once that file is removed.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chalicelib.domain.errors import BuildFailed, ValidationFailed
from chalicelib.domain.validation import validate_dependencies

log = logging.getLogger(__name__)
BUILD_UID = 199_999  # installers run as this uid (below the workers' block), never as the gateway
LOCK_FILE = "fngate-lock.json"
_PASS_ENV = ("PATH", "LANG", "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "NODE_EXTRA_CA_CERTS",
             "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy")
_PASS_PREFIXES = ("PIP_", "NPM_CONFIG_", "npm_config_")


@dataclass(frozen=True)
class BuildLimits:
    max_bytes: int = 250 * 1024 * 1024  # Lambda's unzipped package limit
    timeout_s: float = 120.0
    allow: tuple[str, ...] = ()  # package name globs allowed as declared dependencies (empty: any)
    deny: tuple[str, ...] = ()  # globs refused anywhere in the resolved tree


@dataclass
class _Build:
    language: str
    declared: dict[str, str]
    work: Path
    deadline: float
    env: dict[str, str] = field(default_factory=dict)


def declared(dependencies: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """The manifest's ``[{key, value}]`` as {name: version spec} ("" or "*" = any version)."""
    return {str(d["key"]).strip(): str(d.get("value") or "").strip() for d in dependencies if d.get("key")}


class DependencyBuilder:
    def __init__(self, root: str | Path, limits: BuildLimits | None = None, *, build_uid: int | None = BUILD_UID,
                 npm: str | None = None, python: str | None = None) -> None:
        self.root = Path(root)
        self.limits = limits or BuildLimits()
        self._npm = npm or shutil.which("npm")
        self._python = python or sys.executable
        tools = [os.path.dirname(os.path.realpath(t)) for t in (self._python, self._npm) if t]
        self._uid = build_uid if build_uid is not None and os.geteuid() == 0 and all(map(_reachable, tools)) else None
        if build_uid is not None and os.geteuid() == 0 and self._uid is None:
            log.warning("dependency installers run as the gateway's user: %s is not readable by other users",
                        " or ".join(t for t in tools if not _reachable(t)))
        self.root.mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o711)  # workers reach <root>/<key> by name; they cannot list the others
        self._scratch = self.root / ".build"
        self._scratch.mkdir(mode=0o700, exist_ok=True)
        if self._uid is not None:
            os.chown(self._scratch, self._uid, self._uid)  # installers' caches and staging dirs live here

    def path(self, key: str) -> Path:
        return self.root / key

    def build(self, language: str, dependencies: Iterable[Mapping[str, Any]]) -> str:
        """The cache key of the installed lock for these dependencies ("" when there are none)."""
        deps = declared(dependencies)
        if not deps:
            return ""
        self._check_names(deps)
        spec = self._scratch / "specs" / hashlib.sha256(json.dumps([language, sorted(deps.items())]).encode()
                                                          ).hexdigest()[:40]
        known = spec.read_text().strip() if spec.exists() else ""
        if known and (self.path(known) / LOCK_FILE).exists():
            self._check_denied(json.loads((self.path(known) / LOCK_FILE).read_text())["packages"])
            return known  # resolved before: the lock stays until the declaration changes
        work = Path(tempfile.mkdtemp(prefix="stage-", dir=self._scratch))
        if self._uid is not None:
            os.chown(work, self._uid, self._uid)
        job = _Build(language, deps, work, time.monotonic() + self.limits.timeout_s, self._env(work))
        try:
            lock = self._resolve_node(job) if language == "node" else self._resolve_python(job)
            self._check_denied(lock["packages"])
            key = f"{language}-{hashlib.sha256(json.dumps(lock, sort_keys=True).encode()).hexdigest()[:40]}"
            if not (self.path(key) / LOCK_FILE).exists():  # else: installed before, for this function or another
                installed = self._install_node(job) if language == "node" else self._install_python(job, lock)
                self._check_size(installed)
                (installed / LOCK_FILE).write_text(json.dumps(lock, sort_keys=True))
                self._publish(installed, key)
            spec.parent.mkdir(mode=0o700, exist_ok=True)
            spec.write_text(key)
            return key
        finally:
            shutil.rmtree(work, ignore_errors=True)

    # -- rules ----------------------------------------------------------------------------------------------------
    def _check_names(self, deps: dict[str, str]) -> None:
        try:  # the manifest's rule again: nothing else ever reaches an installer's command line
            validate_dependencies([{"key": name, "value": spec} for name, spec in deps.items()])
        except ValidationFailed as err:
            raise BuildFailed(detail=f"Invalid dependency: {err.message}") from None
        for name in deps:
            if self.limits.allow and not any(fnmatch.fnmatchcase(name, p) for p in self.limits.allow):
                raise BuildFailed(detail=f"Dependency {name!r} is not on this gateway's allow list")
        self._check_denied(deps)

    def _check_denied(self, names: Iterable[str]) -> None:
        for name in names:
            if any(fnmatch.fnmatchcase(name, p) for p in self.limits.deny):
                raise BuildFailed(detail=f"Package {name!r} is on this gateway's deny list")

    def _check_size(self, directory: Path) -> None:
        total = sum(p.stat().st_size for p in directory.rglob("*") if p.is_file() and not p.is_symlink())
        if total > self.limits.max_bytes:
            raise BuildFailed(detail=f"Dependencies take {total / 1e6:.1f} MB; the limit is "
                                     f"{self.limits.max_bytes / 1e6:.0f} MB")

    def _publish(self, installed: Path, key: str) -> None:
        for path in [installed, *installed.rglob("*")]:  # read-only for everyone, whoever built it
            if not path.is_symlink():
                os.chmod(path, 0o755 if path.is_dir() else 0o644 | (path.stat().st_mode & 0o111))
        try:
            os.rename(installed, self.path(key))
        except OSError:  # a concurrent build of the same lock won: keep its copy
            if not (self.path(key) / LOCK_FILE).exists():
                raise

    # -- Node -------------------------------------------------------------------------------------------------------
    def _resolve_node(self, job: _Build) -> dict[str, Any]:
        if not self._npm:
            raise BuildFailed(detail="npm is not installed on this gateway: Node.js dependencies cannot be built")
        app = job.work / "app"
        app.mkdir()
        (app / "package.json").write_text(json.dumps({"name": "fngate-function", "version": "1.0.0",
                                                      "private": True, "dependencies": {
                                                          n: v or "*" for n, v in job.declared.items()}}))
        self._own(app)
        self._run(job, [self._npm, "install", "--package-lock-only", "--ignore-scripts", "--no-audit", "--no-fund",
                        "--loglevel=error"], app, "npm could not resolve the dependencies")
        packages = json.loads((app / "package-lock.json").read_text()).get("packages", {})
        return {"packages": {path.rsplit("node_modules/", 1)[-1]: {"version": meta.get("version"),
                                                                   "integrity": meta.get("integrity")}
                             for path, meta in packages.items() if path and not meta.get("dev")}}

    def _install_node(self, job: _Build) -> Path:
        app = job.work / "app"
        self._run(job, [self._npm or "npm", "ci", "--ignore-scripts", "--omit=dev", "--no-audit", "--no-fund",
                        "--loglevel=error"], app, "npm could not install the dependencies")
        for name in ("package.json", "package-lock.json"):
            (app / name).unlink(missing_ok=True)
        shutil.rmtree(app / ".npm", ignore_errors=True)
        return app

    # -- Python -------------------------------------------------------------------------------------------------------
    def _resolve_python(self, job: _Build) -> dict[str, Any]:
        wanted = job.work / "requirements.in"
        wanted.write_text("".join(f"{n}{_pep440(v)}\n" for n, v in job.declared.items()))
        report = job.work / "report.json"
        self._own(wanted)
        self._run(job, [self._python, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--only-binary=:all:",
                        "--report", str(report), "--quiet", "-r", str(wanted)], job.work,
                  "pip could not resolve the dependencies")
        data = json.loads(report.read_text())
        packages = {i["metadata"]["name"].lower(): {"version": i["metadata"]["version"],
                                                     "sha256": (i.get("download_info", {}).get("archive_info", {})
                                                                .get("hashes", {}).get("sha256"))}
                    for i in data.get("install", [])}
        return {"packages": packages, "python": f"{sys.version_info.major}.{sys.version_info.minor}"}

    def _install_python(self, job: _Build, lock: dict[str, Any]) -> Path:
        pinned = job.work / "requirements.lock"
        pinned.write_text("".join(f"{n}=={m['version']}\n" for n, m in sorted(lock["packages"].items())))
        target = job.work / "site"
        self._own(pinned)
        self._run(job, [self._python, "-m", "pip", "install", "--no-deps", "--only-binary=:all:", "--no-compile",
                        "--target", str(target), "--quiet", "-r", str(pinned)], job.work,
                  "pip could not install the dependencies")
        return target

    # -- running the installers -----------------------------------------------------------------------------------
    def _env(self, work: Path) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k in _PASS_ENV or k.startswith(_PASS_PREFIXES)}
        return {**env, "HOME": str(work), "PIP_CACHE_DIR": str(self._scratch / "pip-cache"),
                "npm_config_cache": str(self._scratch / "npm-cache"), "PIP_DISABLE_PIP_VERSION_CHECK": "1",
                "npm_config_update_notifier": "false", "PYTHONNOUSERSITE": "1"}

    def _own(self, path: Path) -> None:
        if self._uid is not None:
            os.chown(path, self._uid, self._uid)

    def _run(self, job: _Build, argv: list[str], cwd: Path, what: str) -> None:
        left = job.deadline - time.monotonic()
        if left <= 0:
            raise BuildFailed(detail=f"The build took longer than {self.limits.timeout_s:.0f} s")
        try:
            done = subprocess.run(argv, cwd=cwd, env=job.env, capture_output=True, text=True, timeout=left,
                                  user=self._uid, group=self._uid, extra_groups=[] if self._uid is not None else None,
                                  stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise BuildFailed(detail=f"The build took longer than {self.limits.timeout_s:.0f} s") from None
        except OSError as exc:
            raise BuildFailed(detail=f"{what}: {exc}") from None
        if done.returncode != 0:
            message = (done.stderr.strip() or done.stdout.strip())[-2000:]
            raise BuildFailed(detail=f"{what}: {message}")


def _reachable(directory: str) -> bool:
    """Whether another uid can enter ``directory`` and read it (every ancestor searchable by others)."""
    path = Path(directory)
    return all(os.stat(p).st_mode & 0o001 for p in [path, *path.parents]) and bool(os.stat(path).st_mode & 0o004)


def _pep440(spec: str) -> str:
    """An npm-style or bare version ("1.2.3", "^1.2", "*", "") as a pip requirement suffix."""
    spec = spec.strip()
    if spec in ("", "*", "latest"):
        return ""
    if spec[0] in "<>=!~":
        return spec
    if spec[0] == "^":
        return f"~={spec[1:]}" if spec[1:].count(".") >= 1 else f">={spec[1:]}"
    return f"=={spec}"
