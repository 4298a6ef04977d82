'use strict';
/**
 * Toolbelt.MTLSClient({cert, key, ca?}): HTTPS with a client certificate, through the egress proxy (CONNECT, then
 * TLS with the client bundle end to end). Methods get/post/put/delete/patch(url, headers?, body?, options?) and
 * head/options(url, headers?, options?) → {statusCode, headers, body}. Options: timeout (ms), json (stringify the
 * body, parse the answer), allowSelfSigned. fngate verifies the server certificate unless allowSelfSigned is true
 * (LivePerson's client skips verification unless allowSelfSigned === false: we chose the safe default; pass
 * `ca` for private CAs).
 */
const rpc = require('./rpc');
const { ErrorCodes, MTLSError, isToolbeltError, errorText } = require('./errors');
const { send } = require('./transport');
const { headersObject } = require('./fetch');

const newError = (code, message) => new MTLSError('MTLS', code, message);

function pemShaped(value) {
  const text = Buffer.isBuffer(value) ? value.toString() : value;
  return typeof text === 'string' && text.includes('-----BEGIN') && text.includes('-----END') && text.includes('\n');
}

function validate(clientTLS) {
  if (!clientTLS) throw newError(ErrorCodes.Mtls.Missing, 'No Client TLS config was provided');
  const { cert, key, ca } = clientTLS;
  if (!pemShaped(cert)) {
    throw newError(ErrorCodes.Mtls.Invalid.Cert, 'Provided cert is not rightly shaped. Please check cert format');
  }
  if (ca && !pemShaped(ca)) {
    throw newError(ErrorCodes.Mtls.Invalid.Cert, 'Provided ca-cert is not rightly shaped. Please check ca-cert format');
  }
  if (!pemShaped(key)) {
    throw newError(ErrorCodes.Mtls.Invalid.Key, 'Provided key is not rightly shaped. Please check key format');
  }
}

function prepareBody(body, json) {
  if (body === undefined || body === null) return undefined;
  if (json) {
    try { return Buffer.from(JSON.stringify(body)); } catch (_) {
      throw newError(ErrorCodes.Mtls.BadRequest, 'Provided body could not be stringified');
    }
  }
  if (typeof body === 'string' || Buffer.isBuffer(body)) return Buffer.from(body);
  if (body instanceof URLSearchParams) return Buffer.from(body.toString());
  if (ArrayBuffer.isView(body) || body instanceof ArrayBuffer) return Buffer.from(body);
  throw newError(ErrorCodes.Mtls.BadRequest,
    'Provided body was not string, Buffer, ArrayBuffer or URLSearchParams. Please use the json option or stringify it');
}

class MTLSClient {
  constructor(clientTLS) {
    validate(clientTLS);
    this.clientTLS = clientTLS;
  }

  /** @returns {Promise<{statusCode: number, headers: object, body?: any}>} */
  get(url, headers, body, options) { return this.request('GET', url, headers, body, options); }

  post(url, headers, body, options) { return this.request('POST', url, headers, body, options); }

  put(url, headers, body, options) { return this.request('PUT', url, headers, body, options); }

  delete(url, headers, body, options) { return this.request('DELETE', url, headers, body, options); }

  patch(url, headers, body, options) { return this.request('PATCH', url, headers, body, options); }

  async head(url, headers, options) {
    return { ...(await this.request('HEAD', url, headers, undefined, options)), body: undefined };
  }

  async options(url, headers, options) {
    return { ...(await this.request('OPTIONS', url, headers, undefined, options)), body: undefined };
  }

  async request(method, url, headers, body, options = {}) {
    const json = Boolean(options && options.json);
    const timeout = Number(options && options.timeout) || 0;
    const allHeaders = headersObject(headers);
    if (json) Object.assign(allHeaders, { 'content-type': 'application/json', 'x-request-id': rpc.traceId() });
    try {
      const payload = prepareBody(body, json);
      const { cert, key, ca } = this.clientTLS;
      const res = await send({ url: new URL(url), method, headers: allHeaders, body: payload,
        tls: { cert, key, ca, rejectUnauthorized: !(options && options.allowSelfSigned === true) },
        deadline: timeout ? Date.now() + timeout : 0, timeoutMs: timeout, decompress: false });
      const text = res.body.toString('utf8');
      let parsed = text;
      if (json) {
        try { parsed = JSON.parse(text); } catch (_) { /* the raw body then */ }
      }
      return { statusCode: res.statusCode, headers: res.headers, body: parsed };
    } catch (err) {
      if (isToolbeltError(err)) throw err;
      if (err && err.timedOut) throw newError(ErrorCodes.Mtls.Timeout, `TimeoutError: ${err.message}`);
      throw newError(ErrorCodes.Mtls.General, errorText(err));
    }
  }
}

module.exports = { MTLSClient };
