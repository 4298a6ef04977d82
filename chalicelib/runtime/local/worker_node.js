'use strict';
/*
 * fngate Node.js worker: loads one function's code and runs its invocations, one at a time.
 * Wire protocol: chalicelib/runtime/local/protocol.py (JSON lines; requests on fd 0, answers on fd 3).
 *
 * The code is a script declaring `function lambda(input, callback) {` (callback form: lambda.length >= 2) or
 * `async function lambda(input) {` (return-value form). It runs in this context wrapped like a CommonJS module,
 * with `require` limited to: node built-ins except DENIED, and packages found on NODE_PATH (the toolbelt,
 * `lp-faas-toolbelt`, lives there) — no files by path (a file the function wrote to /tmp would get an unguarded
 * require). Node's ways around `require` are closed before any code arrives (sealProcess): process.binding and
 * _linkedBinding (the native bindings, spawn_sync among them), dlopen (native addons), getBuiltinModule (guarded
 * like require), execve, mainModule, and SIGUSR1 through process.kill (the inspector). This inner layer makes
 * the OS sandbox (its seccomp filter refuses new processes) the second line, not the only one.
 *
 * Error rule (the only place it lives for Node):
 *  - callback form: callback(err) → custom-failure (err.message); a throw, sync or async (uncaughtException),
 *    or a rejection of a returned promise → runtime-exception;
 *  - return-value form: a rejection/throw of a TypeError, ReferenceError, RangeError, SyntaxError, EvalError or
 *    URIError → runtime-exception; anything else thrown (Error, its custom subclasses, strings…) → custom-failure;
 *  - either form: an unhandled rejection → runtime-exception; a result JSON cannot carry → runtime-exception.
 */
const fs = require('fs');
const os = require('os');
const path = require('path');
const util = require('util');
const vm = require('vm');
const v8 = require('v8');
const { createRequire } = require('module');
require('net'); // the egress relay's, loaded now so a startup snapshot carries it

// Where this script's siblings are: its own dir, or (started from a startup snapshot, where there is no script
// and require() is limited to built-ins) FNGATE_WORKER_DIR, read once at start.
let here = __dirname;

const OUT_FD = 3;
const DENIED = new Set(['child_process', 'cluster', 'worker_threads', 'inspector', 'repl', 'vm', 'v8',
  'trace_events', 'wasi', 'module', 'test']);
const SEALED = ['binding', '_linkedBinding', 'dlopen', 'execve', '_debugProcess', '_debugEnd'];
const RUNTIME_ERRORS = [TypeError, ReferenceError, RangeError, SyntaxError, EvalError, URIError];
const TIMEOUT_MESSAGE = 'Lambda Execution is taking too long';
const TWICE_MESSAGE = 'callback was called more than once; only the first call counts';

let lambdaFn = null;
let callbackForm = false;
let limits = { entries: 10, chars: 5000 };
let current = null; // the invocation in flight
let recycle = false;
let nextRid = 1;
const pendingRpc = new Map();

function writeLine(text) {
  const buf = Buffer.from(text + '\n', 'utf8');
  let off = 0;
  while (off < buf.length) off += fs.writeSync(OUT_FD, buf, off, buf.length - off);
}

function stderr(text) {
  try { fs.writeSync(2, text + '\n'); } catch (_) { /* stderr is best effort */ }
}

function errorMessage(err) {
  if (err instanceof Error) return err.message;
  if (typeof err === 'string') return err;
  if (err && typeof err.message === 'string') return err.message;
  try { return JSON.stringify(err); } catch (_) { return String(err); }
}

function describe(err) {
  if (err instanceof Error) return err.message ? `${err.name}: ${err.message}` : err.name;
  return errorMessage(err);
}

const failure = (kind, message) => ({ ok: false, kind, message });
const classify = (err) => (RUNTIME_ERRORS.some((C) => err instanceof C)
  ? failure('runtime-exception', describe(err)) : failure('custom-failure', errorMessage(err)));

// -- logs --------------------------------------------------------------------------------------------------------
function jsonSafe(value) {
  if (typeof value === 'string') return value;
  if (value === undefined) return null;
  if (value instanceof Error) return describe(value);
  try {
    const text = JSON.stringify(value);
    return text === undefined ? util.inspect(value) : JSON.parse(text);
  } catch (_) {
    return util.inspect(value);
  }
}

function record(inv, level, message, extras, counted = true) {
  if (inv.overflow) return;
  const size = !counted ? 0 : (typeof message === 'string' ? message.length : JSON.stringify(message).length)
    + (extras.length ? JSON.stringify(extras).length : 0);
  if (counted && (inv.logs.length >= limits.entries || inv.chars + size > limits.chars)) {
    inv.overflow = true;
    inv.logs = [];
    return;
  }
  inv.chars += size;
  inv.logs.push({ level, message, extras, timestamp: Date.now() });
}

function capture(level, args) {
  const inv = current;
  if (!inv || inv.sent) {
    stderr(`[${level}] ${util.format(...args)}`);
    return;
  }
  record(inv, level, args.length ? jsonSafe(args[0]) : '', args.slice(1).map(jsonSafe));
}

const captured = (level) => (...args) => capture(level, args);
const fnConsole = {
  debug: captured('Debug'), info: captured('Info'), log: captured('Info'), trace: captured('Debug'),
  warn: captured('Warn'), error: captured('Error'),
};

// -- invocations ---------------------------------------------------------------------------------------------------
function finish(inv, outcome) {
  if (inv.sent) return;
  inv.sent = true;
  if (current === inv) current = null;
  let logs = inv.logs;
  if (inv.overflow) {
    const message = `Function exceeded the log limits: at most ${limits.entries} entries and ${limits.chars} `
      + 'characters per invocation';
    outcome = failure('log-limit', message);
    logs = [{ level: 'Error', message, extras: [], timestamp: Date.now() }];
  }
  if (inv.warm) return;
  const base = { id: inv.id, op: 'result', logs, recycle };
  let line = null;
  if (outcome.ok) {
    try {
      line = JSON.stringify({ ...base, ok: true, result: outcome.result === undefined ? null : outcome.result });
    } catch (err) {
      outcome = failure('runtime-exception', `The function's result is not JSON-serialisable: ${describe(err)}`);
    }
  }
  if (line === null) line = JSON.stringify({ ...base, ok: false, kind: outcome.kind, message: outcome.message });
  writeLine(line);
}

function settle(inv, outcome) {
  if (inv.settled) return;
  inv.settled = true;
  finish(inv, outcome);
}

function runCallbackForm(inv, input) {
  const callback = (err, result) => {
    if (inv.settled) {
      if (!inv.sent) record(inv, 'Warn', TWICE_MESSAGE, [], false);
      return;
    }
    inv.settled = true;
    const outcome = err ? failure('custom-failure', errorMessage(err)) : { ok: true, result };
    setImmediate(() => finish(inv, outcome)); // a second, synchronous call still lands in this invocation's logs
  };
  try {
    const returned = lambdaFn(input, callback);
    if (returned && typeof returned.then === 'function') {
      returned.then(undefined, (err) => settle(inv, failure('runtime-exception', describe(err))));
    }
  } catch (err) {
    settle(inv, failure('runtime-exception', describe(err)));
  }
}

function runReturnForm(inv, input) {
  let promise;
  try {
    promise = Promise.resolve(lambdaFn(input));
  } catch (err) {
    promise = Promise.reject(err);
  }
  promise.then((result) => settle(inv, { ok: true, result }), (err) => settle(inv, classify(err)));
}

// One timer, re-armed per invocation (cheaper than a new timer each time): it fires timeout_ms after the latest
// invocation started, so whatever is current then has run out of time.
let softTimer = null;
let softTimeoutMs = 0;

function armSoftTimer(ms) {
  if (softTimer && ms === softTimeoutMs) {
    softTimer.refresh();
    return;
  }
  if (softTimer) clearTimeout(softTimer);
  softTimeoutMs = ms;
  softTimer = setTimeout(() => { if (current) settle(current, failure('timeout', TIMEOUT_MESSAGE)); }, ms);
  softTimer.unref();
}

function invoke(msg) {
  const inv = { id: msg.id, logs: [], chars: 0, overflow: false, settled: false, sent: false };
  current = inv;
  armSoftTimer(typeof msg.timeout_ms === 'number' ? Math.max(1, msg.timeout_ms) : 30000);
  if (callbackForm) runCallbackForm(inv, msg.input); else runReturnForm(inv, msg.input);
}

function uncaught(err) {
  if (current && !current.settled) settle(current, failure('runtime-exception', describe(err)));
  else stderr(`uncaught outside an invocation: ${describe(err)}`);
}

// -- the RPC bridge the toolbelt uses ------------------------------------------------------------------------------
function rpcError(code, message) {
  const err = new Error(message);
  err.code = code;
  return err;
}

Object.defineProperty(globalThis, '__fngateRpc', {
  enumerable: false,
  writable: false,
  configurable: false,
  value: (method, params) => new Promise((resolve, reject) => {
    if (!current || current.sent) {
      reject(rpcError('com.fngate.rpc.no-invocation', 'No invocation is in progress'));
      return;
    }
    const rid = nextRid++;
    writeLine(JSON.stringify({ op: 'rpc', rid, id: current.id, method, params: params === undefined ? null : params }));
    pendingRpc.set(rid, { resolve, reject });
  }),
});

function rpcResult(msg) {
  const pending = pendingRpc.get(msg.rid);
  if (!pending) return;
  pendingRpc.delete(msg.rid);
  if (msg.ok) pending.resolve(msg.result);
  else pending.reject(rpcError(msg.code || 'com.fngate.rpc.failed', msg.message || ''));
}

// -- load ----------------------------------------------------------------------------------------------------------
let relayAhead = null; // {path, port: Promise}: the egress relay, started while this worker waits for code

function egressRelay() {
  return createRequire(path.join(here, 'worker_node.js'))('./egress_relay.js');
}

let guarded = true; // the load message's `guard` (tests turn it off to probe the OS sandbox beneath)

function refuseModule(id) {
  if (!guarded) return;
  const text = String(id);
  const name = text.replace(/^node:/, '').split('/')[0];
  if (DENIED.has(name) || text.startsWith('.') || path.isAbsolute(text) || text.includes('\\')) {
    throw new Error(`Module '${id}' is not available to functions`);
  }
}

function functionRequire(filename) {
  const base = createRequire(filename);
  const guardedRequire = (id) => {
    refuseModule(id);
    return base(id);
  };
  guardedRequire.resolve = (id, options) => {
    refuseModule(id);
    return base.resolve(id, options);
  };
  return guardedRequire;
}

// Before any function code: Node's ways around the guarded require, closed for good (not configurable).
function sealProcess() {
  const fix = (name, value) => Object.defineProperty(process, name, { value, writable: false, configurable: false,
    enumerable: false });
  for (const name of SEALED) {
    if (name in process) {
      fix(name, () => { throw new Error(`process.${name} is not available to functions`); });
    }
  }
  if (typeof process.getBuiltinModule === 'function') {
    const getBuiltinModule = process.getBuiltinModule.bind(process);
    fix('getBuiltinModule', (id) => {
      refuseModule(id);
      return getBuiltinModule(id);
    });
  }
  fix('mainModule', undefined);
  const kill = process.kill.bind(process);
  fix('kill', (pid, signal) => { // SIGUSR1 would start the inspector, whose console has an unguarded require
    if (signal === 'SIGUSR1' || signal === os.constants.signals.SIGUSR1) {
      throw new Error('process.kill with SIGUSR1 is not available to functions');
    }
    return kill(pid, signal);
  });
}

function loadError(err) {
  const where = err instanceof SyntaxError && typeof err.stack === 'string' ? /^index\.js:(\d+)/.exec(err.stack) : null;
  return where ? `${describe(err)} (index.js:${where[1]})` : describe(err);
}

function compile(code, deps) {
  // require() resolves from the function's installed packages (deps/node_modules) first, then NODE_PATH
  const filename = path.join(deps || process.cwd(), 'index.js');
  const wrapper = '(function (exports, require, module, __filename, __dirname) {' + code
    + '\n;return typeof lambda === "function" ? lambda : undefined;\n})';
  const module = { exports: {} };
  const fn = new vm.Script(wrapper, { filename: 'index.js' }).runInThisContext()(
    module.exports, functionRequire(filename), module, path.join(process.cwd(), 'index.js'), process.cwd());
  if (typeof fn !== 'function') throw new Error('The code does not define a function lambda');
  return fn;
}

async function load(msg) {
  try {
    for (const key of Object.keys(process.env)) delete process.env[key];
    Object.assign(process.env, msg.env || {});
    // before any user code: the relay on this worker's loopback and HTTP(S)_PROXY pointing at it (staged beside us)
    if (process.env.FNGATE_EGRESS_SOCKET) await egressRelay().startFromEnv(process.env, relayAhead);
    if (msg.limits) limits = { entries: msg.limits.log_entries, chars: msg.limits.log_chars };
    guarded = msg.guard !== false;
    if (guarded) sealProcess();
    lambdaFn = compile(msg.code, msg.deps);
    callbackForm = lambdaFn.length >= 2;
    writeLine(JSON.stringify({ op: 'ready', form: callbackForm ? 'callback' : 'async' }));
  } catch (err) {
    writeLine(JSON.stringify({ op: 'load-error', message: loadError(err) }));
    process.exit(0);
  }
}

// -- main loop -----------------------------------------------------------------------------------------------------
function onMessage(msg) {
  if (msg.op === 'invoke') invoke(msg);
  else if (msg.op === 'rpc-result') rpcResult(msg);
  else if (msg.op === 'load') load(msg);
  else if (msg.op === 'exit') process.exit(0);
}

// While idle, before any code arrives: run the load and invoke paths once on a throwaway function, so the first
// real load and call find them compiled (a cold path costs ~1 ms each).
function warmUp() {
  lambdaFn = compile('async function lambda(input) {\n  console.info("warm", { a: [1] });\n  return { ok: input };\n}');
  const inv = { id: 0, logs: [], chars: 0, overflow: false, settled: false, sent: false, warm: true };
  current = inv;
  runReturnForm(inv, JSON.parse(JSON.stringify({ headers: [{ key: 'k', value: 'v' }], payload: { n: 1.5 } })));
  Promise.resolve().then(() => { if (current === inv) current = null; lambdaFn = null; });
}

globalThis.console = fnConsole;
warmUp();

function main() {
  here = process.env.FNGATE_WORKER_DIR || here;
  const socket = process.env.FNGATE_EGRESS_SOCKET;
  if (socket) { // ~10 ms (compile + first listen) off the load path; it needs no token, the proxy URL does
    relayAhead = { path: socket, port: egressRelay().startRelay(socket) };
    relayAhead.port.catch(() => { relayAhead = null; });
  }
  process.on('uncaughtException', uncaught);
  process.on('unhandledRejection', uncaught);
  process.on('SIGXCPU', () => { recycle = true; });
  let pending = '';
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (chunk) => {
    pending += chunk;
    let end;
    while ((end = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, end);
      pending = pending.slice(end + 1);
      if (!line) continue;
      let msg;
      try { msg = JSON.parse(line); } catch (err) { stderr(`bad protocol line: ${err.message}`); continue; }
      onMessage(msg);
    }
  });
  process.stdin.on('end', () => process.exit(0));
}

// `node --build-snapshot worker_node.js` (LocalExecutor does it once at start, with the workers' V8 flags) captures
// everything above, compiled and warmed; workers started from that blob skip ~10 ms of Node's start-up.
if (v8.startupSnapshot && v8.startupSnapshot.isBuildingSnapshot()) v8.startupSnapshot.setDeserializeMainFunction(main);
else main();
