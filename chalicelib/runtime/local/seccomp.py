"""The workers' seccomp filter: an allow list of the system calls Python and Node workers use, compiled by libseccomp.

Why: the namespaces hide the host, but the kernel itself is still reachable, and its rarely used interfaces are where
container escapes come from. So a worker may make only the calls on ``ALLOWED`` (the calls ordinary programs make:
files, memory, sockets, signals, time, threads — the core of Docker's default profile). Anything else fails: calls
named in ``DENIED`` (namespaces, mounts, ptrace, bpf, io_uring, keyrings, modules, …) answer EPERM, and every other
call, including any call a newer kernel adds, answers ENOSYS, as if the kernel did not have it (so libc falls back to
an older call where it has one). Arguments are checked where it matters:

- ``clone`` only creates threads (CLONE_THREAD set, no CLONE_NEW* flag); a new process (fork, vfork, posix_spawn,
  which all become clone without CLONE_THREAD) answers EPERM, and so do ``fork``/``vfork`` themselves. ``clone3``
  answers ENOSYS (its flags sit in memory a filter cannot read), and libc falls back to ``clone``.
- ``execve`` answers EPERM. A Node worker is started by exec'ing node after its filter is in place, so its filter
  allows exactly one ``execveat``: on descriptor ``EXEC_FD`` (above the worker's RLIMIT_NOFILE, close-on-exec — no
  process of the worker can hold that descriptor afterwards) with AT_EMPTY_PATH.
- ``socket`` only for AF_UNIX, AF_INET, AF_INET6 and AF_NETLINK (packet, vsock, alg and the rest: EAFNOSUPPORT).

libseccomp compiles the rules into the BPF program for the machine's architecture (x86_64 and aarch64 are the ones
the gateway supports; ``program(machine=...)`` builds either on any host), kills other ABIs (x32, 32-bit), and the
program is installed with PR_SET_NO_NEW_PRIVS already set; it is inherited by every thread and survives exec.
The zygote builds both programs once (``prepare``) so that forked workers only install them.
Stdlib only (ctypes over libseccomp.so.2): the zygote loads this module by path.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import platform
import socket

PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 22, 2
ACT_KILL_PROCESS, ACT_ALLOW, ACT_ERRNO = 0x80000000, 0x7FFF0000, 0x00050000
ARCHES = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}  # libseccomp's tokens (the kernel's AUDIT_ARCH values)
NAMESPACE_FLAGS = 0x7E020080  # CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET|NEWTIME
CLONE_THREAD = 0x00010000
AT_EMPTY_PATH = 0x1000
EXEC_FD = 1000  # above RLIMIT_NOFILE (sandbox.py: 256): no worker can open or dup2 a descriptor there
SOCKET_FAMILIES = (socket.AF_UNIX, socket.AF_INET, socket.AF_INET6, getattr(socket, "AF_NETLINK", 16))

_FLTATR_ACT_BADARCH = 2
_CMP_EQ, _CMP_MASKED_EQ = 4, 7
_AF_MAX = 46

ALLOWED: tuple[str, ...] = (
    # files and descriptors
    "read", "write", "readv", "writev", "pread64", "pwrite64", "preadv", "preadv2", "pwritev", "pwritev2", "open",
    "openat", "openat2", "creat", "close", "close_range", "dup", "dup2", "dup3", "fcntl", "ioctl", "lseek", "stat",
    "fstat", "lstat", "newfstatat", "statx", "statfs", "fstatfs", "access", "faccessat", "faccessat2", "readlink",
    "readlinkat", "getdents", "getdents64", "getcwd", "chdir", "fchdir", "mkdir", "mkdirat", "rmdir", "unlink",
    "unlinkat", "rename", "renameat", "renameat2", "link", "linkat", "symlink", "symlinkat", "chmod", "fchmod",
    "fchmodat", "chown", "fchown", "fchownat", "lchown", "umask", "truncate", "ftruncate", "fallocate", "fadvise64",
    "fsync", "fdatasync", "sync", "syncfs", "sync_file_range", "flock", "utime", "utimes", "utimensat", "futimesat",
    "mknod", "mknodat", "copy_file_range", "sendfile", "splice", "tee", "vmsplice", "readahead", "getxattr",
    "lgetxattr", "fgetxattr", "listxattr", "llistxattr", "flistxattr", "setxattr", "lsetxattr", "fsetxattr",
    "removexattr", "lremovexattr", "fremovexattr", "inotify_init", "inotify_init1", "inotify_add_watch",
    "inotify_rm_watch", "memfd_create", "pipe", "pipe2", "eventfd", "eventfd2", "signalfd", "signalfd4",
    "timerfd_create", "timerfd_settime", "timerfd_gettime",
    # memory
    "brk", "mmap", "munmap", "mremap", "mprotect", "madvise", "mincore", "msync", "mlock", "mlock2", "munlock",
    "mlockall", "munlockall", "membarrier", "pkey_alloc", "pkey_free", "pkey_mprotect", "remap_file_pages",
    # polling and waiting
    "poll", "ppoll", "select", "pselect6", "epoll_create", "epoll_create1", "epoll_ctl", "epoll_wait", "epoll_pwait",
    "epoll_pwait2", "futex", "futex_waitv", "nanosleep", "clock_nanosleep", "pause", "restart_syscall",
    "sched_yield", "io_setup", "io_destroy", "io_submit", "io_cancel", "io_getevents", "io_pgetevents",
    # sockets (socket itself: by family, below)
    "socketpair", "bind", "listen", "accept", "accept4", "connect", "getsockname", "getpeername", "sendto",
    "recvfrom", "sendmsg", "recvmsg", "sendmmsg", "recvmmsg", "shutdown", "setsockopt", "getsockopt",
    # threads, signals, process state
    "exit", "exit_group", "wait4", "waitid", "kill", "tkill", "tgkill", "rt_sigaction", "rt_sigprocmask",
    "rt_sigreturn", "rt_sigpending", "rt_sigtimedwait", "rt_sigqueueinfo", "rt_tgsigqueueinfo", "rt_sigsuspend",
    "sigaltstack", "set_tid_address", "set_robust_list", "get_robust_list", "rseq", "prctl", "arch_prctl",
    "getpid", "getppid", "gettid", "getuid", "geteuid", "getgid", "getegid", "getresuid", "getresgid", "getgroups",
    "getpgid", "getpgrp", "getsid", "setsid", "setpgid", "getrlimit", "setrlimit", "prlimit64", "getrusage",
    "getpriority", "setpriority", "sched_getaffinity", "sched_setaffinity", "sched_getparam", "sched_setparam",
    "sched_getscheduler", "sched_setscheduler", "sched_getattr", "sched_setattr", "sched_get_priority_max",
    "sched_get_priority_min", "sched_rr_get_interval", "capget", "pidfd_open", "pidfd_send_signal", "seccomp",
    "ioprio_get", "ioprio_set",
    # time and the machine
    "clock_gettime", "clock_getres", "gettimeofday", "time", "times", "getitimer", "setitimer", "alarm",
    "timer_create", "timer_settime", "timer_gettime", "timer_getoverrun", "timer_delete", "uname", "sysinfo",
    "getrandom", "getcpu",
    # System V IPC and POSIX queues (the worker's own IPC namespace)
    "shmget", "shmat", "shmdt", "shmctl", "semget", "semop", "semtimedop", "semctl", "msgget", "msgsnd", "msgrcv",
    "msgctl", "mq_open", "mq_unlink", "mq_timedsend", "mq_timedreceive", "mq_notify", "mq_getsetattr",
)
DENIED: tuple[str, ...] = (
    "fork", "vfork", "execve", "unshare", "setns", "mount", "umount2", "pivot_root", "chroot", "ptrace",
    "process_vm_readv", "process_vm_writev", "process_madvise", "pidfd_getfd", "kcmp", "bpf", "perf_event_open",
    "io_uring_setup", "io_uring_enter", "io_uring_register", "userfaultfd", "keyctl", "add_key", "request_key",
    "init_module", "finit_module", "delete_module", "kexec_load", "kexec_file_load", "reboot", "swapon", "swapoff",
    "acct", "syslog", "quotactl", "open_by_handle_at", "name_to_handle_at", "open_tree", "move_mount", "fsopen",
    "fsconfig", "fsmount", "fspick", "mount_setattr", "sethostname", "setdomainname", "setuid", "setgid",
    "setreuid", "setregid", "setresuid", "setresgid", "setgroups", "setfsuid", "setfsgid", "capset",
    "settimeofday", "clock_settime", "clock_adjtime", "adjtimex", "personality", "fanotify_init", "lookup_dcookie",
    "iopl", "ioperm", "modify_ldt", "vhangup", "mbind", "set_mempolicy", "migrate_pages", "move_pages",
)

_cache: dict[tuple[str, str], bytes] = {}


class _Filter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_ushort), ("jt", ctypes.c_ubyte), ("jf", ctypes.c_ubyte), ("k", ctypes.c_uint)]


class _Program(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_Filter))]


class _ArgCmp(ctypes.Structure):  # struct scmp_arg_cmp
    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int), ("datum_a", ctypes.c_uint64),
                ("datum_b", ctypes.c_uint64)]


def _errno(code: int) -> int:
    return ACT_ERRNO | (code & 0xFFFF)


def _libseccomp() -> ctypes.CDLL:
    name = ctypes.util.find_library("seccomp") or "libseccomp.so.2"
    try:
        lib = ctypes.CDLL(name, use_errno=True)
    except OSError as exc:
        raise OSError(errno.ENOSYS, f"libseccomp is not installed ({exc})") from None
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_release.argtypes = [ctypes.c_void_p]
    lib.seccomp_arch_native.restype = ctypes.c_uint32
    lib.seccomp_arch_add.argtypes = lib.seccomp_arch_remove.argtypes = [ctypes.c_void_p, ctypes.c_uint32]
    lib.seccomp_attr_set.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_uint32]
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_syscall_resolve_name_arch.argtypes = [ctypes.c_uint32, ctypes.c_char_p]
    lib.seccomp_rule_add_array.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint,
                                           ctypes.POINTER(_ArgCmp)]
    lib.seccomp_export_bpf.argtypes = [ctypes.c_void_p, ctypes.c_int]
    return lib


class _Builder:
    """One libseccomp filter context for one architecture."""

    def __init__(self, lib: ctypes.CDLL, arch: int) -> None:
        self._lib, self._arch = lib, arch
        self._ctx = lib.seccomp_init(_errno(errno.ENOSYS))
        if not self._ctx:
            raise OSError(errno.ENOMEM, "seccomp_init failed")
        if arch not in (0, _native(lib)):  # another architecture than this machine's: only that one
            self._check(lib.seccomp_arch_add(self._ctx, arch), "seccomp_arch_add")
            self._check(lib.seccomp_arch_remove(self._ctx, 0), "seccomp_arch_remove")
        self._check(lib.seccomp_attr_set(self._ctx, _FLTATR_ACT_BADARCH, ACT_KILL_PROCESS), "seccomp_attr_set")

    def rule(self, action: int, name: str, *cmps: tuple[int, int, int, int]) -> bool:
        """Add a rule; False (nothing added) when this architecture has no such call."""
        if self._lib.seccomp_syscall_resolve_name_arch(self._arch or _native(self._lib), name.encode()) < 0:
            return False
        nr = self._lib.seccomp_syscall_resolve_name(name.encode())
        array = (_ArgCmp * max(1, len(cmps)))(*[_ArgCmp(*c) for c in cmps])
        self._check(self._lib.seccomp_rule_add_array(self._ctx, action, nr, len(cmps), array), f"rule {name}")
        return True

    def export(self) -> bytes:
        fd = os.memfd_create("fngate-seccomp", os.MFD_CLOEXEC)
        try:
            self._check(self._lib.seccomp_export_bpf(self._ctx, fd), "seccomp_export_bpf")
            os.lseek(fd, 0, os.SEEK_SET)
            chunks = []
            while chunk := os.read(fd, 65536):
                chunks.append(chunk)
            return b"".join(chunks)
        finally:
            os.close(fd)
            self._lib.seccomp_release(self._ctx)

    @staticmethod
    def _check(rc: int, what: str) -> None:
        if rc < 0:
            raise OSError(-rc, f"libseccomp {what}: {os.strerror(-rc)}")


def _native(lib: ctypes.CDLL) -> int:
    return int(lib.seccomp_arch_native())


def program(machine: str | None = None, *, runtime: str = "python") -> bytes:
    """The filter (struct sock_filter[] as bytes) for ``machine`` (default: this one) and a runtime: "node" also
    gets its one execveat."""
    machine = machine or platform.machine()
    key = (machine, runtime)
    if key not in _cache:
        if machine not in ARCHES:
            raise OSError(errno.ENOSYS, f"no syscall filter for {machine}")
        _cache[key] = _build(_libseccomp(), ARCHES[machine], runtime)
    return _cache[key]


def _build(lib: ctypes.CDLL, arch: int, runtime: str) -> bytes:
    b = _Builder(lib, arch)
    eperm = _errno(errno.EPERM)
    for name in ALLOWED:
        b.rule(ACT_ALLOW, name)
    for name in DENIED:
        b.rule(eperm, name)
    b.rule(ACT_ALLOW, "clone", (0, _CMP_MASKED_EQ, CLONE_THREAD | NAMESPACE_FLAGS, CLONE_THREAD))
    b.rule(eperm, "clone", (0, _CMP_MASKED_EQ, CLONE_THREAD, 0))  # a new process
    # clone3: ENOSYS, the default (its flags sit in memory a filter cannot read; libc then falls back to clone)
    for family in range(_AF_MAX):  # other families answer "not supported", as a kernel without them would
        action = ACT_ALLOW if family in SOCKET_FAMILIES else _errno(errno.EAFNOSUPPORT)
        b.rule(action, "socket", (0, _CMP_EQ, family, 0))
    if runtime == "node":
        b.rule(ACT_ALLOW, "execveat", (0, _CMP_EQ, EXEC_FD, 0), (4, _CMP_MASKED_EQ, AT_EMPTY_PATH, AT_EMPTY_PATH))
    else:
        b.rule(eperm, "execveat")
    return b.export()


def syscall_number(name: str, machine: str | None = None) -> int:
    """The call's number on ``machine`` (default: this one), as libseccomp knows it; negative if it has none."""
    lib = _libseccomp()
    return int(lib.seccomp_syscall_resolve_name_arch(ARCHES[machine or platform.machine()], name.encode()))


def prepare() -> None:
    """Build this machine's programs now (the zygote, before it forks: workers then only install them)."""
    for runtime in ("python", "node"):
        program(runtime=runtime)


def install(runtime: str = "python") -> None:
    """Install the filter on the calling thread's process (after PR_SET_NO_NEW_PRIVS); raises OSError if the kernel
    refuses, libseccomp is missing, or this machine's architecture is not supported."""
    raw = program(runtime=runtime)
    count = len(raw) // ctypes.sizeof(_Filter)
    array = (_Filter * count).from_buffer_copy(raw)
    prog = _Program(count, array)
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_SECCOMP, ctypes.c_ulong(SECCOMP_MODE_FILTER), ctypes.byref(prog), 0, 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"seccomp: {errno.errorcode.get(err, err)}")
