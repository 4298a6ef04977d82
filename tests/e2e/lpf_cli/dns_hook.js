'use strict';
// Preloaded into lpf (NODE_OPTIONS=--require): LivePerson's CSDS host resolves to the test gateway's address.
// FNGATE_LPF_HOSTS = JSON {"api.liveperson.net": "127.x.y.z"}
const dns = require('dns');

const hosts = JSON.parse(process.env.FNGATE_LPF_HOSTS || '{}');
const original = dns.lookup;
dns.lookup = function lookup(hostname, options, callback) {
  const cb = typeof options === 'function' ? options : callback;
  const opts = typeof options === 'object' && options !== null ? options : {};
  const address = hosts[hostname];
  if (!address) {
    return original.apply(this, arguments);
  }
  if (opts.all) {
    return process.nextTick(cb, null, [{ address, family: 4 }]);
  }
  return process.nextTick(cb, null, address, 4);
};
