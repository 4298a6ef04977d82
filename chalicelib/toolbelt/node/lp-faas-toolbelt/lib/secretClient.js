'use strict';
/**
 * Toolbelt.SecretClient(): read and update the account's secrets through the gateway (RPC "secret.read" {key} and
 * "secret.update" {key, value}, both answering {key, value}).
 *
 * Caching, decided for fngate: LivePerson caches reads for 5 minutes, so a rotated secret shows up late. Here a read
 * is a pipe round trip to the gateway, and rotation must be seen on the next read (issue 5), so the default TTL is 0:
 * every read asks the gateway (which never caches). `readSecret(key, {useCache})` is kept for compatibility, and
 * `SecretClient({cache: {ttl: ms}})` opts into a per-process cache of that TTL; updateSecret always refreshes the
 * cached entry, so a function sees its own update at once.
 */
const rpc = require('./rpc');
const { ErrorCodes, makeSpecificError, errorText } = require('./errors');
const { SYSTEM_SECRET_PREFIX, MAX_SECRET_SIZE } = require('./constants');

const newError = makeSpecificError('SecretClient');
const cache = new Map(); // key → {value, at}; shared by every SecretClient of the process, like LivePerson's
const SECRET_CODES = new Set(Object.values(ErrorCodes.Secret));

function hostError(err, fallbackMessage) {
  if (err && SECRET_CODES.has(err.code)) return newError(err.code, err.message);
  return newError(ErrorCodes.Secret.Failure, `${fallbackMessage}: ${errorText(err)}`);
}

class SecretClient {
  /**
   * @param {{cache?: {ttl?: number}}} [options] ttl in ms; 0 (the default) disables the cache
   */
  constructor(options = {}) {
    this.ttl = Number(options && options.cache && options.cache.ttl) || 0;
  }

  /**
   * Read a secret.
   * @param {string} key
   * @param {{useCache?: boolean, timeout?: number}} [options] timeout in ms (default 5000)
   * @returns {Promise<{key: string, value: any}>}
   */
  async readSecret(key, options = {}) {
    const { useCache = true, timeout = 5000 } = options || {};
    const hit = cache.get(key);
    if (useCache && this.ttl > 0 && hit && Date.now() - hit.at < this.ttl) return { key, value: hit.value };
    let result;
    try {
      result = await rpc.call('secret.read', { key }, { timeoutMs: timeout,
        timeoutError: () => newError(ErrorCodes.Secret.Timeout, `Reading secret ${key} timed out after ${timeout} ms`) });
    } catch (err) {
      if (err && err.component === 'SecretClient') throw err;
      throw hostError(err, `Reading secret ${key} failed`);
    }
    cache.set(key, { value: result.value, at: Date.now() });
    return { key: result.key, value: result.value };
  }

  /**
   * Update an existing secret (functions cannot create secrets, nor change system secrets).
   * @param {{key: string, value: any}} secret
   * @param {{timeout?: number}} [options]
   * @returns {Promise<{key: string, value: any}>}
   */
  async updateSecret({ key, value } = {}, options = {}) {
    const timeout = (options && options.timeout) || 5000;
    checkUpdatable(key, value);
    let result;
    try {
      result = await rpc.call('secret.update', { key, value }, { timeoutMs: timeout,
        timeoutError: () => newError(ErrorCodes.Secret.Timeout, `Updating secret ${key} timed out after ${timeout} ms`) });
    } catch (err) {
      if (err && err.component === 'SecretClient') throw err;
      throw hostError(err, `Updating secret ${key} failed`);
    }
    cache.set(key, { value: result.value, at: Date.now() });
    return { key: result.key, value: result.value };
  }
}

/** LivePerson's client-side checks; the gateway checks again (it is the boundary). */
function checkUpdatable(key, value) {
  if (typeof key !== 'string' || !key) throw newError(ErrorCodes.Secret.Invalid, 'A secret key is required');
  if (key.startsWith(SYSTEM_SECRET_PREFIX)) {
    throw newError(ErrorCodes.Secret.SystemSecret, 'You are not allowed to update secrets added by the system');
  }
  let text;
  try {
    text = JSON.stringify(value);
  } catch (err) {
    throw newError(ErrorCodes.Secret.Invalid, `Provided secret value cannot be stringified: ${errorText(err)}`);
  }
  if (text !== undefined && text.length > MAX_SECRET_SIZE) {
    throw newError(ErrorCodes.Secret.Invalid, 'Provided secret value exceeds allowed length of 16kb');
  }
}

module.exports = { SecretClient, secretCache: cache };
