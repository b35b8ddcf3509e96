// The real socket.io-client with the app's options (websocket only), spread
// over two gateways: node replicas.cjs '<json config>'. Each pair's members
// sit on different gateways (and so, through the gateways' balancing, on
// either realtime replica); every message reaches the other member exactly
// once, and typing crosses too.
'use strict';
const { io } = require(process.env.SIO_CLIENT);
const cfg = JSON.parse(process.argv[2]);

const fail = (msg) => { console.log('FAIL ' + msg); process.exit(1); };
const within = (p, what) => Promise.race([p, new Promise((_, rej) => setTimeout(() => rej(new Error('timeout: ' + what)), 15000))]);
const once = (s, ev) => new Promise((res) => s.once(ev, (...a) => res(a)));
const open = (base, token) => io(base, { auth: { token }, transports: ['websocket'], reconnection: true, reconnectionDelay: 1000, reconnectionAttempts: 5, forceNew: true });

async function pair(p, i) {
  const a = open(cfg.gateways[i % 2], p.tokenA);
  const b = open(cfg.gateways[(i + 1) % 2], p.tokenB);
  await within(Promise.all([once(a, 'connect'), once(b, 'connect')]), 'connect');
  for (const s of [a, b]) {
    const r = await within(s.emitWithAck('join-chat', p.chatId), 'join');
    if (!r.ok) fail('join ' + JSON.stringify(r));
  }
  const got = new Map();
  b.on('new-message', (nm) => got.set(nm.clientMessageId, (got.get(nm.clientMessageId) || 0) + 1));
  for (let k = 0; k < cfg.perPair; k++) {
    const r = await within(a.emitWithAck('send-message', { chatId: p.chatId, text: 'n' + k, clientMessageId: `n${i}-${k}` }), 'send');
    if (!r.ok) fail('send ' + JSON.stringify(r));
  }
  const typing = once(a, 'user-typing');
  b.emit('user-typing', { chatId: p.chatId, isTyping: true });
  const [ty] = await within(typing, 'typing');
  if (ty.chatId !== p.chatId || ty.isTyping !== true) fail('typing ' + JSON.stringify(ty));
  await new Promise((r) => setTimeout(r, 500));
  for (let k = 0; k < cfg.perPair; k++) {
    if (got.get(`n${i}-${k}`) !== 1) fail(`pair ${i} message ${k} delivered ${got.get(`n${i}-${k}`) || 0} times`);
  }
  a.close();
  b.close();
}

Promise.all(cfg.pairs.map(pair)).then(() => console.log('OK ' + cfg.pairs.length + ' pairs'), (e) => fail(e.message));
