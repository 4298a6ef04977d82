"""A worker's filesystem: a read-only view of what its runtime needs, a private /tmp and /proc, nothing else.

Why this way (no bubblewrap, no Docker): the zygote is already root and single-threaded, so it builds the view once
with plain mount(2) calls in its own private mount namespace — a read-only tmpfs "skeleton" holding read-only bind
mounts of the system dirs, the interpreter, the worker scripts, the toolbelt and the egress socket. Each worker then
unshares a copy of that namespace (copy-on-write, ~0.1 ms), mounts its own /tmp (size-capped tmpfs owned by its uid)
and a /proc of its own pid namespace, and pivots into the skeleton, detaching the host's tree. What the worker cannot
see it cannot read: the gateway's data dir, keys, config, the user's home, other workers' /tmp. Function code is
never on disk at all (it arrives over the pipe).

``plan`` (gateway side) decides what is bound where; ``build`` runs once in the zygote; ``enter`` in each worker.
Stdlib only: the zygote loads this module by path.
"""

from __future__ import annotations

import ctypes
import os
import platform
from typing import Any

CLONE_NEWNS = 0x00020000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 0x1, 0x2, 0x4, 0x8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 0x20, 0x1000, 0x4000, 0x40000
MNT_DETACH = 0x2
_SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41}.get(platform.machine())

# Host paths a worker may read (those that exist): the dynamic loader's, TLS roots, time zone. Nothing else of /etc.
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32")
ETC_ENTRIES = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "ssl", "ca-certificates", "ca-certificates.conf",
               "localtime", "nsswitch.conf", "host.conf", "hosts", "mime.types")
DEVICES = ("null", "zero", "full", "random", "urandom")
INSIDE = "/opt/fngate"  # where the project's own files appear (worker scripts, toolbelts)
EGRESS_SOCKET = "/run/fngate/egress.sock"

libc = ctypes.CDLL(None, use_errno=True)


def check(result: int, what: str) -> None:
    """Raise OSError (with errno and ``what``) when a libc call failed."""
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    check(libc.mount(source and source.encode(), target.encode(), fstype and fstype.encode(),
                       ctypes.c_ulong(flags), data and data.encode()), f"mount {target}")


def umount(target: str, flags: int = 0) -> None:
    check(libc.umount2(target.encode(), flags), f"umount {target}")


def pivot_root(new_root: str, put_old: str) -> None:
    if _SYS_PIVOT_ROOT is None:
        raise OSError(f"pivot_root: unknown syscall number on {platform.machine()}")
    check(libc.syscall(_SYS_PIVOT_ROOT, new_root.encode(), put_old.encode()), "pivot_root")


# -- gateway side -----------------------------------------------------------------------------------------------------
def plan(*, python_prefix: str, node_binary: str | None, runtime_dir: str, toolbelt_node: str | None,
         toolbelt_python: str | None, egress_socket: str | None, deps_root: str | None = None) -> dict[str, Any]:
    """The view as data: ``binds`` [host, inside, kind] and ``paths`` (host → inside, for argv/env/sys.path)."""
    binds: list[list[str]] = []
    paths: dict[str, str] = {}

    def covered(path: str) -> bool:
        return any(path == inside or path.startswith(inside.rstrip("/") + "/") for _, inside, _ in binds)

    def add(host: str | None, inside: str, kind: str = "dir") -> None:
        if host and os.path.lexists(host) and not covered(inside):
            binds.append([host, inside, kind])
            paths[host] = inside

    for path in SYSTEM_DIRS:
        add(path, path, "link" if os.path.islink(path) else "dir")
    for entry in ETC_ENTRIES:
        path = os.path.join("/etc", entry)
        add(path, path, "dir" if os.path.isdir(path) else "file")
    for device in DEVICES:
        add(f"/dev/{device}", f"/dev/{device}", "device")
    for prefix in (os.path.realpath(python_prefix),
                   os.path.dirname(os.path.dirname(os.path.realpath(node_binary))) if node_binary else None):
        if prefix and (prefix + "/").startswith("/tmp/"):  # /tmp is the worker's own: move it under INSIDE
            add(prefix, f"{INSIDE}/host{prefix}")
        elif prefix:
            add(prefix, prefix)
    add(runtime_dir, f"{INSIDE}/runtime")
    add(toolbelt_node, f"{INSIDE}/toolbelt/node")
    add(toolbelt_python, f"{INSIDE}/toolbelt/python")
    add(egress_socket, EGRESS_SOCKET, "file")
    add(deps_root, f"{INSIDE}/deps")  # installed dependency locks (read-only, like every bind)
    return {"binds": binds, "paths": paths}


def inside(view: dict[str, Any] | None, path: str) -> str:
    """Where a host path appears inside the view (unchanged without a view, or if it is not under a bind)."""
    if not view:
        return path
    for host, there in sorted(view["paths"].items(), key=lambda item: -len(item[0])):
        if path == host or path.startswith(host.rstrip("/") + "/"):
            return there + path[len(host):]
    return path


# -- zygote side ------------------------------------------------------------------------------------------------------
def build(root: str, binds: list[list[str]]) -> None:
    """Once, in the zygote (root): a private mount namespace for itself, then the read-only skeleton at ``root``."""
    check(libc.unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)")
    mount(None, "/", None, MS_REC | MS_PRIVATE)  # nothing mounted here reaches the host, and the reverse
    os.makedirs(root, mode=0o755, exist_ok=True)
    mount("fngate-view", root, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,nr_inodes=4096,mode=0755")
    for name in ("tmp", "proc", "dev", "run", "etc", ".old"):
        os.makedirs(os.path.join(root, name), mode=0o755, exist_ok=True)
    for host, there, kind in binds:
        target = root + there
        os.makedirs(os.path.dirname(target), mode=0o755, exist_ok=True)
        if kind == "link":
            os.symlink(os.readlink(host), target)
            continue
        if kind == "dir":
            os.makedirs(target, mode=0o755, exist_ok=True)
        else:
            open(target, "a").close()  # an empty file as the bind's mount point
        mount(host, target, None, MS_BIND)
        keep = MS_NOSUID | (0 if kind == "device" else MS_NODEV)
        mount(None, target, None, MS_REMOUNT | MS_BIND | MS_RDONLY | keep)
    os.symlink("/proc/self/fd", os.path.join(root, "dev/fd"))
    for number, name in enumerate(("stdin", "stdout", "stderr")):
        os.symlink(f"/proc/self/fd/{number}", os.path.join(root, "dev", name))
    mount(None, root, None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)  # the skeleton itself: read-only


def enter(root: str, uid: int | None, tmp_mb: int) -> None:
    """In a fresh worker (root, in its own mount + pid namespaces): private /tmp and /proc, then pivot into the
    view and detach the host's tree (pivot_root, not chroot: nothing of the old root stays reachable)."""
    owner = f",uid={uid},gid={uid}" if uid is not None else ""
    mount("fngate-tmp", f"{root}/tmp", "tmpfs", MS_NOSUID | MS_NODEV,
          f"size={tmp_mb}m,nr_inodes=4096,mode=0700{owner}")
    mount("proc", f"{root}/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    os.chdir(root)
    pivot_root(".", ".old")
    umount("/.old", MNT_DETACH)
    os.chdir("/tmp")
