'use strict';
/**
 * A proxy-aware `fetch`. Node's global fetch (undici) ignores HTTP(S)_PROXY, so inside an fngate worker it cannot
 * reach anything; `Toolbelt.fetch(url, init)` has the same signature and returns a real WHATWG `Response`, but sends
 * through the egress proxy. Supported `init`: method, headers, body (anything `new Response(body)` accepts), redirect
 * ('follow' | 'manual' | 'error'), signal; fngate extensions: `timeout` (ms) and `tls` ({ca, cert, key,
 * rejectUnauthorized}). Failures reject like fetch: TypeError('fetch failed', {cause}), a timeout with a
 * DOMException named TimeoutError, an abort with the signal's reason.
 */
const { sendFollowing, REDIRECT_STATUSES } = require('./transport');

const NULL_BODY_STATUSES = new Set([101, 204, 205, 304]);

function headersObject(init) {
  const out = {};
  if (!init) return out;
  new Headers(init).forEach((value, name) => { out[name] = value; });
  return out;
}

async function prepareBody(body, headers) {
  if (body === undefined || body === null) return undefined;
  const wrapped = new Response(body);
  const type = wrapped.headers.get('content-type');
  if (type && !headers['content-type']) headers['content-type'] = type;
  return Buffer.from(await wrapped.arrayBuffer());
}

function fetchError(err) {
  if (err instanceof DOMException) return err;
  if (err && err.timedOut) return new DOMException('The operation was aborted due to timeout', 'TimeoutError');
  return new TypeError('fetch failed', { cause: err });
}

function toResponse(res, method) {
  const headers = new Headers();
  for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) {
    try { headers.append(res.rawHeaders[i], res.rawHeaders[i + 1]); } catch (_) { /* invalid header: skip */ }
  }
  const empty = method === 'HEAD' || NULL_BODY_STATUSES.has(res.statusCode);
  const response = new Response(empty ? null : res.body, { status: res.statusCode, statusText: res.statusMessage,
    headers });
  Object.defineProperty(response, 'url', { value: res.url.href });
  Object.defineProperty(response, 'redirected', { value: res.redirects > 0 });
  return response;
}

async function requestParts(input, init) {
  if (typeof Request !== 'undefined' && input instanceof Request) {
    const body = input.body ? Buffer.from(await input.arrayBuffer()) : undefined;
    return { url: input.url, method: init.method || input.method, headers: init.headers || input.headers,
      body: init.body !== undefined ? init.body : body };
  }
  return { url: String(input), method: init.method || 'GET', headers: init.headers, body: init.body };
}

/**
 * fetch through the egress proxy.
 * @param {string|URL|Request} input
 * @param {RequestInit & {timeout?: number, tls?: object}} [init]
 * @returns {Promise<Response>}
 */
async function proxyFetch(input, init = {}) {
  const parts = await requestParts(input, init);
  const method = String(parts.method).toUpperCase();
  const headers = headersObject(parts.headers);
  let url;
  let body;
  try {
    url = new URL(parts.url);
    if ((method === 'GET' || method === 'HEAD') && parts.body !== undefined && parts.body !== null) {
      throw new TypeError('Request with GET/HEAD method cannot have body.');
    }
    body = await prepareBody(parts.body, headers);
  } catch (err) {
    throw err instanceof TypeError ? err : new TypeError(err.message);
  }
  headers.accept = headers.accept || '*/*';
  headers['accept-encoding'] = headers['accept-encoding'] || 'gzip, deflate, br';
  headers['user-agent'] = headers['user-agent'] || 'node';
  const redirect = init.redirect || 'follow';
  const timeout = Number(init.timeout) || 0;
  let res;
  try {
    res = await sendFollowing({ url, method, headers, body, signal: init.signal || undefined, tls: init.tls,
      decompress: true, deadline: timeout ? Date.now() + timeout : 0, timeoutMs: timeout },
    { follow: redirect === 'follow', max: 20 });
  } catch (err) {
    throw fetchError(err);
  }
  if (redirect === 'error' && REDIRECT_STATUSES.has(res.statusCode) && res.headers.location) {
    throw new TypeError('fetch failed', { cause: new Error('unexpected redirect') });
  }
  return toResponse(res, method);
}

module.exports = { fetch: proxyFetch, headersObject };
