'use strict';
/**
 * Toolbelt.HTTPClient(): the request-promise API V1 functions use, sent through the egress proxy.
 * `client(options | uri, [options]) -> Promise<body | fullResponse>` and client.get/post/put/patch/delete/head.
 * Options: uri | url, baseUrl, method, headers, qs, body, json, form, auth {user, pass | bearer}, timeout (ms),
 * followRedirect (bool | fn(response)), followAllRedirects, maxRedirects (10), encoding (null → Buffer), gzip,
 * resolveWithFullResponse, simple (default true: reject non-2xx with StatusCodeError), transform, and TLS options
 * ca, cert, key, passphrase, pfx, rejectUnauthorized, strictSSL, agentOptions.
 * Errors are request-promise's: StatusCodeError {statusCode, error, response} and RequestError {cause, error}.
 */
const querystring = require('querystring');
const { sendFollowing, pickTls } = require('./transport');

class RequestError extends Error {
  constructor(cause, options, response) {
    super(String(cause));
    this.name = 'RequestError';
    this.cause = cause;
    this.error = cause;
    this.options = options;
    this.response = response;
  }
}

class StatusCodeError extends Error {
  constructor(statusCode, body, options, response) {
    super(`${statusCode} - ${JSON.stringify(body)}`);
    this.name = 'StatusCodeError';
    this.statusCode = statusCode;
    this.error = body;
    this.options = options;
    this.response = response;
  }
}

function buildUrl(options) {
  const raw = options.uri || options.url;
  if (!raw) throw new Error('options.uri is a required argument');
  const url = options.baseUrl ? new URL(String(raw).replace(/^\//, ''), String(options.baseUrl).replace(/\/?$/, '/'))
    : new URL(String(raw));
  if (options.qs && Object.keys(options.qs).length) {
    const extra = querystring.stringify(options.qs);
    url.search = url.search ? `${url.search}&${extra}` : `?${extra}`;
  }
  return url;
}

function lowerHeaders(headers) {
  const out = {};
  for (const [name, value] of Object.entries(headers || {})) {
    if (value !== undefined && value !== null) out[name.toLowerCase()] = String(value);
  }
  return out;
}

/** The body as request builds it: `json: true` stringifies any body (unless it is a form), `json: {..}` is the body. */
function buildBody(options, headers) {
  let body = options.body;
  if (options.form !== undefined) {
    headers['content-type'] = headers['content-type'] || 'application/x-www-form-urlencoded';
    body = typeof options.form === 'string' ? options.form : querystring.stringify(options.form);
  } else if (options.json && typeof options.json === 'object') {
    body = JSON.stringify(options.json);
    headers['content-type'] = headers['content-type'] || 'application/json';
  } else if (options.json && body !== undefined) {
    if (!/^application\/x-www-form-urlencoded\b/.test(headers['content-type'] || '')) body = JSON.stringify(body);
    headers['content-type'] = headers['content-type'] || 'application/json';
  }
  if (options.json) headers.accept = headers.accept || 'application/json';
  if (body === undefined || body === null) return undefined;
  return Buffer.isBuffer(body) ? body : Buffer.from(typeof body === 'string' ? body : String(body));
}

function addAuth(options, headers) {
  const auth = options.auth;
  if (!auth) return;
  if (auth.bearer) headers.authorization = `Bearer ${typeof auth.bearer === 'function' ? auth.bearer() : auth.bearer}`;
  else {
    const user = auth.user || auth.username || '';
    const pass = auth.pass || auth.password || '';
    headers.authorization = `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
  }
}

function tlsOptions(options) {
  const tls = { ...pickTls(options.agentOptions), ...pickTls(options) };
  if (options.strictSSL === false) tls.rejectUnauthorized = false;
  return tls;
}

function redirectPolicy(options) {
  const max = options.maxRedirects === undefined ? 10 : options.maxRedirects;
  return {
    max,
    follow: (res, req) => {
      if (options.followRedirect === false) return false;
      if (req.method !== 'GET' && req.method !== 'HEAD' && !options.followAllRedirects) return false;
      return typeof options.followRedirect === 'function' ? Boolean(options.followRedirect(res)) : true;
    },
  };
}

function parseBody(res, options) {
  if (options.encoding === null) return res.body;
  const text = res.body.toString(options.encoding || 'utf8');
  if (options.json && text.length) {
    try { return JSON.parse(text); } catch (_) { return text; }
  }
  return text;
}

function fullResponse(res, body, url, method) {
  return { statusCode: res.statusCode, statusMessage: res.statusMessage, headers: res.headers,
    rawHeaders: res.rawHeaders, body, request: { uri: res.url || url, method } };
}

/**
 * One request-promise style call.
 * @param {object} options
 * @returns {Promise<any>}
 */
async function request(options) {
  const url = buildUrl(options);
  const method = String(options.method || 'GET').toUpperCase();
  const headers = lowerHeaders(options.headers);
  const body = buildBody(options, headers);
  addAuth(options, headers);
  if (options.gzip) headers['accept-encoding'] = headers['accept-encoding'] || 'gzip, deflate';
  const timeout = Number(options.timeout) || 0;
  let res;
  try {
    res = await sendFollowing({ url, method, headers, body, tls: tlsOptions(options), decompress: Boolean(options.gzip),
      deadline: timeout ? Date.now() + timeout : 0, timeoutMs: timeout }, redirectPolicy(options));
  } catch (err) {
    throw new RequestError(err, options);
  }
  const parsed = parseBody(res, options);
  const full = fullResponse(res, parsed, url, method);
  if (options.simple !== false && (res.statusCode < 200 || res.statusCode > 299)) {
    throw new StatusCodeError(res.statusCode, parsed, options, full);
  }
  if (typeof options.transform === 'function') return options.transform(parsed, full, Boolean(options.resolveWithFullResponse));
  return options.resolveWithFullResponse ? full : parsed;
}

function normalize(uriOrOptions, maybeOptions) {
  if (typeof uriOrOptions === 'string' || uriOrOptions instanceof URL) return { ...maybeOptions, uri: uriOrOptions };
  return { ...uriOrOptions };
}

/**
 * Toolbelt.HTTPClient(): a request-promise compatible function.
 * @returns {function(object|string, object=): Promise<any>}
 */
function HTTPClient() {
  const client = (uriOrOptions, maybeOptions) => request(normalize(uriOrOptions, maybeOptions));
  for (const verb of ['get', 'post', 'put', 'patch', 'delete', 'head', 'options']) {
    client[verb] = (uriOrOptions, maybeOptions) => request({ ...normalize(uriOrOptions, maybeOptions),
      method: verb.toUpperCase() });
  }
  client.del = client.delete;
  return client;
}

module.exports = { HTTPClient, RequestError, StatusCodeError };
