'use strict';
/**
 * Toolbelt.ConversationUtil(): fetch a conversation from the Messaging Interactions API (msgHist, through LpClient)
 * and scan its transcript for keywords (pure). Path and body as LivePerson's toolbelt sends them.
 */
const rpc = require('./rpc');
const { ErrorCodes, makeSpecificError, isToolbeltError, errorText } = require('./errors');
const { LpServices } = require('./constants');

const newError = makeSpecificError('Conversation-Util');

function isConversation(value) {
  return value !== null && typeof value === 'object' && value._metadata !== null
    && typeof value._metadata === 'object' && Array.isArray(value.conversationHistoryRecords);
}

class ConversationUtil {
  constructor(lpClient) {
    this.lpClient = lpClient;
  }

  /**
   * @param {string} conversationId
   * @param {string[]} [contentToRetrieve] ConversationContentTypes
   * @returns {Promise<{_metadata: object, conversationHistoryRecords: object[]}>}
   */
  async getConversationById(conversationId, contentToRetrieve) {
    if (!conversationId) throw newError(ErrorCodes.ConversationUtil.General, 'Please provide a conversation ID.');
    const body = contentToRetrieve && contentToRetrieve.length ? { conversationId, contentToRetrieve }
      : { conversationId };
    try {
      const response = await this.lpClient(LpServices.MSG_HIST,
        `/messaging_history/api/account/${rpc.accountId()}/conversations/conversation/search?v=2&company=lp&source=FaaS_Toolbelt`,
        { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-Request-Id': rpc.traceId() },
          body: JSON.stringify(body) });
      const text = await response.text();
      let conversation;
      try { conversation = JSON.parse(text); } catch (_) { conversation = text; }
      if (!isConversation(conversation)) {
        throw newError(ErrorCodes.ConversationUtil.UnexpectedResponse,
          `Unexpected response: ${JSON.stringify(conversation)}. Status Code: ${response.status}`);
      }
      if (!conversation.conversationHistoryRecords.length) {
        throw newError(ErrorCodes.ConversationUtil.NotFound, `Conversation "${conversationId}" not found.`);
      }
      return conversation;
    } catch (err) {
      if (isToolbeltError(err)) throw err;
      const cause = err && err.cause ? `. Cause: ${errorText(err.cause)}` : '';
      throw newError(ErrorCodes.ConversationUtil.General,
        `Error while fetching conversation "${conversationId}": ${errorText(err)}${cause}`);
    }
  }

  /**
   * Messages (text, or file captions) of the first record's transcript matching any keyword (regex, case-insensitive).
   * @returns {Array<{message: string, sentTimestamp: number, sentBy: string, tag: string}>}
   */
  scanConversationForKeywords(conversation, keywords) {
    const records = conversation && conversation.conversationHistoryRecords;
    if (!records || records.length === 0 || !records[0].messageRecords) {
      throw newError(ErrorCodes.ConversationUtil.General, 'Please provide conversation object with message records.');
    }
    if (!keywords || keywords.length === 0) {
      throw newError(ErrorCodes.ConversationUtil.General, 'Please provide array containing keywords.');
    }
    const messages = records[0].messageRecords
      .filter((m) => m.type === 'HOSTED_FILE' || m.type === 'TEXT_PLAIN')
      .map((m) => ({
        message: m.type === 'TEXT_PLAIN' ? (m.messageData.msg && m.messageData.msg.text) || ''
          : (m.messageData.file && m.messageData.file.caption) || '',
        sentTimestamp: m.timeL,
        sentBy: m.sentBy,
      }));
    return keywords.flatMap((keyword) => messages
      .filter(({ message }) => new RegExp(keyword, 'gmi').test(message))
      .map((m) => ({ ...m, tag: `keywordRef:${keyword}` })));
  }
}

module.exports = { ConversationUtil };
