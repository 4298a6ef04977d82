'use strict';
/**
 * Toolbelt.SDEUtil(): report engagement attributes (SDEs) for a visit, and read them from a conversation (pure).
 * addSDEs uses the Monitoring API of service `smt`, the path LivePerson's toolbelt uses:
 * PUT /api/account/{accountId}/monitoring/visitors/{visitorId}/visits/current/events?v=1&sid={sessionId}.
 */
const rpc = require('./rpc');
const { ErrorCodes, makeSpecificError, isToolbeltError, errorText } = require('./errors');
const { LpServices } = require('./constants');

const newError = makeSpecificError('SDE-Util');

function sortEvents(events) {
  return { events: [...events].sort((a, b) => (a.serverTimeStamp < b.serverTimeStamp ? -1 : 1)) };
}

function eventsOf(sdes) {
  return sdes && typeof sdes === 'object' && Array.isArray(sdes.events) ? sdes.events : [];
}

class SDEUtil {
  constructor(lpClient) {
    this.lpClient = lpClient;
  }

  /**
   * Add engagement attributes to the visitor's current visit (not real time: may take more than 30 s to show).
   * @param {Array<{type: string}>} sdes
   * @param {string} visitorId
   * @param {string} sessionId
   * @returns {Promise<void>}
   */
  async addSDEs(sdes, visitorId, sessionId) {
    if (!Array.isArray(sdes) || sdes.length === 0) throw newError(ErrorCodes.SDEsUtil.General, 'Please provide one or more SDEs');
    try {
      const path = `/api/account/${rpc.accountId()}/monitoring/visitors/${encodeURIComponent(visitorId)}`
        + `/visits/current/events?v=1&sid=${encodeURIComponent(sessionId)}`;
      const response = await this.lpClient(LpServices.SMT, path, { method: 'PUT',
        headers: { 'Content-Type': 'application/json', 'X-Request-Id': rpc.traceId() }, body: JSON.stringify(sdes) });
      if (!response.ok) {
        throw newError(ErrorCodes.SDEsUtil.UnexpectedResponse,
          `Unexpected response: ${await response.text()}. Status Code: ${response.status}`);
      }
    } catch (err) {
      if (isToolbeltError(err)) throw err;
      const cause = err && err.cause ? `. Cause: ${errorText(err.cause)}` : '';
      throw newError(ErrorCodes.SDEsUtil.General, `${errorText(err)}${cause}`);
    }
  }

  /**
   * The SDE events of the conversation's first record, oldest first.
   * @returns {{sdes: {events: object[]}, unAuthSdes: {events: object[]}}}
   */
  getSDEsFromConv(conversation) {
    const records = conversation && conversation.conversationHistoryRecords;
    if (!records || records.length === 0) {
      throw newError(ErrorCodes.SDEsUtil.General, 'conversationHistoryRecords is empty');
    }
    const { sdes, unAuthSdes } = records[0];
    if (sdes === undefined && unAuthSdes === undefined) {
      throw newError(ErrorCodes.SDEsUtil.General, 'No sdes or unAuthSdes are provided');
    }
    return { sdes: sortEvents(eventsOf(sdes)), unAuthSdes: sortEvents(eventsOf(unAuthSdes)) };
  }
}

module.exports = { SDEUtil };
