'use strict';
/**
 * Toolbelt.OrchestratorClient(): invoke other functions of the account through the invocation gateway (faasGW,
 * i.e. this gateway), with an app token from the secret lp-faas-orchestrator-app-key (spec §2):
 * POST {faasGW}/api/account/{accountId}/lambdas/{uuid}/invoke?v=1&externalSystem={uuid}_{accountId}} (sic: the
 * stray "}" is LivePerson's), body {timestamp, payload, headers: [{key, value}]}.
 * Each invocation is tried up to `retries` (3) times on 500/502/504/429, network errors and timeouts, sleeping
 * attempt*100 ms; everything must end within `deadline` (≤ 25000 ms), else ...orchestrator-fn.invoke.timeout.
 */
const querystring = require('querystring');
const rpc = require('./rpc');
const { ErrorCodes, OrchestratorError, makeSpecificError, isToolbeltError, errorText } = require('./errors');
const { ErrorStrategy, ORCHESTRATOR_APP_KEY_SECRET } = require('./constants');
const { baseUrl } = require('./csdsClient');
const { readCredentials, getAccessToken } = require('./oauth2');
const { fetch } = require('./fetch');

const MAX_DEADLINE = 25000;
const RETRIES = 3;
const RETRIABLE_STATUS = [500, 502, 504, 429];
const RETRIABLE_NETWORK = ['ENOTFOUND', 'ECONNRESET', 'ETIMEDOUT', 'ESOCKETTIMEDOUT', 'ECONNREFUSED', 'EPIPE'];
const newCredsError = makeSpecificError('Orchestrator-FN');

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** The default retry rule: retriable statuses, network errors, timeouts; a proxy refusal only if transient. */
function defaultRetry(statusCode, error) {
  if (statusCode !== undefined) return RETRIABLE_STATUS.includes(statusCode);
  if (error instanceof DOMException) return error.name === 'TimeoutError';
  const cause = error && error.cause;
  if (!cause) return false;
  if (cause.code === 'EPROXY') return RETRIABLE_STATUS.includes(cause.proxyStatus);
  return RETRIABLE_NETWORK.includes(cause.code);
}

/** The answer entry of a failed invocation under ContinueOnError. */
function failedEntry(uuid, error) {
  if (error instanceof OrchestratorError && error.statusCode !== undefined) {
    return { uuid, body: error.originalError, headers: error.headers, statusCode: error.statusCode,
      error: { code: error.code, message: error.message } };
  }
  if (error instanceof DOMException) return { uuid, error: { code: error.name, message: error.message } };
  if (error instanceof TypeError && error.cause && error.cause.code) {
    return { uuid, error: { code: error.cause.code, message: error.cause.message } };
  }
  if (isToolbeltError(error)) return { uuid, error: { code: error.code, message: error.message } };
  return { uuid, body: error, error: { code: 'Unknown Error', message: errorText(error) } };
}

class OrchestratorClient {
  constructor(csds, secretClient) {
    this.csds = csds;
    this.secretClient = secretClient;
  }

  /**
   * Invoke functions, in sequence or in parallel.
   * @param {Array<{uuid: string, payload: any, headers?: Object<string, string>, retries?: number,
   *   retryFunction?: function(number=, any=): boolean}>} invocations
   * @param {number} [deadline] ms for everything, at most 25000
   * @param {{timeout?: number, json?: boolean, errorStrategy?: string, invokeParallel?: boolean}} [options]
   * @returns {Promise<Array<{uuid: string, body?: any, headers?: object, statusCode?: number,
   *   error?: {code: string, message: string}}>>}
   */
  async invoke(invocations, deadline = MAX_DEADLINE, options = {}) {
    if (deadline > MAX_DEADLINE) {
      console.warn(`Deadline exceeds maximum allowed value, ${MAX_DEADLINE}ms will be used instead`);
      deadline = MAX_DEADLINE;
    }
    const opts = finalOptions(invocations.length, deadline, options);
    const run = { cancelled: false };
    let timer;
    const expired = new Promise((_, reject) => {
      timer = setTimeout(() => {
        run.cancelled = true;
        reject(new OrchestratorError(ErrorCodes.OrchestratorFN.Timeout,
          `Invocations timed out after a deadline of ${deadline} ms`));
      }, deadline);
    });
    try {
      return await Promise.race([this.invokeAll(invocations, opts, run), expired]);
    } finally {
      clearTimeout(timer);
    }
  }

  async invokeAll(invocations, opts, run) {
    if (opts.invokeParallel) return Promise.all(invocations.map((inv) => this.invokeOne(inv, opts, run)));
    const results = [];
    for (const invocation of invocations) {
      if (run.cancelled) break;
      results.push(await this.invokeOne(invocation, opts, run));
    }
    return results;
  }

  async invokeOne(invocation, opts, run) {
    const retries = invocation.retries || RETRIES;
    const retry = invocation.retryFunction || defaultRetry;
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await this.request(invocation, opts);
      } catch (error) {
        const status = error instanceof OrchestratorError ? error.statusCode : undefined;
        if (run.cancelled || attempt >= retries || !retry(status, error)) {
          if (opts.errorStrategy === ErrorStrategy.EXIT_ON_ERROR) throw error;
          return failedEntry(invocation.uuid, error);
        }
        await sleep(attempt * 100);
      }
    }
  }

  async request(invocation, opts) {
    const account = rpc.accountId();
    const query = querystring.stringify({ v: 1, externalSystem: `${invocation.uuid}_${account}}` });
    const url = `${await baseUrl(this.csds, 'faasGW')}/api/account/${account}/lambdas/${invocation.uuid}/invoke?${query}`;
    const body = { timestamp: Date.now(), payload: invocation.payload,
      headers: Object.entries(invocation.headers || {}).map(([key, value]) => ({ key, value })) };
    const response = await fetch(url, { method: 'POST', timeout: opts.timeout, body: JSON.stringify(body),
      headers: { authorization: await this.authorization(), 'X-Request-Id': rpc.traceId(),
        'Content-Type': 'application/json' } });
    const text = await response.text();
    const headers = Object.fromEntries(response.headers.entries());
    if (!response.ok) {
      throw new OrchestratorError(ErrorCodes.OrchestratorFN.Invocation.StatusError,
        'Invocation failed with a non 2XX error', response.status, text, headers);
    }
    let parsed = text;
    if (opts.json) {
      try { parsed = JSON.parse(text); } catch (_) { /* LivePerson returns the text then */ }
    }
    return { uuid: invocation.uuid, body: parsed, headers, statusCode: response.status };
  }

  async authorization() {
    const creds = await readCredentials(this.secretClient, ORCHESTRATOR_APP_KEY_SECRET, true, newCredsError,
      ErrorCodes.OrchestratorFN.Creds);
    const { token_type: type, access_token: token } = await getAccessToken(this.csds, creds);
    return `${type} ${token}`;
  }
}

function finalOptions(count, deadline, options) {
  const perInvocation = Math.floor(deadline / Math.max(count, 1));
  const opts = { invokeParallel: false, errorStrategy: ErrorStrategy.EXIT_ON_ERROR, timeout: perInvocation,
    ...options };
  if (opts.timeout * count > deadline) {
    console.warn(`The invocation timeout exceeds the deadline, the value of ${perInvocation} ms will be used`);
    opts.timeout = perInvocation;
  }
  return opts;
}

module.exports = { OrchestratorClient, defaultRetry };
