'use strict';
/**
 * The Toolbelt factories (spec runtime-and-toolbelt.md §2). Secrets, CSDS and the context store go through the
 * worker's RPC bridge to the gateway; HTTP goes through the egress proxy.
 */
const { SecretClient } = require('./secretClient');
const { CsdsClient } = require('./csdsClient');
const { HTTPClient } = require('./httpClient');
const { fetch } = require('./fetch');
const { lpClientFactory } = require('./lpClient');
const { OrchestratorClient } = require('./orchestrator');
const { ContextServiceClient } = require('./contextClient');
const { ConversationUtil } = require('./conversationUtil');
const { SDEUtil } = require('./sdeUtil');
const { GDPRUtil } = require('./gdprUtil');
const { MTLSClient } = require('./mtlsClient');
const { ToolBeltError, ErrorCodes } = require('./errors');

let csds = null;

function lazyCsds() {
  if (!csds) csds = new CsdsClient();
  return csds;
}

function unsupported(component, what) {
  return new ToolBeltError(component, ErrorCodes.Mtls.General, `${what} is not available in fngate`);
}

class Toolbelt {
  /** @param {{cache?: {ttl?: number}}} [options] @returns {SecretClient} */
  static SecretClient(options) { return new SecretClient(options); }

  /** request-promise style client through the egress proxy. */
  static HTTPClient() { return HTTPClient(); }

  /** @returns {function(string, string, object=): Promise<Response>} */
  static LpClient() { return lpClientFactory(lazyCsds(), new SecretClient()); }

  /** @returns {OrchestratorClient} */
  static OrchestratorClient() { return new OrchestratorClient(lazyCsds(), new SecretClient()); }

  /** @returns {CsdsClient} */
  static CsdsClient() { return lazyCsds(); }

  /**
   * @param {string|{apiKey: string}} apiKey (V1 took {accountId, apiKey}; the account is always the function's own)
   * @returns {ContextServiceClient}
   */
  static ContextServiceClient(apiKey) {
    const key = apiKey && typeof apiKey === 'object' ? apiKey.apiKey : apiKey;
    if (!key) throw new Error('No valid API-key was provided');
    return new ContextServiceClient(key);
  }

  /** @returns {ConversationUtil} */
  static ConversationUtil() { return new ConversationUtil(Toolbelt.LpClient()); }

  /** @returns {SDEUtil} */
  static SDEUtil() { return new SDEUtil(Toolbelt.LpClient()); }

  /** @returns {GDPRUtil} */
  static GDPRUtil() { return new GDPRUtil(lazyCsds()); }

  /** @param {{cert: string|Buffer, key: string|Buffer, ca?: string|Buffer}} clientTLS @returns {MTLSClient} */
  static MTLSClient(clientTLS) { return new MTLSClient(clientTLS); }

  /** LivePerson's mTLS gateway service does not exist here; MTLSClient does mTLS directly. */
  static LPMtlsClient() {
    const fail = async () => { throw unsupported('LP-MTLS', 'The LivePerson mTLS gateway'); };
    return { get: fail, post: fail };
  }

  /**
   * Deprecated jsforce wrapper (jsforce is preinstalled, as on LivePerson): a jsforce Connection. Its HTTP goes
   * through the egress proxy (jsforce's request library follows HTTP(S)_PROXY), so the org's host must be allowlisted.
   * @returns {{connectToSalesforce: (opts: {loginUrl: string, accessToken?: string, refreshToken?: string,
   *   instanceUrl?: string, version?: string}) => any}}
   */
  static SFClient() {
    return {
      connectToSalesforce: (opts = {}) => {
        let jsforce;
        try { jsforce = require('jsforce'); } catch (_) { throw unsupported('SFClient', 'jsforce (Salesforce)'); }
        const { loginUrl, accessToken, refreshToken, instanceUrl, version } = opts;
        return new jsforce.Connection({ loginUrl, accessToken, refreshToken,
          instanceUrl: instanceUrl || loginUrl, ...(version ? { version } : {}) });
      },
    };
  }

  /** Proxy-aware fetch (Node's global fetch ignores HTTP(S)_PROXY). */
  static fetch(input, init) { return fetch(input, init); }
}

module.exports = { Toolbelt };
