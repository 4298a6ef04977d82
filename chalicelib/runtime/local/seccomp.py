"""A seccomp filter for workers: the kernel interfaces a function never needs answer EPERM.

Why: the namespaces hide the host, but an unprivileged process may still create its own user namespace (and with it
mount, network and other namespaces it "owns"), load BPF programs, set up io_uring or perf events, use keyrings —
the kernel code behind those is where container escapes come from. Container runtimes block them with a seccomp
filter; so does fngate. Denied: namespace creation and entry (``unshare``, ``setns``, ``clone`` with any CLONE_NEW*
flag), mounts (old and new API), ``pivot_root``/``chroot``, ``ptrace`` and cross-process memory access, ``bpf``,
``perf_event_open``, ``io_uring_*``, ``userfaultfd``, keyrings, module/kexec/reboot/swap/acct/syslog/quotactl,
``open_by_handle_at``; ``clone3`` answers ENOSYS (its flags sit in memory a filter cannot read, and libc then
falls back to ``clone``, whose flags it can). Other architectures and the x32 ABI are killed.

A filter is a classic BPF program over ``struct seccomp_data`` (nr at 0, arch at 4, args from 16), installed with
PR_SET_NO_NEW_PRIVS already set; it survives exec (Node) and is inherited by every process the function starts.
Stdlib only: the zygote loads this module by path.
"""

from __future__ import annotations

import ctypes
import errno
import platform

PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 22, 2
RET_KILL_PROCESS, RET_ALLOW, RET_ERRNO = 0x80000000, 0x7FFF0000, 0x00050000
NAMESPACE_FLAGS = 0x7E020080  # CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET|NEWTIME
X32_BIT = 0x40000000

# BPF opcodes: ld w abs, jmp jeq k, jmp jge k, alu and k, ret k
_LD, _JEQ, _JGE, _AND, _RET = 0x20, 0x15, 0x35, 0x54, 0x06

_DENIED_NAMES = ("unshare", "setns", "mount", "umount2", "pivot_root", "chroot", "ptrace", "process_vm_readv",
                 "process_vm_writev", "bpf", "perf_event_open", "io_uring_setup", "io_uring_enter",
                 "io_uring_register", "userfaultfd", "keyctl", "add_key", "request_key", "init_module",
                 "finit_module", "delete_module", "kexec_load", "kexec_file_load", "reboot", "swapon", "swapoff",
                 "acct", "syslog", "quotactl", "open_by_handle_at", "name_to_handle_at", "open_tree", "move_mount",
                 "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr", "sethostname", "setdomainname")
# (audit arch, {syscall name: number}) per machine
_ARCHES: dict[str, tuple[int, dict[str, int]]] = {
    "x86_64": (0xC000003E, {
        "unshare": 272, "setns": 308, "mount": 165, "umount2": 166, "pivot_root": 155, "chroot": 161, "ptrace": 101,
        "process_vm_readv": 310, "process_vm_writev": 311, "bpf": 321, "perf_event_open": 298,
        "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427, "userfaultfd": 323, "keyctl": 250,
        "add_key": 248, "request_key": 249, "init_module": 175, "finit_module": 313, "delete_module": 176,
        "kexec_load": 246, "kexec_file_load": 320, "reboot": 169, "swapon": 167, "swapoff": 168, "acct": 163,
        "syslog": 103, "quotactl": 179, "open_by_handle_at": 304, "name_to_handle_at": 303, "open_tree": 428,
        "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433, "mount_setattr": 442,
        "sethostname": 170, "setdomainname": 171, "clone": 56, "clone3": 435}),
    "aarch64": (0xC00000B7, {
        "unshare": 97, "setns": 268, "mount": 40, "umount2": 39, "pivot_root": 41, "chroot": 51, "ptrace": 117,
        "process_vm_readv": 270, "process_vm_writev": 271, "bpf": 280, "perf_event_open": 241,
        "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427, "userfaultfd": 282, "keyctl": 219,
        "add_key": 217, "request_key": 218, "init_module": 105, "finit_module": 273, "delete_module": 106,
        "kexec_load": 104, "kexec_file_load": 294, "reboot": 142, "swapon": 224, "swapoff": 225, "acct": 89,
        "syslog": 116, "quotactl": 60, "open_by_handle_at": 265, "name_to_handle_at": 264, "open_tree": 428,
        "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433, "mount_setattr": 442,
        "sethostname": 161, "setdomainname": 162, "clone": 220, "clone3": 435}),
}


class _Filter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_ushort), ("jt", ctypes.c_ubyte), ("jf", ctypes.c_ubyte), ("k", ctypes.c_uint)]


class _Program(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_Filter))]


def program(machine: str | None = None) -> list[tuple[int, int, int, int]]:
    """The filter as (code, jt, jf, k) instructions for ``machine`` (default: this one)."""
    arch, numbers = _ARCHES[machine or platform.machine()]
    eperm, enosys = RET_ERRNO | errno.EPERM, RET_ERRNO | errno.ENOSYS
    denied = [numbers[name] for name in _DENIED_NAMES]
    head = [(_LD, 0, 0, 4), (_JEQ, 1, 0, arch), (_RET, 0, 0, RET_KILL_PROCESS), (_LD, 0, 0, 0)]
    if machine == "x86_64" or (machine is None and platform.machine() == "x86_64"):
        head += [(_JGE, 0, 1, X32_BIT), (_RET, 0, 0, RET_KILL_PROCESS)]
    checks = [(_JEQ, 0, 1, nr) for nr in denied]
    body: list[tuple[int, int, int, int]] = []
    for check in checks:  # each: equal → the next instruction (EPERM), else skip it
        body += [check, (_RET, 0, 0, eperm)]
    body += [(_JEQ, 0, 1, numbers["clone3"]), (_RET, 0, 0, enosys),
             (_JEQ, 0, 4, numbers["clone"]), (_LD, 0, 0, 16), (_AND, 0, 0, NAMESPACE_FLAGS),
             (_JEQ, 1, 0, 0), (_RET, 0, 0, eperm),
             (_RET, 0, 0, RET_ALLOW)]
    return head + body


def install() -> None:
    """Install the filter on the calling process (after PR_SET_NO_NEW_PRIVS); raises OSError if the kernel refuses
    or this machine's syscall table is unknown."""
    if platform.machine() not in _ARCHES:
        raise OSError(errno.ENOSYS, f"no syscall filter for {platform.machine()}")
    instructions = program()
    array = (_Filter * len(instructions))(*[_Filter(*ins) for ins in instructions])
    prog = _Program(len(instructions), array)
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_SECCOMP, ctypes.c_ulong(SECCOMP_MODE_FILTER), ctypes.byref(prog), 0, 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"seccomp: {errno.errorcode.get(err, err)}")

