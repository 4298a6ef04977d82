'use strict';
/*
 * Test harness: runs one async snippet that uses the toolbelt, with globalThis.__fngateRpc bridged to the pytest
 * process over stdin/stdout (JSON lines), as the real worker bridges it to the gateway.
 *   pytest → {"op": "run", "code": "..."}            harness → {"op": "rpc", "rid", "method", "params"}
 *   pytest → {"op": "rpc-result", "rid", "ok", "result" | "code", "message"}
 *   harness → {"op": "done", "ok": true, "value"} | {"op": "done", "ok": false, "error": {...}}
 * The snippet is an async function body with `tb` (the package), `Toolbelt` and `require` in scope.
 */
const readline = require('readline');

const out = (msg) => process.stdout.write(`${JSON.stringify(msg)}\n`);
console.log = (...args) => process.stderr.write(`${args.join(' ')}\n`);
console.info = console.log;
console.debug = console.log;

const pending = new Map();
let nextRid = 1;

globalThis.__fngateRpc = (method, params) => new Promise((resolve, reject) => {
  const rid = nextRid++;
  pending.set(rid, { resolve, reject });
  out({ op: 'rpc', rid, method, params: params === undefined ? null : params });
});

function describe(err) {
  if (!(err instanceof Error) && !(err instanceof DOMException)) return { thrown: err };
  const info = { name: err.name, message: err.message };
  for (const key of ['code', 'component', 'statusCode', 'originalError', 'headers', 'proxyStatus', 'error']) {
    if (err[key] !== undefined) info[key] = err[key];
  }
  if (err.cause) info.cause = { name: err.cause.name, message: err.cause.message, code: err.cause.code,
    proxyStatus: err.cause.proxyStatus };
  return info;
}

async function run(code) {
  const tb = require('lp-faas-toolbelt');
  const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor;
  try {
    const value = await new AsyncFunction('tb', 'Toolbelt', 'require', code)(tb, tb.Toolbelt, require);
    out({ op: 'done', ok: true, value: value === undefined ? null : value });
  } catch (err) {
    out({ op: 'done', ok: false, error: describe(err) });
  }
  process.exit(0);
}

readline.createInterface({ input: process.stdin }).on('line', (line) => {
  const msg = JSON.parse(line);
  if (msg.op === 'run') run(msg.code);
  else if (msg.op === 'rpc-result') {
    const waiter = pending.get(msg.rid);
    pending.delete(msg.rid);
    if (!waiter) return;
    if (msg.ok) waiter.resolve(msg.result);
    else waiter.reject(Object.assign(new Error(msg.message), { code: msg.code }));
  }
});
