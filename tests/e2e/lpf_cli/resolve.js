// Preloaded into lpf (NODE_OPTIONS=--require): the LivePerson names lpf resolves (CSDS) answer with the test
// gateway's address from FNGATE_LPF_ADDRESS; every other name resolves as usual. lpf itself is unchanged.
'use strict';
const dns = require('dns');

const address = process.env.FNGATE_LPF_ADDRESS;
const names = new Set(['api.liveperson.net', 'lp-csds-qa.dev.lprnd.net', 'adminlogin-z0-intg.liveperson.net']);
const lookup = dns.lookup;

dns.lookup = function mappedLookup(hostname, options, callback) {
  if (!names.has(hostname)) {
    return lookup.call(this, hostname, options, callback);
  }
  const done = typeof options === 'function' ? options : callback;
  const all = typeof options === 'object' && options !== null && options.all;
  process.nextTick(() => (all ? done(null, [{ address, family: 4 }]) : done(null, address, 4)));
  return undefined;
};
