'use strict';
/**
 * fngate's LivePerson Functions Toolbelt (`require('lp-faas-toolbelt')`, V2 `require('core-functions-toolbelt')`).
 * Same names, methods and error codes as LivePerson's (spec runtime-and-toolbelt.md §2); Node core modules only.
 *
 * fngate additions: `fetch` (also `Toolbelt.fetch`), a fetch that goes through the egress proxy, and
 * `installGlobalFetch()`, which replaces globalThis.fetch with it for code written for V2's global fetch.
 */
const { Toolbelt } = require('./lib/toolbelt');
const { ErrorCodes, ToolBeltError } = require('./lib/errors');
const { LpServices, ConversationContentTypes, SDETypes, ErrorStrategy } = require('./lib/constants');
const { fetch } = require('./lib/fetch');
const { RequestError, StatusCodeError } = require('./lib/httpClient');

/** Make the global fetch proxy-aware (idempotent). */
function installGlobalFetch() {
  if (globalThis.fetch !== fetch) globalThis.fetch = fetch;
  return fetch;
}

module.exports = {
  Toolbelt,
  LpServices,
  ErrorCodes,
  ConversationContentTypes,
  SDETypes,
  ErrorStrategy,
  ToolBeltError,
  RequestError,
  StatusCodeError,
  fetch,
  installGlobalFetch,
};
