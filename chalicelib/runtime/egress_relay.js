'use strict';
/**
 * The worker side of egress for Node workers: a TCP listener on the worker's own loopback that pipes each
 * connection to the gateway's egress proxy unix socket (egress_relay.py explains why; same contract).
 *
 * The worker gets FNGATE_EGRESS_SOCKET (the proxy's socket path) and FNGATE_EGRESS_TOKEN (its proxy password);
 * startFromEnv() starts the relay and sets HTTP_PROXY/HTTPS_PROXY = http://fn:<token>@127.0.0.1:<port>.
 * The loopback of the worker's network namespace must already be up (egress_relay.bring_loopback_up, done by the
 * executor between unshare and setuid).
 */
const net = require('net');

const ENV_SOCKET = 'FNGATE_EGRESS_SOCKET';
const ENV_TOKEN = 'FNGATE_EGRESS_TOKEN';
const PROXY_VARS = ['HTTP_PROXY', 'HTTPS_PROXY', 'http_proxy', 'https_proxy'];
const IDLE_MS = 300000;

function relayOne(client, unixPath) {
  const upstream = net.connect(unixPath);
  const destroy = () => { client.destroy(); upstream.destroy(); };
  client.setNoDelay(true);
  client.setTimeout(IDLE_MS, destroy);
  client.on('error', destroy);
  upstream.on('error', destroy);
  client.on('close', () => upstream.destroy());
  client.pipe(upstream); // the function's end becomes a half-close: the answer may still come
  upstream.pipe(client); // the proxy's end ends the client side once the last bytes are written
}

/** Listen on 127.0.0.1:port (0: a free port); resolves to the bound port. The relay filters nothing. */
function startRelay(unixPath, port = 0) {
  return new Promise((resolve, reject) => {
    const server = net.createServer({ allowHalfOpen: true }, (client) => relayOne(client, unixPath));
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.unref(); // the relay must not keep a finished worker alive
      resolve(server.address().port);
    });
  });
}

function proxyUrl(port, token) {
  return `http://fn:${token}@127.0.0.1:${port}`;
}

/**
 * Start the relay from the environment and export the proxy variables; resolves to them ({} without egress).
 * `started` ({path, port: Promise}) is a relay the worker started ahead, while idle: reused if it is for `path`.
 */
async function startFromEnv(env = process.env, started = null) {
  const path = env[ENV_SOCKET];
  const token = env[ENV_TOKEN];
  if (!path || !token) return {};
  let port = null;
  if (started && started.path === path) port = await started.port.catch(() => null);
  if (port === null) port = await startRelay(path);
  const url = proxyUrl(port, token);
  const exported = Object.fromEntries(PROXY_VARS.map((name) => [name, url]));
  Object.assign(env, exported);
  return exported;
}

module.exports = { startRelay, startFromEnv, proxyUrl, ENV_SOCKET, ENV_TOKEN };
