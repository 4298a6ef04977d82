'use strict';
/** V2 functions require('core-functions-toolbelt'): the same package as V1's lp-faas-toolbelt. */
module.exports = require('../lp-faas-toolbelt');
