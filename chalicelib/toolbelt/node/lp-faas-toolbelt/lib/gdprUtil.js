'use strict';
/**
 * Toolbelt.GDPRUtil(): replace the files shared in a conversation (HOSTED_FILE records) in the `swift` object
 * storage, as LivePerson's toolbelt does: GET {swift}/auth/v1.0 with X-Auth-User / X-Auth-Key for a token
 * (x-auth-token), then PUT the replacement to {swift}{relativePath} for each file. Best effort in fngate: it works
 * against any Swift-compatible store the domain map names `swift`; nothing is rolled back if one PUT fails.
 */
const rpc = require('./rpc');
const { ErrorCodes, makeSpecificError, isToolbeltError, errorText } = require('./errors');
const { baseUrl } = require('./csdsClient');
const { fetch } = require('./fetch');

const newError = makeSpecificError('GDPR-Util');
const ONE_BY_ONE_PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNk+A8AAQUBAScY42YAAAAASUVORK5CYII=';
const DEFAULT_FILE = Object.freeze({ body: Buffer.from(ONE_BY_ONE_PNG, 'base64'), contentType: 'image/png' });

function describe(err) {
  const cause = err && err.cause ? `. Cause: ${errorText(err.cause)}` : '';
  return `${errorText(err)}${cause}`;
}

class GDPRUtil {
  constructor(csds) {
    this.csds = csds;
  }

  /**
   * @param {object} conversation as ConversationUtil.getConversationById returns it
   * @param {{username: string, password: string}} credentials of the object storage
   * @param {function(string): boolean} [shouldReplace] picks the file paths to replace
   * @param {{body: Buffer, contentType: string}} [replacementFile] default: a 1x1 black PNG
   * @returns {Promise<string[]>} the replaced paths
   */
  async replaceConversationFiles(conversation, credentials, shouldReplace = () => true, replacementFile = DEFAULT_FILE) {
    try {
      const records = conversation && conversation.conversationHistoryRecords;
      if (!records || records.length === 0) return [];
      const transcript = records[0].messageRecords;
      if (!transcript || transcript.length === 0) throw newError(ErrorCodes.GDPRUtil.General, 'No message records provided');
      const paths = transcript.filter((m) => m.type === 'HOSTED_FILE')
        .map((m) => (m.messageData && m.messageData.file && m.messageData.file.relativePath) || '')
        .filter((path) => path && shouldReplace(path));
      if (paths.length === 0) return paths;
      const base = await baseUrl(this.csds, 'swift');
      const token = await this.authenticate(base, credentials);
      await Promise.all(paths.map((path) => this.replaceFile(`${base}${path}`, token, replacementFile)));
      return paths;
    } catch (err) {
      if (isToolbeltError(err)) throw err;
      throw newError(ErrorCodes.GDPRUtil.General, describe(err));
    }
  }

  async authenticate(base, credentials) {
    let response;
    try {
      response = await fetch(`${base}/auth/v1.0`, { method: 'GET',
        headers: { 'X-Auth-User': credentials.username, 'X-Auth-Key': credentials.password } });
    } catch (err) {
      throw newError(ErrorCodes.GDPRUtil.AuthFailure, `Authentication failed: ${describe(err)}`);
    }
    if (!response.ok) {
      throw newError(ErrorCodes.GDPRUtil.AuthFailure,
        `Authentication failed with response: ${await response.text()}. Status Code: ${response.status}`);
    }
    const token = response.headers.get('x-auth-token');
    if (!token) throw newError(ErrorCodes.GDPRUtil.AuthFailure, 'No Auth token returned');
    return token;
  }

  async replaceFile(url, token, file) {
    let response;
    try {
      response = await fetch(url, { method: 'PUT', body: file.body,
        headers: { 'content-type': file.contentType, 'x-auth-token': token, 'X-Request-Id': rpc.traceId() } });
    } catch (err) {
      throw newError(ErrorCodes.GDPRUtil.ReplaceFileFailed, describe(err));
    }
    if (!response.ok) {
      throw newError(ErrorCodes.GDPRUtil.General,
        `File replacement failed with response: ${await response.text()}. Status Code: ${response.status}`);
    }
  }
}

module.exports = { GDPRUtil };
