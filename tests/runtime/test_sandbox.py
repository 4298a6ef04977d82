"""Issue 8: a function sees only itself. Each test is an attack a function would try, in Node.js and Python where the
runtimes differ, and asserts it fails while the gateway and other workers carry on."""

from __future__ import annotations

import errno
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from chalicelib.runtime.local import seccomp
from chalicelib.runtime.local.executor import LocalExecutor
from chalicelib.runtime.local.sandbox import SandboxPolicy
from tests.runtime.conftest import GATEWAY_SECRET, NODE, PYTHON, deployed, idle_pid, run, target

ROOT = Path(__file__).resolve().parents[2]

# One probe per runtime: given a list of paths, report for each what reading / listing / writing it gives.
PROBE = {
    PYTHON: """import os
def lambda_handler(input):
    out = {}
    for path in input['payload']['paths']:
        try:
            if os.path.isdir(path):
                out[path] = 'listed ' + ','.join(sorted(os.listdir(path)))
            else:
                with open(path, 'rb') as f:
                    out[path] = 'read ' + f.read(64).decode(errors='replace')
        except OSError as err:
            out[path] = type(err).__name__
    for path in input['payload'].get('writes', []):
        try:
            with open(path, 'w') as f:
                f.write('pwned')
            out['w:' + path] = 'written'
        except OSError as err:
            out['w:' + path] = type(err).__name__
    return out
""",
    NODE: """const fs = require('fs');
async function lambda(input) {
  const out = {};
  for (const path of input.payload.paths) {
    try {
      const dir = fs.existsSync(path) && fs.statSync(path).isDirectory();
      if (dir) out[path] = 'listed ' + fs.readdirSync(path).sort().join(',');
      else out[path] = 'read ' + fs.readFileSync(path).subarray(0, 64).toString();
    } catch (err) { out[path] = err.code; }
  }
  for (const path of input.payload.writes || []) {
    try { fs.writeFileSync(path, 'pwned'); out['w:' + path] = 'written'; } catch (err) { out['w:' + path] = err.code; }
  }
  return out;
}
""",
}
MISSING = {"FileNotFoundError", "ENOENT"}
DENIED = {"OSError", "EROFS", "PermissionError", "EACCES", "FileNotFoundError", "ENOENT"}


@pytest.fixture(scope="module")
def gateway_files(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Things a gateway host holds: a data dir with a key (world-readable on purpose: the view, not the mode bits,
    must hide it) and a file in the user's home."""
    data = tmp_path_factory.mktemp("gateway-data")
    (data / "master.key").write_text("TOP-SECRET-KEY")
    os.chmod(data, 0o755)
    os.chmod(data / "master.key", 0o644)
    home_file = Path.home() / f".fngate-sandbox-probe-{secrets.token_hex(4)}"
    home_file.write_text("HOME-SECRET")
    yield {"data": str(data), "key": str(data / "master.key"), "home": str(Path.home()), "home_file": str(home_file)}
    home_file.unlink()


def probe(executor: LocalExecutor, runtime: str, paths: list[str], writes: list[str] | None = None) -> dict[str, str]:
    t = deployed(executor, runtime, PROBE[runtime])
    return run(executor, t, {"paths": paths, "writes": writes or []}).result


# -- 1. filesystem -----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("runtime", [NODE, PYTHON])
def test_cannot_read_the_gateways_keys_data_or_the_users_home(executor: LocalExecutor, runtime: str,
                                                              gateway_files: dict[str, str]) -> None:
    found = probe(executor, runtime, [gateway_files["key"], gateway_files["data"], gateway_files["home_file"],
                                      str(ROOT / "chalicelib"), str(ROOT / ".venv"), "/etc/shadow", "/etc/passwd"])
    assert set(found.values()) <= MISSING, found  # not "denied": they are not there at all
    assert not any("SECRET" in value for value in found.values())


@pytest.mark.parametrize("runtime", [NODE, PYTHON])
def test_sees_only_a_fixed_read_only_view(executor: LocalExecutor, runtime: str) -> None:
    found = probe(executor, runtime, ["/", "/opt/fngate", "/dev", "/etc", "/opt/fngate/deps"],
                  writes=["/pwned", "/usr/pwned", "/etc/pwned", "/opt/fngate/toolbelt/python/pwned",
                          "/opt/fngate/runtime/worker_node.js", "/dev/pwned", "/opt/fngate/deps/pwned", "/tmp/mine"])
    top = set(found["/"].removeprefix("listed ").split(","))
    assert top <= {".old", "bin", "dev", "etc", "lib", "lib32", "lib64", "libx32", "opt", "proc", "root", "run",
                   "sbin", "tmp", "usr"}, top
    assert found["/opt/fngate"] in ("listed deps,runtime,toolbelt", "listed deps,runtime")  # toolbelt: if configured
    assert found["/opt/fngate/deps"] in DENIED  # installed locks are reached by key, never listed
    assert found["/dev"] == "listed fd,full,null,random,stderr,stdin,stdout,urandom,zero"
    assert "shadow" not in found["/etc"] and "passwd" not in found["/etc"]
    writes = {k: v for k, v in found.items() if k.startswith("w:")}
    assert writes.pop("w:/tmp/mine") == "written"
    assert set(writes.values()) <= DENIED, writes


def test_home_shows_at_most_the_interpreter_never_the_users_files(executor: LocalExecutor,
                                                                 gateway_files: dict[str, str]) -> None:
    home = gateway_files["home"]
    found = probe(executor, PYTHON, [home])
    entries = set(found[home].removeprefix("listed ").split(",")) if found[home].startswith("listed") else set()
    real = {entry for entry in os.listdir(home)}
    # only a bind's parent dirs (an interpreter installed under the home, say) may appear, empty but for the bind
    assert os.path.basename(gateway_files["home_file"]) not in entries
    assert entries <= {entry for entry in real if sys.base_prefix.startswith(os.path.join(home, entry))}


@pytest.mark.parametrize("runtime", [NODE, PYTHON])
def test_tmp_is_private_to_each_worker_and_capped(executor: LocalExecutor, runtime: str) -> None:
    writer = {PYTHON: "def lambda_handler(input):\n    open('/tmp/' + input['payload'], 'w').write('mine')\n"
                      "    import os\n    return sorted(os.listdir('/tmp'))\n",
              NODE: "const fs = require('fs');\nasync function lambda(input) {\n"
                    "  fs.writeFileSync('/tmp/' + input.payload, 'mine');\n"
                    "  return fs.readdirSync('/tmp').sort();\n}\n"}
    a, b = deployed(executor, runtime, writer[runtime]), deployed(executor, runtime, writer[runtime])
    assert run(executor, a, "a-file").result == ["a-file"]
    assert run(executor, b, "b-file").result == ["b-file"]  # a's file is not in b's /tmp
    filler = ("def lambda_handler(input):\n    written = 0\n    try:\n        for n in range(64):\n"
              "            with open(f'/tmp/f{n}', 'wb') as f:\n                f.write(b'x' * (4 << 20))\n"
              "            written += 4\n    except OSError as err:\n        return [written, err.__class__.__name__]\n"
              "    return [written, None]\n")
    written, error = run(executor, deployed(executor, PYTHON, filler)).result
    assert error == "OSError" and written <= SandboxPolicy().tmp_mb  # ENOSPC at the cap, not the host's disk


@pytest.mark.parametrize("runtime", [NODE, PYTHON])
def test_no_open_descriptor_leads_outside(executor: LocalExecutor, runtime: str) -> None:
    code = {PYTHON: "import os\ndef lambda_handler(input):\n    out = {}\n    for fd in os.listdir('/proc/self/fd'):\n"
                    "        try:\n            out[fd] = os.readlink('/proc/self/fd/' + fd)\n"
                    "        except OSError:\n            pass\n    return out\n",
            NODE: "const fs = require('fs');\nasync function lambda() {\n  const out = {};\n"
                  "  for (const fd of fs.readdirSync('/proc/self/fd')) {\n"
                  "    try { out[fd] = fs.readlinkSync('/proc/self/fd/' + fd); } catch (e) {}\n  }\n"
                  "  return out;\n}\n"}[runtime]
    links = run(executor, deployed(executor, runtime, code)).result
    for fd, link in links.items():  # pipes, sockets, epoll/event fds, /dev/null, its own /proc; nothing of the host
        assert link.split(":")[0] in ("pipe", "socket", "anon_inode") or link in ("/dev/null", "/dev/urandom") \
            or link.startswith(("/proc/", "/opt/fngate/")), (fd, link)


# -- 2. identity and processes ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("runtime", [NODE, PYTHON])
def test_sees_only_its_own_processes(executor: LocalExecutor, runtime: str) -> None:
    code = {PYTHON: "import os\ndef lambda_handler(input):\n"
                    "    return [os.getpid(), sorted(int(p) for p in os.listdir('/proc') if p.isdigit())]\n",
            NODE: "const fs = require('fs');\nasync function lambda() {\n"
                  "  return [process.pid, fs.readdirSync('/proc').filter((p) => /^\\d+$/.test(p)).map(Number)];\n}\n"}
    pid, pids = run(executor, deployed(executor, runtime, code[runtime])).result
    assert pid == 1 and pids == [1]  # pid 1 of its own namespace; the gateway and other workers do not exist here


@pytest.mark.parametrize("runtime", [NODE, PYTHON])
def test_cannot_read_the_gateways_command_line_or_environment(executor: LocalExecutor, runtime: str) -> None:
    me = os.getpid()
    found = probe(executor, runtime, [f"/proc/{me}/environ", f"/proc/{me}/cmdline", "/proc/1/environ"])
    assert found[f"/proc/{me}/environ"] in MISSING and found[f"/proc/{me}/cmdline"] in MISSING
    assert GATEWAY_SECRET not in found["/proc/1/environ"]  # pid 1 is the worker itself


def test_its_own_command_line_names_no_host_paths_of_the_gateway(executor: LocalExecutor) -> None:
    code = {PYTHON: "def lambda_handler(input):\n    return open('/proc/self/cmdline', 'rb').read().decode()\n",
            NODE: "const fs = require('fs');\nasync function lambda() {\n"
                  "  return fs.readFileSync('/proc/self/cmdline').toString();\n}\n"}
    for runtime, source in code.items():
        cmdline = run(executor, deployed(executor, runtime, source)).result
        assert "fngate-workers-" not in cmdline and "toolbelt" not in cmdline, cmdline  # (Python: the zygote's)


KILLER = {
    PYTHON: "import os, signal\ndef lambda_handler(input):\n    out = []\n    for pid in input['payload']:\n"
            "        try:\n            os.kill(pid, signal.SIGKILL)\n            out.append('killed')\n"
            "        except OSError as err:\n            out.append(err.__class__.__name__)\n    return out\n",
    NODE: "async function lambda(input) {\n  return input.payload.map((pid) => {\n"
          "    try { process.kill(pid, 'SIGKILL'); return 'killed'; } catch (e) { return e.code; }\n  });\n}\n",
}


@pytest.mark.parametrize("runtime", [NODE, PYTHON])
def test_cannot_signal_the_gateway_the_zygote_or_other_workers(executor: LocalExecutor, runtime: str) -> None:
    victim = deployed(executor, PYTHON, "def lambda_handler(input):\n    return 'alive'\n")
    victim_pid = idle_pid(executor, victim)
    zygote_pid = executor._zygote._proc.pid  # type: ignore[union-attr]
    results = run(executor, deployed(executor, runtime, KILLER[runtime]), [os.getpid(), zygote_pid, victim_pid]).result
    assert "killed" not in results, results
    assert run(executor, victim).result == "alive" and idle_pid(executor, victim) == victim_pid


def test_kill_minus_one_reaches_nothing_outside(executor: LocalExecutor) -> None:
    victim = deployed(executor, NODE, "async function lambda() {\n  return 'alive';\n}\n")
    victim_pid = idle_pid(executor, victim)
    code = ("import os, signal\ndef lambda_handler(input):\n    try:\n        os.kill(-1, signal.SIGKILL)\n"
            "    except OSError as err:\n        return err.__class__.__name__\n    return 'sent'\n")
    assert run(executor, deployed(executor, PYTHON, code)).result == "ProcessLookupError"  # nobody to signal
    assert run(executor, victim).result == "alive" and idle_pid(executor, victim) == victim_pid


SYSCALLS = """import ctypes, threading
libc = ctypes.CDLL(None, use_errno=True)
def attempt(nr, *args):
    result = libc.syscall(nr, *args)
    return 0 if result >= 0 else ctypes.get_errno()
def lambda_handler(input):
    nr = input['payload']
    buf = ctypes.create_string_buffer(256)
    out = {
        'unshare(NEWUSER)': attempt(nr['unshare'], 0x10000000),
        'clone(NEWUSER)': attempt(nr['clone'], 0x10000000 | 17, 0, 0, 0, 0),
        'clone(a process)': attempt(nr['clone'], 17, 0, 0, 0, 0),
        'clone(a thread in a new namespace)': attempt(nr['clone'], 0x10000 | 0x100 | 0x800 | 0x20000000, 0, 0, 0, 0),
        'clone3': attempt(nr['clone3'], buf, 88),
        'execve': attempt(nr['execve'], b'/bin/sh', 0, 0),
        'execveat': attempt(nr['execveat'], 0, b'', 0, 0, 0x1000),
        'mount': attempt(nr['mount'], b'none', b'/tmp', b'tmpfs', 0, 0),
        'io_uring_setup': attempt(nr['io_uring_setup'], 4, buf),
        'keyctl': attempt(nr['keyctl'], 0, -3, 0),
        'ptrace(TRACEME)': attempt(nr['ptrace'], 0, 0, 0, 0),
        'bpf': attempt(nr['bpf'], 0, buf, 48),
        'socket(AF_PACKET)': attempt(nr['socket'], 17, 3, 0),
        'socket(AF_VSOCK)': attempt(nr['socket'], 40, 1, 0),
        'a call not on the list': attempt(nr['cachestat'], 0, 0, 0, 0),
    }
    worker = threading.Thread(target=lambda: None)
    worker.start()
    worker.join()
    out['threads'] = 'work'
    return out
"""
NAMES = ("unshare", "clone", "clone3", "execve", "execveat", "mount", "io_uring_setup", "keyctl", "ptrace", "bpf",
         "socket")


def test_kernel_interfaces_a_function_never_needs_are_refused(bare_executor: LocalExecutor) -> None:
    numbers = {name: seccomp.syscall_number(name) for name in NAMES} | {"cachestat": 451}  # 451 on both arches
    found = run(bare_executor, deployed(bare_executor, PYTHON, SYSCALLS), numbers).result
    assert found.pop("clone3") == errno.ENOSYS  # so libc falls back to clone, whose flags the filter can see
    assert found.pop("a call not on the list") == errno.ENOSYS  # as if this kernel did not have it
    assert found.pop("clone(a thread in a new namespace)") in (errno.ENOSYS, errno.EPERM)
    assert found.pop("threads") == "work"
    assert (found.pop("socket(AF_PACKET)"), found.pop("socket(AF_VSOCK)")) == (errno.EAFNOSUPPORT,) * 2
    assert found == dict.fromkeys(found, errno.EPERM), found


# -- starting a process: refused by the runtime's own layer and, beneath it, by the syscall filter ------------------
PY_SPAWNS = """import os, subprocess
def attempt(fn):
    try:
        fn()
        return 'started'
    except OSError as err:
        return err.strerror or str(err)
def lambda_handler(input):
    return {'fork': attempt(os.fork), 'subprocess': attempt(lambda: subprocess.run(['/bin/true'])),
            'posix_spawn': attempt(lambda: os.posix_spawn('/bin/true', ['true'], {})),
            'execv': attempt(lambda: os.execv('/bin/true', ['true'])), 'system': status(lambda: os.system('true'))}
def status(fn):
    try:
        return fn()  # os.system answers a status, not an error
    except OSError as err:
        return err.strerror
"""
NODE_SPAWNS = """async function lambda(input) {
  const attempt = (fn) => { try { const r = fn(); return r && r.error ? r.error.code : 'started'; }
                            catch (err) { return err.code || err.message; } };
  const cp = () => require('child_process');
  const found = { execSync: attempt(() => cp().execSync('true')),
                  spawnSync: attempt(() => cp().spawnSync('/bin/true')) };
  if (input.payload) found.binding = attempt(() => process.binding('spawn_sync'));
  return found;
}
"""


def test_python_function_cannot_start_a_process_inside_the_runtime(executor: LocalExecutor) -> None:
    found = run(executor, deployed(executor, PYTHON, PY_SPAWNS)).result
    assert found == {"fork": "os.fork is not available to functions",
                     "subprocess": "subprocess is not available to functions",
                     "posix_spawn": "os.posix_spawn is not available to functions",
                     "execv": "os.execv is not available to functions",
                     "system": "os.system is not available to functions"}


def test_python_function_cannot_start_a_process_beneath_the_runtime(bare_executor: LocalExecutor) -> None:
    found = run(bare_executor, deployed(bare_executor, PYTHON, PY_SPAWNS)).result
    assert found.pop("system") == 127 << 8  # the status of a shell that could not be started
    assert found == dict.fromkeys(found, "Operation not permitted"), found


def test_node_function_cannot_start_a_process_inside_the_runtime(executor: LocalExecutor) -> None:
    found = run(executor, deployed(executor, NODE, NODE_SPAWNS), True).result
    assert found == {"execSync": "Module 'child_process' is not available to functions",
                     "spawnSync": "Module 'child_process' is not available to functions",
                     "binding": "process.binding is not available to functions"}


def test_node_function_cannot_start_a_process_beneath_the_runtime(bare_executor: LocalExecutor) -> None:
    found = run(bare_executor, deployed(bare_executor, NODE, NODE_SPAWNS)).result
    assert found == {"execSync": "EPERM", "spawnSync": "EPERM"}


# -- 3. environment ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("runtime", [NODE, PYTHON])
def test_environment_holds_only_the_functions_own_and_the_runtimes_variables(executor: LocalExecutor,
                                                                             runtime: str) -> None:
    code = {PYTHON: "import os\ndef lambda_handler(input):\n    return dict(os.environ)\n",
            NODE: "async function lambda() {\n  return process.env;\n}\n"}[runtime]
    t = target(runtime, code, {"MY_VAR": "mine"})
    executor.deploy(t)
    env = run(executor, t).result
    allowed = {"PATH", "LANG", "HOME", "MY_VAR", "X_LIVEPERSON_BRAND_ID", "X_LIVEPERSON_PROJECT_ID",
               "X_LIVEPERSON_FUNCTION_UUID", "X_LIVEPERSON_CSDS_DOMAIN", "FNGATE_EGRESS_SOCKET", "FNGATE_EGRESS_TOKEN",
               "HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "NODE_PATH", "PYTHONPATH"}
    assert set(env) <= allowed, set(env) - allowed
    assert env["MY_VAR"] == "mine" and GATEWAY_SECRET not in env
    assert not any(key.startswith(("AWS_", "FNGATE_")) and key not in allowed for key in env)


# -- 4. network (beyond tests/runtime/test_egress*.py and test_local_faults.py) ------------------------------------
def test_cannot_reach_the_gateways_abstract_unix_sockets(executor: LocalExecutor) -> None:
    name = f"fngate-test-{secrets.token_hex(4)}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind("\0" + name)
        server.listen()
        code = ("import socket\ndef lambda_handler(input):\n    s = socket.socket(socket.AF_UNIX)\n    try:\n"
                "        s.connect('\\0' + input['payload'])\n        return 'connected'\n"
                "    except OSError as err:\n        return err.__class__.__name__\n")
        assert run(executor, deployed(executor, PYTHON, code), name).result == "ConnectionRefusedError"


def test_shares_no_sysv_ipc_with_other_workers(bare_executor: LocalExecutor) -> None:
    executor = bare_executor  # ctypes: beneath the runtime's own layer
    code = ("import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\ndef lambda_handler(input):\n"
            "    flags = 0o1666 if input['payload'] == 'create' else 0o666\n"  # IPC_CREAT | 0666
            "    return libc.shmget(0xF6A7E, 4096, flags) >= 0\n")
    assert run(executor, deployed(executor, PYTHON, code), "create").result is True
    assert run(executor, deployed(executor, PYTHON, code), "attach").result is False


# -- 5. accounts -------------------------------------------------------------------------------------------------------
def test_two_accounts_and_two_versions_never_share_a_worker(executor: LocalExecutor) -> None:
    code = "from time import monotonic\nSTARTED = monotonic()\ndef lambda_handler(input):\n    return STARTED\n"
    a, b = target(PYTHON, code, account="le11111111"), target(PYTHON, code, account="le22222222")
    v2 = target(PYTHON, code, account="le11111111")
    v2 = type(v2)(**{**v2.__dict__, "function_uuid": a.function_uuid, "manifest_version": 2})
    for t in (a, b, v2):
        executor.deploy(t)
    pids = {idle_pid(executor, t) for t in (a, b, v2)}
    assert len(pids) == 3
    assert len({run(executor, t).result for t in (a, b, v2)}) == 3  # three interpreters, three module states


# -- 6. refusing to run less isolated --------------------------------------------------------------------------------
_NO_CAPS = ["setpriv", "--bounding-set", "-sys_admin,-setuid,-setgid,-net_admin", "--inh-caps", "-all"]
_STARTER = """
import json, sys
from chalicelib.domain.errors import FngateError
from chalicelib.runtime.local import seccomp
from chalicelib.runtime.local.executor import LocalExecutor
try:
    ex = LocalExecutor(spares=0, insecure_sandbox=sys.argv[1] == "insecure")
except FngateError as err:
    print(json.dumps({"refused": err.message}))
    sys.exit(0)
from chalicelib.runtime.base import Target
t = Target(account_id="le1", function_uuid="f", manifest_version=1, runtime="python3.11",
           code="import os\\ndef lambda_handler(input):\\n    return os.getuid()\\n", environment={}, function_name="t")
ex.deploy(t)
print(json.dumps({"ran": ex.invoke(t, {"headers": [], "payload": None}).result, "policy": ex._policy.__dict__}))
ex.close()
"""


def _start_without_privileges(mode: str) -> dict[str, Any]:
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        pytest.skip("needs root and setpriv to take the capabilities away")
    done = subprocess.run([*_NO_CAPS, sys.executable, "-c", _STARTER, mode], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_without_the_mechanisms_the_executor_refuses_and_names_what_is_missing() -> None:
    message = _start_without_privileges("strict")["refused"]
    for step in ("unshare(CLONE_NEWNET)", "pid/IPC/UTS namespaces", "read-only filesystem view",
                 "setuid to an unprivileged worker uid", "--insecure-sandbox"):  # (seccomp works without root)
        assert step in message, message


def test_insecure_sandbox_runs_without_them_when_asked() -> None:
    started = _start_without_privileges("insecure")
    assert started["ran"] == 0  # the gateway's own uid: exactly what the flag warns about
    assert not any(started["policy"][field] for field in ("drop_privileges", "isolate_network", "isolate_pids",
                                                           "isolate_filesystem"))


def test_fngate_serve_refuses_with_one_clear_line(tmp_path: Path) -> None:
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        pytest.skip("needs root and setpriv to take the capabilities away")
    done = subprocess.run([*_NO_CAPS, sys.executable, "-m", "chalicelib.cli", "serve", "--port", "0",
                           "--data-dir", str(tmp_path / "data")], cwd=ROOT, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode != 0
    assert "--insecure-sandbox" in done.stderr and "Traceback" not in done.stderr


# -- helpers -----------------------------------------------------------------------------------------------------------
def _processes_of(uid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        try:
            if entry.isdigit() and os.stat(f"/proc/{entry}").st_uid == uid and _running(int(entry)):
                found.append(int(entry))
        except OSError:
            pass
    return found


def _wait_gone(pids: Callable[[], list[int]], timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        alive = [pid for pid in pids() if _running(pid)]
        if not alive:
            return
        time.sleep(0.05)
    raise AssertionError(f"still running: {alive}")


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
