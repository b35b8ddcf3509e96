// Shared helpers of the Node scripts that nodetest.Run drives:
// const { io, cfg, fail, ok, within, once, eq } = require('<this file>');
'use strict';
const { io } = require(process.env.SIO_CLIENT);

const fail = (msg) => { console.log('FAIL ' + msg); process.exit(1); };
const ok = (msg) => console.log('OK ' + msg);
// within rejects when p takes longer than ms (default 10 s).
const within = (p, what, ms = 10000) => Promise.race([p, new Promise((_, rej) => setTimeout(() => rej(new Error('timeout: ' + what)), ms))]);
const once = (s, ev) => new Promise((res) => s.once(ev, (...a) => res(a)));
const canon = (v) => JSON.stringify(v, (k, x) => (x && typeof x === 'object' && !Array.isArray(x) ? Object.fromEntries(Object.entries(x).sort()) : x));
const eq = (a, b, what) => { if (canon(a) !== canon(b)) fail(what + ': got ' + JSON.stringify(a) + ' want ' + JSON.stringify(b)); };

module.exports = { io, cfg: JSON.parse(process.argv[2] || '{}'), fail, ok, within, once, canon, eq };
