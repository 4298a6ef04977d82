"""What confines a worker: one policy dataclass (host side) and the steps a fresh child takes before it runs code.

A worker runs as its own unprivileged uid (one per live worker, from ``uid_base``), so RLIMIT_NPROC bounds its
tasks (it is ignored for root) and no worker can signal or ptrace another; in its own network namespace (only a
loopback: no way out but the egress relay, which pipes to the gateway's proxy); in its own pid, IPC, UTS and cgroup
namespaces (it sees only its own processes, shares no SysV/POSIX IPC); in its own mount namespace pivoted into a
read-only view with a private /tmp (fsview.py); with rlimits on memory, CPU, files and processes; with
PR_SET_NO_NEW_PRIVS, and PR_SET_PDEATHSIG(SIGKILL) so it dies with the zygote, which dies with the gateway.

A new pid namespace only applies to the caller's children, so the zygote itself unshares one just before each fork
and steps back with setns right after (``PidNamespaces``): the worker is pid 1 of its own namespace with no extra
process or fork, and its death takes every process of that namespace along.
The child-side functions run in the zygote's forked child (stdlib only: loaded by path there).
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import importlib.util
import os
import resource
import select
import shutil
import signal
import stat
import sys
import tempfile
import threading
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CLONE_NEWNET = 0x40000000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWPID = 0x20000000
PROCESS_NAMESPACES = CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWCGROUP
PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_NO_NEW_PRIVS = 38
PR_SET_CHILD_SUBREAPER = 36
RELAY_MODULE = "_fngate_egress_relay"  # egress_relay.py, loaded by path (the zygote has no package to import)
_MB = 1 << 20


@dataclass(frozen=True)
class SandboxPolicy:
    """Every limit and identity a worker gets; the one place to change them."""

    memory_mb: int = 256  # Python: RLIMIT_AS; Node: --max-old-space-size (its heap)
    node_address_space_mb: int = 1280  # Node: RLIMIT_AS (Node aborts below ~768 MiB; ~700 MiB is reserved idle)
    cpu_budget_s: int = 120  # RLIMIT_CPU soft: SIGXCPU → the worker asks to be recycled after the current call
    cpu_grace_s: int = 35  # hard limit = budget + grace: SIGKILL, seen as a crash
    open_files: int = 256  # RLIMIT_NOFILE
    file_size_mb: int = 10  # RLIMIT_FSIZE
    tasks: int = 32  # RLIMIT_NPROC: threads + processes of the worker's uid (Node itself uses ~11)
    uid_base: int = 200_000  # worker uids are uid_base .. uid_base + uid_count - 1 (gid = uid); no passwd entry needed
    uid_count: int = 1024
    drop_privileges: bool = True  # setuid to a worker uid (needs root)
    isolate_network: bool = True  # unshare(CLONE_NEWNET) (needs root / CAP_SYS_ADMIN)
    isolate_pids: bool = True  # own pid, IPC, UTS and cgroup namespaces (needs root)
    isolate_filesystem: bool = True  # the read-only view + private /tmp of fsview.py (needs root)
    tmp_mb: int = 16  # the private /tmp's size (tmpfs, counted as the worker's memory)
    filter_syscalls: bool = True  # the seccomp filter of seccomp.py
    guard_runtime: bool = True  # the runtimes' own layer (worker_node.js sealProcess, worker_python guard_runtime)

    def rlimits(self, language: str) -> dict[str, tuple[int, int]]:
        address_space = (self.node_address_space_mb if language == "node" else self.memory_mb) * _MB
        limits = {
            "RLIMIT_AS": (address_space, address_space),
            "RLIMIT_CPU": (self.cpu_budget_s, self.cpu_budget_s + self.cpu_grace_s),
            "RLIMIT_NOFILE": (self.open_files, self.open_files),
            "RLIMIT_FSIZE": (self.file_size_mb * _MB, self.file_size_mb * _MB),
            "RLIMIT_CORE": (0, 0),
        }
        if self.drop_privileges:  # as root it is ignored; as a shared login uid it would count the user's processes
            limits["RLIMIT_NPROC"] = (self.tasks, self.tasks)
        return limits

    def spec(self, language: str, uid: int | None, workdir: str | None) -> dict[str, Any]:
        """The JSON the zygote's child applies (enter())."""
        return {"rlimits": self.rlimits(language), "uid": uid if self.drop_privileges else None,
                "isolate_network": self.isolate_network, "isolate_pids": self.isolate_pids,
                "isolate_filesystem": self.isolate_filesystem, "tmp_mb": self.tmp_mb,
                "filter_syscalls": self.filter_syscalls, "workdir": workdir, "language": language}


class UidPool:
    """Hands out worker uids, oldest-freed first, so a uid is reused as late as possible (and only once swept).

    Its block of ``count`` uids (from ``base`` up, in steps of ``count``) is claimed for the life of the process
    with an flock, so two executors (in one process or two gateways on one host) never share a uid — sweeping one's
    worker would kill the other's. Leftovers of a gateway that died holding the block are killed on claim.
    """

    def __init__(self, base: int, count: int, blocks: int = 256) -> None:
        self._lock = threading.Lock()
        self._claim = -1
        for block in range(blocks):
            first = base + block * count
            if self._try_claim(first):
                self.first = first
                self._free = deque(range(first, first + count))
                _kill_uids(first, first + count)
                return
        raise OSError(f"no free block of {count} worker uids from {base} (more than {blocks} executors running?)")

    def _try_claim(self, first: int) -> bool:
        directory = os.path.join(tempfile.gettempdir(), "fngate-uid-blocks")
        os.makedirs(directory, mode=0o700, exist_ok=True)
        fd = os.open(os.path.join(directory, f"{first}.lock"), os.O_CREAT | os.O_RDWR | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._claim = fd
        return True

    def close(self) -> None:
        if self._claim >= 0:
            os.close(self._claim)  # releases the flock
            self._claim = -1

    def take(self) -> int | None:
        with self._lock:
            return self._free.popleft() if self._free else None

    def give(self, uid: int) -> None:
        with self._lock:
            self._free.append(uid)


def _kill_uids(first: int, end: int) -> None:
    for entry in os.listdir("/proc"):
        try:
            if entry.isdigit() and first <= os.stat(f"/proc/{entry}").st_uid < end:
                os.kill(int(entry), signal.SIGKILL)
        except OSError:
            pass


# -- child side (runs in the zygote and its children) ---------------------------------------------------------------
def load_by_path(name: str, path: Path) -> Any:
    """Import a stdlib-only module from its file, once (the zygote runs with -I -S and has no package to import)."""
    module = sys.modules.get(name)
    if module is None:
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return module


def fsview() -> Any:
    """The stdlib-only fsview module (same dir): the filesystem view, and the syscall wrappers both use."""
    return load_by_path("_fngate_fsview", Path(__file__).resolve().parent / "fsview.py")


_libc, _check = fsview().libc, fsview().check
CLONE_NEWNS = fsview().CLONE_NEWNS  # defined beside the mounts it is for


def prctl(option: int, value: int) -> None:
    _check(_libc.prctl(option, ctypes.c_ulong(value), 0, 0, 0), f"prctl({option})")


def unshare(flags: int, what: str) -> None:
    _check(_libc.unshare(flags), f"unshare({what})")


def unshare_network() -> None:
    unshare(CLONE_NEWNET, "CLONE_NEWNET")


def unshare_processes() -> None:
    unshare(PROCESS_NAMESPACES, "CLONE_NEWPID|CLONE_NEWIPC|CLONE_NEWUTS|CLONE_NEWCGROUP")


def seccomp() -> Any:
    """The stdlib-only seccomp module (same dir)."""
    return load_by_path("_fngate_seccomp", Path(__file__).resolve().parent / "seccomp.py")


def filter_syscalls() -> None:
    prctl(PR_SET_NO_NEW_PRIVS, 1)
    seccomp().install()


def egress_relay() -> Any:
    """The stdlib-only egress_relay module (one dir up); the zygote preloads it as root, so its forked workers (and
    the workers' own code, under sys.modules[RELAY_MODULE]) never read the file."""
    return load_by_path(RELAY_MODULE, Path(__file__).resolve().parent.parent / "egress_relay.py")


def drop_to(uid: int) -> None:
    """Become ``uid``/``uid`` with no supplementary groups; keep /proc/self readable (it is how imports reach the
    interpreter's files, see route_imports)."""
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    prctl(PR_SET_DUMPABLE, 1)


def enter(spec: dict[str, Any], alive_fd: int, view_root: str | None) -> None:
    """Confine the calling (freshly forked, single-threaded, root) child. ``alive_fd`` reads EOF once the zygote is
    gone (getppid() cannot tell across a pid namespace): checked after PDEATHSIG is armed, then closed. Order
    matters: namespaces and mounts need root, so they precede the uid drop, and so does raising the new network
    namespace's loopback (the egress relay listens on it); NPROC is set before the drop so the drop is judged
    against it."""
    os.setsid()
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if select.select([alive_fd], [], [], 0)[0]:  # the zygote died between fork and prctl
        os._exit(1)
    os.close(alive_fd)
    view = view_root if spec.get("isolate_filesystem") else None
    flags = (CLONE_NEWNET if spec.get("isolate_network") else 0) | (CLONE_NEWNS if view else 0)
    flags |= (PROCESS_NAMESPACES & ~CLONE_NEWPID) if spec.get("isolate_pids") else 0  # the pid one: PidNamespaces
    if flags:
        unshare(flags, hex(flags))
    if spec.get("isolate_pids"):
        _libc.sethostname(b"fngate", 6)
    for name, (soft, hard) in spec["rlimits"].items():
        resource.setrlimit(getattr(resource, name), (soft, hard))
    if spec.get("isolate_network"):
        egress_relay().bring_loopback_up()
    if view:
        fsview().enter(view, spec.get("uid"), int(spec.get("tmp_mb") or 16))
    elif spec.get("workdir"):
        os.chdir(spec["workdir"])
    if spec.get("uid") is not None:
        drop_to(spec["uid"])
    prctl(PR_SET_NO_NEW_PRIVS, 1)
    if spec.get("filter_syscalls"):
        seccomp().install("node" if spec.get("language") == "node" else "python")
    os.umask(0o077)


class PidNamespaces:
    """In the zygote: ``with pids.fresh():`` around a fork makes the child pid 1 of a new pid namespace, while the
    zygote itself (and its later children, unless asked again) stay in its own."""

    def __init__(self) -> None:
        self._own = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)

    def fileno(self) -> int:
        """The zygote's own namespace: children must close it (an fd to the host's pid namespace)."""
        return self._own

    @contextlib.contextmanager
    def fresh(self, wanted: bool) -> Any:
        if not wanted:
            yield
            return
        unshare(CLONE_NEWPID, "CLONE_NEWPID")
        try:
            yield
        finally:  # back to our own namespace for children (in the parent only: the child never returns here)
            _check(_libc.setns(self._own, CLONE_NEWPID), "setns(CLONE_NEWPID)")


def make_workdir(root: str, name: str, uid: int | None) -> str:
    """A private, empty working directory only the worker's uid can enter."""
    path = os.path.join(root, name)
    if os.path.lexists(path):  # left by a worker whose start failed before it could be swept
        shutil.rmtree(path)
    os.mkdir(path, 0o700)
    if uid is not None:
        os.chown(path, uid, uid)
    return path


def sweep(uid: int | None, pgid: int | None) -> None:
    """Kill everything the worker left behind: as its uid, kill(-1) reaches every process of that uid (escaped
    daemons included) and nothing else; without a uid, its process group is the best we have."""
    if uid is None:
        if pgid:
            with contextlib.suppress(OSError):
                os.killpg(pgid, signal.SIGKILL)
        return
    done_r, done_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)
            os.kill(-1, signal.SIGKILL)
        finally:
            os._exit(0)
    os.close(done_w)
    os.read(done_r, 1)  # EOF once the sweeper has exited
    os.close(done_r)


def probe(uid: int) -> dict[str, str]:
    """Which isolation steps work here: a throwaway child tries them; "" means it works, else the error."""
    rd, wr = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:  # whatever happens, this child never returns into its parent's code
            os.close(rd)
            report: list[str] = []
            for step in (unshare_network, unshare_processes, lambda: drop_to(uid), filter_syscalls):
                try:
                    step()
                    report.append("")
                except Exception as err:
                    report.append(str(err) or type(err).__name__)
            os.write(wr, "\n".join(report).encode())
        finally:
            os._exit(0)
    os.close(wr)
    chunks = []
    while chunk := os.read(rd, 4096):
        chunks.append(chunk)
    os.close(rd)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)
    net, pids, setuid, syscalls = ([*b"".join(chunks).decode().split("\n"), *["probe failed"] * 4])[:4]
    return {"unshare": net, "pids": pids, "setuid": setuid, "syscalls": syscalls}


def reachable(path: str) -> bool:
    """Whether an unrelated uid can list ``path``: every ancestor searchable by others, the dir readable."""
    try:
        mode = os.stat(path).st_mode
        parent = os.path.dirname(path)
        while parent and parent != path:
            if not os.stat(parent).st_mode & stat.S_IXOTH:
                return False
            path, parent = parent, os.path.dirname(parent)
    except OSError:
        return True  # missing entries stay as they are
    return bool(mode & stat.S_IROTH and mode & stat.S_IXOTH)


def route_imports() -> None:
    """In the zygote (root), once: send imports from every sys.path dir a worker uid cannot reach (a Python under
    /root, say) through an O_PATH fd opened now, as /proc/self/fd/N — resolving it skips the unreadable parents.
    Forked workers inherit the fds (kept above the worker's fds 0-3, and out of exec'd Node workers)."""
    proxies: dict[str, str] = {}
    for entry in sys.path:
        if entry and os.path.isdir(entry) and not reachable(entry):
            fd = os.open(entry, os.O_PATH | os.O_DIRECTORY)
            proxies[entry] = f"/proc/self/fd/{fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 100)}"
            os.close(fd)
    remap_imports(proxies)


def remap_imports(mapping: dict[str, str]) -> None:
    """Rewrite sys.path and every package's __path__ from host dirs to where the workers find them (an fd proxy,
    or the path inside the filesystem view); later imports in the workers then resolve there."""
    if not mapping:
        return
    ordered = sorted(mapping.items(), key=lambda item: -len(item[0]))

    def swap(path: str) -> str:
        for real, proxy in ordered:
            if path == real or path.startswith(real + os.sep):
                return proxy + path[len(real):]
        return path

    sys.path[:] = [swap(p) for p in sys.path]
    for module in list(sys.modules.values()):
        paths = getattr(module, "__path__", None)
        if isinstance(paths, list):
            paths[:] = [swap(p) for p in paths]
    sys.path_importer_cache.clear()
