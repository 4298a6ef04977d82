'use strict';
/**
 * The one place that knows the worker's RPC bridge (chalicelib/runtime/local/protocol.py): the worker defines
 * `globalThis.__fngateRpc(method, params) -> Promise<result>`, which rejects with an Error carrying the host's
 * `.code` and `.message`. Everything else in the toolbelt calls `call()`.
 */
const crypto = require('crypto');

const NO_BRIDGE = 'com.fngate.rpc.unavailable';

function bridgeError(code, message) {
  const err = new Error(message);
  err.code = code;
  return err;
}

/**
 * Call the gateway; optionally give up after `timeoutMs` (the answer, if it comes later, is dropped).
 * @param {string} method e.g. "secret.read"
 * @param {object} params
 * @param {{timeoutMs?: number, timeoutError?: () => Error}} [opts]
 * @returns {Promise<any>}
 */
function call(method, params, opts = {}) {
  const bridge = globalThis.__fngateRpc;
  if (typeof bridge !== 'function') {
    return Promise.reject(bridgeError(NO_BRIDGE, 'The toolbelt runs outside an fngate worker (no RPC bridge)'));
  }
  const pending = Promise.resolve().then(() => bridge(method, params || {}));
  if (!(opts.timeoutMs > 0)) return pending;
  let timer;
  const deadline = new Promise((_, reject) => {
    timer = setTimeout(() => reject(opts.timeoutError ? opts.timeoutError() : bridgeError('ETIMEDOUT', 'timed out')),
      opts.timeoutMs);
  });
  return Promise.race([pending, deadline]).finally(() => clearTimeout(timer));
}

/** The invoked function's account, from the runtime variables the platform sets. */
function accountId() {
  return process.env.X_LIVEPERSON_BRAND_ID || process.env.X_LIVEPERSON_PROJECT_ID || '';
}

/** LivePerson's helper: the logging trace id when the platform console has one, else a fresh UUID. */
function traceId() {
  return typeof console.getTraceId === 'function' ? console.getTraceId() : crypto.randomUUID();
}

module.exports = { call, accountId, traceId };
