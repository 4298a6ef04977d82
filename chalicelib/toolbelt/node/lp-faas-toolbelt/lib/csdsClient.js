'use strict';
/**
 * Toolbelt.CsdsClient(): service discovery. fngate's gateway answers it (RPC "csds.get" {service} →
 * {service, host, scheme} and "csds.all" → [{service, host, scheme}]) from its domain map; the gateway's own
 * services (faasGW, sentinel, ...) resolve to the gateway. Cached 10 minutes per process, as LivePerson's client.
 */
const rpc = require('./rpc');
const { ErrorCodes, makeSpecificError, errorText } = require('./errors');

const newError = makeSpecificError('CSDS-Client');
const TTL_MS = 600 * 1000;

class CsdsClient {
  constructor(ttlInSeconds = 600) {
    this.ttlMs = ttlInSeconds * 1000 || TTL_MS;
    this.entries = new Map(); // service → {entry, at}
  }

  /**
   * The host (host[:port], no scheme) of a service.
   * @param {string} service e.g. LpServices.MSG_HIST
   * @returns {Promise<string>}
   */
  async get(service) {
    return (await this.resolve(service)).host;
  }

  /**
   * Host and scheme of a service (fngate: the domain map may name http services, e.g. local fakes).
   * @param {string} service
   * @returns {Promise<{service: string, host: string, scheme: string}>}
   */
  async resolve(service) {
    const hit = this.entries.get(service);
    if (hit && Date.now() - hit.at < this.ttlMs) return hit.entry;
    let entry;
    try {
      entry = await rpc.call('csds.get', { service });
    } catch (err) {
      if (err && err.code === ErrorCodes.Csds.NotFound) throw newError(err.code, `Service "${service}" could not be found.`);
      throw newError(ErrorCodes.Csds.Failure, errorText(err));
    }
    entry = { service, host: entry.host, scheme: entry.scheme || 'https' };
    this.entries.set(service, { entry, at: Date.now() });
    return entry;
  }

  /**
   * Every known service, as LivePerson's client returns them: [{[service]: host}].
   * @returns {Promise<Array<Object<string, string>>>}
   */
  async getAll() {
    let all;
    try {
      all = await rpc.call('csds.all', {});
    } catch (err) {
      throw newError(ErrorCodes.Csds.Failure, errorText(err));
    }
    return all.map((e) => ({ [e.service]: e.host }));
  }
}

/** `${scheme}://${host}` of a service. */
async function baseUrl(csds, service) {
  const { scheme, host } = await csds.resolve(service);
  return `${scheme}://${host}`;
}

module.exports = { CsdsClient, baseUrl };
