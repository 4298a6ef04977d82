'use strict';
/**
 * Toolbelt.ContextServiceClient(apiKey): the Conversation Context Service (session store). In fngate it is a store
 * inside the gateway (chalicelib/services/context_store.py), reached by RPC "context.<method>" with params named
 * after the arguments: {namespace, options}, {namespace, properties, sessionId}, {namespace, propertyNames,
 * sessionId}, {namespace, propertyName, sessionId}, {namespace, sessionId}. The account is always the invoking
 * function's; the API key is required (as LivePerson's client requires it) but not checked by fngate.
 * Failures reject with SDKError {code, message} carrying the context SDK's codes.
 */
const rpc = require('./rpc');
const { SDKError, errorText } = require('./errors');

const UNKNOWN = 'com.liveperson.context-service-sdk.unknown';

function sdkError(err) {
  if (err && typeof err.code === 'string' && err.code.startsWith('com.liveperson.context-service-sdk.')) {
    return new SDKError(err.code, err.message);
  }
  return new SDKError(UNKNOWN, errorText(err));
}

async function call(method, params) {
  try {
    return await rpc.call(`context.${method}`, params);
  } catch (err) {
    throw sdkError(err);
  }
}

function namespaceView(ns) {
  return ns ? { ...ns, createdAt: new Date(ns.createdAt) } : ns;
}

class ContextServiceClient {
  /** @param {string} apiKey */
  constructor(apiKey) {
    this.apiKey = apiKey;
  }

  /** @returns {Promise<{name: string, createdAt: Date, ttlSecond?: number}>} */
  async createNamespace(namespace, options) {
    return namespaceView(await call('createNamespace', { namespace, options: options || {} }));
  }

  /** @returns {Promise<void>} */
  async deleteNamespace(namespace) {
    await call('deleteNamespace', { namespace });
  }

  /** @returns {Promise<Array<{name: string, createdAt: Date, ttlSecond?: number}>>} */
  async getListOfNamespaces() {
    return (await call('getListOfNamespaces', {})).map(namespaceView);
  }

  /** Set (merge) properties; @returns {Promise<object>} all properties of the session afterwards */
  async setPropertiesInNamespace(namespace, properties, sessionId) {
    return call('setPropertiesInNamespace', { namespace, properties, sessionId });
  }

  /** Same as set: properties are merged; @returns {Promise<object>} */
  async updatePropertiesInNamespace(namespace, properties, sessionId) {
    return call('updatePropertiesInNamespace', { namespace, properties, sessionId });
  }

  /** @returns {Promise<object>} */
  async getAllPropertiesInSession(namespace, sessionId) {
    return call('getAllPropertiesInSession', { namespace, sessionId });
  }

  /** @returns {Promise<object>} the named properties that exist */
  async getSelectedPropertiesInSession(namespace, propertyNames, sessionId) {
    return call('getSelectedPropertiesInSession', { namespace, propertyNames, sessionId });
  }

  /** @returns {Promise<any>} */
  async getPropertyInSession(namespace, propertyName, sessionId) {
    return call('getPropertyInSession', { namespace, propertyName, sessionId });
  }

  /** @returns {Promise<void>} */
  async deletePropertyInSession(namespace, propertyName, sessionId) {
    await call('deletePropertyInSession', { namespace, propertyName, sessionId });
  }

  /** @returns {Promise<void>} */
  async deleteSession(namespace, sessionId) {
    await call('deleteSession', { namespace, sessionId });
  }

  /** @returns {Promise<string[]>} */
  async getListOfSessions(namespace) {
    return call('getListOfSessions', { namespace });
  }
}

module.exports = { ContextServiceClient };
