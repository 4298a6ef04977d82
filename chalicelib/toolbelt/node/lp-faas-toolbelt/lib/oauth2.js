'use strict';
/**
 * App-key credentials and Sentinel access tokens, shared by LpClient, OrchestratorClient and friends.
 * Token: POST {sentinel}/sentinel/api/v2/account/{accountId}/app/token?v=2.0, form client_id, client_secret,
 * grant_type=client_credentials (spec §2; fngate's own token endpoint). Tokens are cached per client id until a
 * minute before `expires_in` (a number or, as LivePerson sends it, a numeric string).
 */
const rpc = require('./rpc');
const { ErrorCodes, makeSpecificError, isToolbeltError, errorText } = require('./errors');
const { baseUrl } = require('./csdsClient');
const { fetch } = require('./fetch');

const newOauthError = makeSpecificError('Oauth2Client');
const tokens = new Map(); // client_id → {data, expiresAt}

function isCreds(value) {
  return value !== null && typeof value === 'object' && typeof value.client_id === 'string'
    && typeof value.client_secret === 'string';
}

/**
 * Read `{client_id, client_secret}` from a secret; errors use the caller's component and codes.
 * @returns {Promise<{client_id: string, client_secret: string}>}
 */
async function readCredentials(secretClient, secretName, useCache, newError, codes) {
  try {
    const { value } = await secretClient.readSecret(secretName, { useCache });
    if (!isCreds(value)) throw newError(codes.Format, 'Credentials have Invalid Format');
    return value;
  } catch (err) {
    if (isToolbeltError(err)) throw err;
    throw newError(codes.Failure, `Could not fetch App Key credentials from secret storage: ${errorText(err)}`);
  }
}

function isTokenResponse(body) {
  return body !== null && typeof body === 'object' && typeof body.access_token === 'string'
    && typeof body.token_type === 'string';
}

async function requestToken(csds, creds) {
  const url = `${await baseUrl(csds, 'sentinel')}/sentinel/api/v2/account/${rpc.accountId()}/app/token?v=2.0`;
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'X-Request-Id': rpc.traceId(), 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ client_id: creds.client_id, client_secret: creds.client_secret,
      grant_type: 'client_credentials' }).toString(),
  });
  const text = await response.text();
  let body;
  try { body = JSON.parse(text); } catch (_) { body = text; }
  if (!isTokenResponse(body)) {
    throw newOauthError(ErrorCodes.OAuth2.UnexpectedResponse,
      `AuthServer unexpected response: ${JSON.stringify(body)}. Status Code: ${response.status}`);
  }
  return body;
}

/**
 * An access token for the credentials, from the cache unless `fresh`.
 * @returns {Promise<{access_token: string, token_type: string, expires_in?: number|string}>}
 */
async function getAccessToken(csds, creds, fresh = false) {
  const hit = tokens.get(creds.client_id);
  if (!fresh && hit && hit.secret === creds.client_secret && Date.now() < hit.expiresAt) return hit.data;
  let data;
  try {
    data = await requestToken(csds, creds);
  } catch (err) {
    if (isToolbeltError(err)) throw err;
    throw newOauthError(ErrorCodes.OAuth2.General,
      `Obtaining OAuth2 Access Token from sentinel failed due to: ${errorText(err)}`);
  }
  const lifetime = Number.parseInt(data.expires_in, 10);
  const expiresAt = Number.isFinite(lifetime) ? Date.now() + lifetime * 1000 - 60000 : 0;
  tokens.set(creds.client_id, { data, secret: creds.client_secret, expiresAt });
  return data;
}

module.exports = { readCredentials, getAccessToken, isCreds, tokenCache: tokens };
