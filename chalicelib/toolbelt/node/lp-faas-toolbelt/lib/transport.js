'use strict';
/**
 * One HTTP exchange over the egress proxy (proxy.js), and redirect following where every hop is a new exchange,
 * so every hop is checked against the allowlist again (spec §3). https targets: CONNECT tunnel + tls.connect over
 * it (TLS is end to end; the proxy sees only host:port). http targets: absolute-form requests to the proxy.
 */
const http = require('http');
const net = require('net');
const tls = require('tls');
const zlib = require('zlib');
const { proxyFromEnv, openTunnel, proxyTarget, proxyHeaders } = require('./proxy');

const MAX_RESPONSE_BYTES = 64 * 1024 * 1024;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
const TLS_KEYS = ['ca', 'cert', 'key', 'passphrase', 'pfx', 'rejectUnauthorized', 'minVersion', 'ciphers'];

/**
 * @typedef {object} WireRequest
 * @property {URL} url
 * @property {string} method
 * @property {Object<string, string>} headers lower-case names
 * @property {Buffer} [body]
 * @property {number} [deadline] epoch ms after which the exchange fails with ETIMEDOUT
 * @property {object} [tls] ca, cert, key, passphrase, pfx, rejectUnauthorized
 * @property {AbortSignal} [signal]
 * @property {boolean} [decompress] undo gzip/deflate/br content-encoding
 * @typedef {{statusCode: number, statusMessage: string, headers: object, rawHeaders: string[], body: Buffer,
 *   url: URL, redirects: number}} WireResponse
 */

function timeoutError(ms) {
  const err = new Error(`The request timed out${ms ? ` after ${ms} ms` : ''}`);
  err.code = 'ETIMEDOUT';
  err.timedOut = true;
  return err;
}

function hostOf(url) {
  return url.hostname.replace(/^\[|\]$/g, '');
}

function defaultPort(url) {
  return Number(url.port) || (url.protocol === 'https:' ? 443 : 80);
}

function pickTls(options) {
  const out = {};
  for (const key of TLS_KEYS) if (options && options[key] !== undefined) out[key] = options[key];
  return out;
}

/** http.request options (and the socket we opened, if any) for one exchange. */
async function connectionFor(req) {
  const { url } = req;
  const host = hostOf(url);
  const port = defaultPort(url);
  const base = { method: req.method, headers: { ...req.headers, host: url.host } };
  if (url.protocol === 'https:') {
    const proxy = proxyFromEnv('https:');
    const raw = proxy ? await openTunnel(proxy, host, port, req.deadline) : undefined;
    const socket = tls.connect({
      ...pickTls(req.tls), socket: raw, host, port: raw ? undefined : port,
      servername: net.isIP(host) ? undefined : host, ALPNProtocols: ['http/1.1'],
    });
    return { socket, options: { ...base, path: url.pathname + url.search, createConnection: () => socket } };
  }
  if (url.protocol !== 'http:') throw new Error(`Unsupported protocol ${url.protocol}`);
  const proxy = proxyFromEnv('http:');
  if (!proxy) return { options: { ...base, host, port, path: url.pathname + url.search, agent: false } };
  const target = new URL(url.href);
  target.hash = '';
  return { options: { ...base, ...proxyTarget(proxy), path: target.href, agent: false,
    headers: proxyHeaders(proxy, base.headers) } };
}

// A small compressed answer may not expand without bound: the decoded body is capped like the raw one.
function decode(body, encoding) {
  const limit = { maxOutputLength: MAX_RESPONSE_BYTES };
  try {
    switch ((encoding || '').trim().toLowerCase()) {
      case 'gzip': case 'x-gzip': return zlib.gunzipSync(body, limit);
      case 'deflate': return zlib.inflateSync(body, limit);
      case 'br': return zlib.brotliDecompressSync(body, limit);
      default: return body;
    }
  } catch (err) {
    if (err && (err.code === 'ERR_BUFFER_TOO_LARGE' || err instanceof RangeError)) {
      throw new Error(`The decompressed response exceeds ${MAX_RESPONSE_BYTES} bytes`);
    }
    throw err;
  }
}

function collect(res, req, finish) {
  const chunks = [];
  let size = 0;
  res.on('data', (chunk) => {
    size += chunk.length;
    if (size > MAX_RESPONSE_BYTES) finish(new Error(`The response exceeds ${MAX_RESPONSE_BYTES} bytes`));
    else chunks.push(chunk);
  });
  res.on('error', finish);
  res.on('end', () => {
    try {
      const raw = Buffer.concat(chunks);
      const body = req.decompress && req.method !== 'HEAD' ? decode(raw, res.headers['content-encoding']) : raw;
      finish(null, { statusCode: res.statusCode, statusMessage: res.statusMessage || '', headers: res.headers,
        rawHeaders: res.rawHeaders, body, url: req.url, redirects: 0 });
    } catch (err) {
      finish(err);
    }
  });
}

/**
 * Send one request and read the whole answer.
 * @param {WireRequest} req
 * @returns {Promise<WireResponse>}
 */
function send(req) {
  return new Promise((resolve, reject) => {
    const live = { done: false, request: null, socket: null };
    let timer = null;
    const onAbort = () => finish(req.signal.reason || new DOMException('This operation was aborted', 'AbortError'));
    function finish(err, res) {
      if (live.done) return;
      live.done = true;
      clearTimeout(timer);
      if (req.signal) req.signal.removeEventListener('abort', onAbort);
      if (err) {
        if (live.request) live.request.destroy();
        if (live.socket) live.socket.destroy();
        reject(err);
      } else resolve(res);
    }
    if (req.deadline) {
      const left = req.deadline - Date.now();
      if (left <= 0) return finish(timeoutError(req.timeoutMs));
      timer = setTimeout(() => finish(timeoutError(req.timeoutMs)), left);
    }
    if (req.signal) {
      if (req.signal.aborted) return onAbort();
      req.signal.addEventListener('abort', onAbort, { once: true });
    }
    connectionFor(req).then(({ socket, options }) => {
      live.socket = socket || null;
      if (live.done) return void (socket && socket.destroy());
      const request = http.request(options, (res) => collect(res, req, finish));
      live.request = request;
      request.on('error', finish);
      request.end(req.body && req.body.length ? req.body : undefined);
    }).catch(finish);
    return undefined;
  });
}

/** The request for the next hop of a redirect, with the method and header changes browsers and fetch make. */
function nextHop(req, res) {
  const url = new URL(res.headers.location, req.url);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new Error(`Redirect to unsupported protocol ${url.protocol}`);
  }
  let { method, body } = req;
  const headers = { ...req.headers };
  const toGet = (res.statusCode === 303 && method !== 'HEAD')
    || ((res.statusCode === 301 || res.statusCode === 302) && method === 'POST');
  if (toGet) {
    method = 'GET';
    body = undefined;
    for (const name of ['content-type', 'content-length', 'content-encoding', 'transfer-encoding']) delete headers[name];
  }
  if (url.origin !== req.url.origin) {
    delete headers.authorization;
    delete headers.cookie;
  }
  return { ...req, url, method, headers, body };
}

/**
 * Send and follow redirects (each hop through the proxy again).
 * @param {WireRequest} req
 * @param {{follow?: boolean|function, max?: number, onRedirect?: function}} policy follow may be a predicate(res)
 * @returns {Promise<WireResponse>}
 */
async function sendFollowing(req, policy = {}) {
  const max = policy.max === undefined ? 20 : policy.max;
  let current = req;
  for (let hop = 0; ; hop += 1) {
    const res = await send(current);
    const follow = typeof policy.follow === 'function' ? policy.follow(res, current) : policy.follow !== false;
    if (!REDIRECT_STATUSES.has(res.statusCode) || !res.headers.location || !follow) {
      res.redirects = hop;
      return res;
    }
    if (hop >= max) throw new Error(`Exceeded maxRedirects (${max}). Probably stuck in a redirect loop ${res.url}`);
    current = nextHop(current, res);
  }
}

module.exports = { send, sendFollowing, timeoutError, pickTls, decode, REDIRECT_STATUSES, MAX_RESPONSE_BYTES };
