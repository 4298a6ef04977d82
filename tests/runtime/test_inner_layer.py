"""The runtimes' own layer: a function's ways to start a process (or reach what could) are refused inside the
runtime, before the OS sandbox (tests/runtime/test_sandbox.py proves its seccomp filter refuses the same)."""

from __future__ import annotations

from chalicelib.runtime.local.executor import LocalExecutor
from tests.runtime.conftest import NODE, deployed, run

NODE_ESCAPES = """const fs = require('fs');
async function attempt(fn) {
  try { const value = await fn(); return value === undefined ? 'undefined' : 'reached'; }
  catch (err) { return err.message; }
}
async function lambda(input) {
  fs.writeFileSync('/tmp/escape.js', "module.exports = require('child_process');");
  return {
    binding: await attempt(() => process.binding('spawn_sync')),
    linkedBinding: await attempt(() => process._linkedBinding('spawn_sync')),
    dlopen: await attempt(() => process.dlopen({ exports: {} }, '/tmp/escape.node')),
    builtin: await attempt(() => process.getBuiltinModule('node:child_process')),
    builtinFs: await attempt(() => process.getBuiltinModule('fs').readFileSync),
    mainModule: await attempt(() => process.mainModule),
    module: await attempt(() => require('module')),
    fileByPath: await attempt(() => require('/tmp/escape.js')),
    relative: await attempt(() => require('../../tmp/escape.js')),
    resolve: await attempt(() => require.resolve('/tmp/escape.js')),
    dynamicImport: await attempt(() => import('child_process')),
    workerThreads: await attempt(() => require('worker_threads')),
    nodeTest: await attempt(() => require('node:test')),
    redefine: await attempt(() => Object.defineProperty(process, 'binding', { value: () => 1 })),
    reassign: await attempt(() => { process.binding = () => 1; return process.binding('x'); }),
    inspector: await attempt(() => process.kill(process.pid, 'SIGUSR1')),
    inspectorByNumber: await attempt(() => process.kill(process.pid, 10)),
  };
}
"""


def test_node_functions_cannot_reach_bindings_addons_or_unguarded_require(executor: LocalExecutor) -> None:
    found = run(executor, deployed(executor, NODE, NODE_ESCAPES)).result
    assert found.pop("builtinFs") == "reached"  # the guard lets ordinary modules through
    assert found.pop("mainModule") == "undefined"
    assert found.pop("dynamicImport").startswith("A dynamic import callback was not specified")
    assert found.pop("redefine") == "Cannot redefine property: binding"
    assert found.pop("reassign") == "process.binding is not available to functions"
    assert found == {
        "binding": "process.binding is not available to functions",
        "linkedBinding": "process._linkedBinding is not available to functions",
        "dlopen": "process.dlopen is not available to functions",
        "builtin": "Module 'node:child_process' is not available to functions",
        "module": "Module 'module' is not available to functions",
        "fileByPath": "Module '/tmp/escape.js' is not available to functions",
        "relative": "Module '../../tmp/escape.js' is not available to functions",
        "resolve": "Module '/tmp/escape.js' is not available to functions",
        "workerThreads": "Module 'worker_threads' is not available to functions",
        "nodeTest": "Module 'node:test' is not available to functions",
        "inspector": "process.kill with SIGUSR1 is not available to functions",
        "inspectorByNumber": "process.kill with SIGUSR1 is not available to functions",
    }

