// The app's socket flows with the real socket.io-client, across two
// realtime replicas: node legacy.cjs '<json config>'.
'use strict';
const { io } = require(process.env.SIO_CLIENT);
const cfg = JSON.parse(process.argv[2]);

const fail = (msg) => { console.log('FAIL ' + msg); process.exit(1); };
const ok = (msg) => console.log('OK ' + msg);
const within = (p, what) => Promise.race([p, new Promise((_, rej) => setTimeout(() => rej(new Error('timeout: ' + what)), 8000))]);
const once = (s, ev) => new Promise((res) => s.once(ev, (...a) => res(a)));
const canon = (v) => JSON.stringify(v, (k, x) => (x && typeof x === 'object' && !Array.isArray(x) ? Object.fromEntries(Object.entries(x).sort()) : x));
const eq = (a, b, what) => { if (canon(a) !== canon(b)) fail(what + ': got ' + JSON.stringify(a) + ' want ' + JSON.stringify(b)); };

// The app's exact options (contract §C.1), on either path and transport.
function open(base, path, token, transports) {
  const s = io(base, { path, auth: { token }, transports, reconnection: true, reconnectionDelay: 1000, reconnectionAttempts: 5, forceNew: true });
  s.seen = [];
  s.onAny((ev, ...args) => s.seen.push([ev, args]));
  return s;
}

async function main() {
  const { r1, r2, chatId, ids, tokens, trigger } = cfg;
  // Alice: replica 1, /socket.io, websocket only. Bob: replica 2, /socket-chat.io, polling then upgrade.
  const alice = open(r1, '/socket.io', tokens.alice, ['websocket']);
  const bob = open(r2, '/socket-chat.io', tokens.bob, ['polling', 'websocket']);
  const mallory = open(r1, '/socket.io', tokens.mallory, ['websocket']);
  await within(Promise.all([once(alice, 'connect'), once(bob, 'connect'), once(mallory, 'connect')]), 'connect');
  ok('connected');

  eq(await within(alice.emitWithAck('join-chat', chatId), 'alice join'), { ok: true, chatId }, 'alice join (string)');
  eq(await within(bob.emitWithAck('join-chat', { chatId }), 'bob join'), { ok: true, chatId }, 'bob join ({chatId})');
  // The app also emits without an ack callback; repeated joins are normal.
  alice.emit('join-chat', chatId);
  eq(await within(mallory.emitWithAck('join-chat', chatId), 'mallory join'), { ok: false, error: 'Chat not found or access denied' }, 'non-member join');
  eq(await within(alice.emitWithAck('join-chat', 'nope'), 'bad join'), { ok: false, error: 'Invalid chat ID' }, 'bad chat id');
  eq(await within(alice.emitWithAck('join-chat'), 'empty join'), { ok: false, error: 'Invalid chat ID' }, 'missing chat id');
  ok('join');

  // Send with ack; the payload senderId is ignored. The message reaches the
  // room on the other replica and the sender too.
  const bobGets = once(bob, 'new-message');
  const aliceGets = once(alice, 'new-message');
  const res = await within(alice.emitWithAck('send-message', { chatId, text: '  hello bob ', clientMessageId: 'c-1', senderId: ids.mallory }), 'send');
  if (!res.ok || res.payload.message.senderId !== ids.alice || res.payload.message.text !== 'hello bob' || res.payload.clientMessageId !== 'c-1') fail('send ack ' + JSON.stringify(res));
  const [nm] = await within(bobGets, 'bob new-message');
  const m = nm.message;
  if (nm.chatId !== chatId || m._id !== res.payload.message._id || m.senderId !== ids.alice || m.text !== 'hello bob' || m.type !== 'text' || m.read !== false || !m.createdAt || nm.clientMessageId !== 'c-1') fail('new-message ' + JSON.stringify(nm));
  await within(aliceGets, 'alice echo');
  ok('send + cross-replica new-message');

  // Idempotent retry: same message id, no second new-message needed.
  const again = await within(alice.emitWithAck('send-message', { chatId, text: 'hello bob', clientMessageId: 'c-1' }), 'retry');
  if (!again.ok || again.payload.message._id !== res.payload.message._id) fail('retry ' + JSON.stringify(again));
  ok('idempotent send');

  // A non-member cannot send; bad payloads get an ack error plus message-error, never a crash.
  const merr = once(mallory, 'message-error');
  eq(await within(mallory.emitWithAck('send-message', { chatId, text: 'spam' }), 'mallory send'), { ok: false, error: 'Chat not found or access denied' }, 'non-member send');
  eq((await within(merr, 'message-error'))[0], { chatId, error: 'Chat not found or access denied' }, 'message-error');
  for (const bad of [undefined, null, 'x', 42, [], { chatId }, { chatId, text: 7 }, { chatId, text: '   ' }, { chatId, text: 'y'.repeat(5000) }, { chatId: 'zz', text: 'a' }, { chatId, text: 'a', clientMessageId: {} }]) {
    const r = await within(bad === undefined ? alice.emitWithAck('send-message') : alice.emitWithAck('send-message', bad), 'bad send');
    eq(r, { ok: false, error: 'Invalid payload' }, 'bad payload ' + JSON.stringify(bad));
  }
  alice.emit('user-typing');
  alice.emit('user-typing', null);
  alice.emit('send-message');
  ok('bad payloads');

  // Typing goes to the room minus the sender, with the token's user id.
  const typing = once(alice, 'user-typing');
  bob.emit('user-typing', { chatId, userId: ids.mallory, isTyping: true });
  eq((await within(typing, 'typing'))[0], { chatId, userId: ids.bob, isTyping: true }, 'user-typing');
  ok('typing');

  // Synthetic call and notification events published on the bus reach only their user.
  const call = once(alice, 'incoming-call-' + ids.alice);
  const note = once(alice, 'notification-' + ids.alice);
  await fetch(trigger + '/call?to=' + ids.alice);
  await fetch(trigger + '/notify?to=' + ids.alice);
  const [c] = await within(call, 'incoming call');
  if (c.callId !== 'call-1' || c.callerId !== ids.bob || c.caller.name !== 'bob' || c.type !== 'video' || c.roomName !== 'room-1') fail('call ' + JSON.stringify(c));
  const [n] = await within(note, 'notification');
  if (n.id !== 'like-1' || n.type !== 'like' || n.meta.postId !== 'p1' || n.unreadCount !== 3) fail('notification ' + JSON.stringify(n));
  // Bob then gets his own call event; by then he must have seen nothing of Alice's.
  const bobCall = once(bob, 'call-ended-' + ids.bob);
  await fetch(trigger + '/ended?to=' + ids.bob);
  eq((await within(bobCall, 'bob call'))[0], { callId: 'call-1', duration: 42 }, 'call-ended');
  for (const s of [bob, mallory]) {
    const leaked = s.seen.filter(([ev]) => ev.includes(ids.alice));
    if (leaked.length) fail('leaked to another user: ' + JSON.stringify(leaked));
  }
  if (mallory.seen.some(([ev]) => ev === 'new-message' || ev === 'user-typing')) fail('non-member got room events');
  ok('call + notification delivery');

  // A bad token gets connect_error Unauthorized.
  const bad = io(r1, { auth: { token: 'garbage' }, transports: ['websocket'], reconnection: false, forceNew: true });
  const [err] = await within(once(bad, 'connect_error'), 'bad token');
  if (err.message !== 'Unauthorized') fail('connect_error ' + err.message);
  bad.close();
  ok('connect_error');
  for (const s of [alice, bob, mallory]) s.disconnect();
  process.exit(0);
}
main().catch((e) => fail(String(e && e.stack || e)));
