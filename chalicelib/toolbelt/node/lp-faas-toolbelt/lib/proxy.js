'use strict';
/**
 * Where outbound traffic goes. fngate workers have no network but the egress proxy (spec §3): the worker sets
 * HTTPS_PROXY / HTTP_PROXY = http://fn:<token>@127.0.0.1:<port> (egress_relay.py). Either variable serves both
 * schemes (every hop must pass the allowlist, so there is no NO_PROXY). Without them, FNGATE_EGRESS_SOCKET (the
 * proxy's unix socket, password FNGATE_EGRESS_TOKEN) is used; with neither, connections go direct (local use).
 */
const http = require('http');
const net = require('net');

/**
 * @typedef {{host?: string, port?: number, socketPath?: string, auth?: string}} Proxy
 * @returns {Proxy|null}
 */
function proxyFromEnv(protocol, env = process.env) {
  const raw = protocol === 'http:'
    ? env.HTTP_PROXY || env.http_proxy || env.HTTPS_PROXY || env.https_proxy
    : env.HTTPS_PROXY || env.https_proxy || env.HTTP_PROXY || env.http_proxy;
  if (raw) return parseProxyUrl(raw);
  if (env.FNGATE_EGRESS_SOCKET) {
    return { socketPath: env.FNGATE_EGRESS_SOCKET, auth: env.FNGATE_EGRESS_TOKEN ? `fn:${env.FNGATE_EGRESS_TOKEN}` : '' };
  }
  return null;
}

function parseProxyUrl(raw) {
  const url = new URL(raw.includes('://') ? raw : `http://${raw}`);
  const auth = url.username ? `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}` : '';
  return { host: url.hostname.replace(/^\[|\]$/g, ''), port: Number(url.port) || 80, auth };
}

function authority(host, port) {
  return `${net.isIPv6(host) ? `[${host}]` : host}:${port}`;
}

function proxyHeaders(proxy, extra) {
  const headers = { ...extra };
  if (proxy.auth) headers['proxy-authorization'] = `Basic ${Buffer.from(proxy.auth).toString('base64')}`;
  return headers;
}

/** Options for an http.request that reaches the proxy itself. */
function proxyTarget(proxy) {
  return proxy.socketPath ? { socketPath: proxy.socketPath } : { host: proxy.host, port: proxy.port };
}

const REFUSALS = { // when the proxy's own reason phrase is missing
  403: 'the host is not allowed for this function',
  407: 'the proxy credentials were not accepted',
  429: 'too many outbound requests from this function',
};

function refused(host, port, status, reason) {
  // the proxy's reason phrase says which rule refused (Port Not Allowed, Not Allowlisted, Address Not Allowed)
  const why = reason && reason !== 'Forbidden' ? reason : (REFUSALS[status] || 'Socket is closed');
  const err = new Error(`The egress proxy refused ${authority(host, port)} (HTTP ${status}): ${why}`);
  err.code = 'EPROXY';
  err.proxyStatus = status;
  return err;
}

/**
 * Open a CONNECT tunnel to host:port through the proxy, giving up at `deadline` (epoch ms, 0 = never).
 * @returns {Promise<import('net').Socket>} the raw socket, ready for TLS
 */
function openTunnel(proxy, host, port, deadline = 0) {
  return new Promise((resolve, reject) => {
    const target = authority(host, port);
    const req = http.request({
      ...proxyTarget(proxy), method: 'CONNECT', path: target, agent: false,
      headers: proxyHeaders(proxy, { host: target }),
    });
    if (deadline) {
      req.setTimeout(Math.max(1, deadline - Date.now()), () => req.destroy(Object.assign(
        new Error(`The egress proxy did not open a tunnel to ${target} in time`), { code: 'ETIMEDOUT' })));
    }
    req.once('connect', (res, socket, head) => {
      socket.setTimeout(0);
      if (res.statusCode !== 200) {
        socket.destroy();
        reject(refused(host, port, res.statusCode, res.statusMessage));
        return;
      }
      if (head && head.length) socket.unshift(head);
      resolve(socket);
    });
    req.once('error', reject);
    req.end();
  });
}

module.exports = { proxyFromEnv, parseProxyUrl, openTunnel, proxyTarget, proxyHeaders, authority };
