'use strict';
/**
 * Toolbelt.LpClient(): `(service, path, options) -> Promise<Response>`, a fetch to a LivePerson service found via
 * CSDS with a Sentinel app token: `authorization: {token_type} {access_token}` and X-Request-Id. Credentials come
 * from the secret `options.appKeySecretName` (default lp-faas-default-app-key). A 401 is retried once with freshly
 * read credentials and a fresh token. The scheme is the domain map's (https unless the map says http).
 */
const rpc = require('./rpc');
const { ErrorCodes, makeSpecificError } = require('./errors');
const { DEFAULT_APP_KEY_SECRET } = require('./constants');
const { baseUrl } = require('./csdsClient');
const { readCredentials, getAccessToken } = require('./oauth2');
const { fetch, headersObject } = require('./fetch');

const newError = makeSpecificError('LpClient');

/**
 * @param {import('./csdsClient').CsdsClient} csds
 * @param {import('./secretClient').SecretClient} secretClient
 * @returns {function(string, string, object=): Promise<Response>}
 */
function lpClientFactory(csds, secretClient) {
  async function authorization(secretName, fresh) {
    const creds = await readCredentials(secretClient, secretName, !fresh, newError, ErrorCodes.LpClient.Creds);
    const { token_type: type, access_token: token } = await getAccessToken(csds, creds, fresh);
    return `${type} ${token}`;
  }

  return async function lpClient(service, path, options = {}) {
    const { appKeySecretName = DEFAULT_APP_KEY_SECRET, method = 'GET', ...init } = options || {};
    const url = `${await baseUrl(csds, service)}${path}`;
    const headers = headersObject(init.headers);
    const send = async (fresh) => fetch(url, { ...init, method, headers: { ...headers,
      authorization: await authorization(appKeySecretName, fresh), 'X-Request-Id': rpc.traceId() } });
    const response = await send(false);
    if (response.status !== 401) return response;
    return send(true); // the token may have expired or the key been rotated
  };
}

module.exports = { lpClientFactory };
