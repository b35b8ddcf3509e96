// The app's call flow (contract §C.1) with the real socket.io-client through
// the gateway: node callflow.cjs '<json config>'.
'use strict';
const { io, cfg, fail, ok, within, once, eq } = require('../../../compat/socketio/nodetest/harness.cjs');

// Exactly the app's socket options (websocket only, default path).
function open(token) {
  const s = io(cfg.gw, { auth: { token }, transports: ['websocket'], reconnection: true, reconnectionDelay: 1000, reconnectionAttempts: 5, forceNew: true });
  s.seen = [];
  s.onAny((ev, ...args) => s.seen.push([ev, args]));
  return s;
}

// The app's axios calls (Authorization: Bearer <token>).
async function api(method, path, token, body) {
  const res = await fetch(cfg.gw + path, { method, headers: { Authorization: 'Bearer ' + token, 'Content-Type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.status, body: await res.json() };
}

// nextMessage waits for the call log new-message of type in the open chat.
const nextMessage = (s, type) => new Promise((res) => {
  const h = (m) => { if (m.message && m.message.type === type) { s.off('new-message', h); res(m); } };
  s.on('new-message', h);
});

async function main() {
  const { ids, tokens, chatId } = cfg;
  const alice = open(tokens.alice), bob = open(tokens.bob), mallory = open(tokens.mallory);
  await within(Promise.all([once(alice, 'connect'), once(bob, 'connect'), once(mallory, 'connect')]), 'connect');
  for (const s of [alice, bob]) eq(await within(s.emitWithAck('join-chat', chatId), 'join'), { ok: true, chatId }, 'join');
  // Mallory listens for everything she can: Alice's and Bob's event names too.
  ok('connected');

  const bobPic = (u) => ({ _id: ids.bob, id: ids.bob, name: 'bob', profilePicture: 'bob.jpg', profilePhoto: 'bob.jpg' });
  const alicePic = { _id: ids.alice, id: ids.alice, name: 'alice', profilePicture: 'alice.jpg', profilePhoto: 'alice.jpg' };

  // 1. Alice calls Bob (video): Bob's IncomingCallModal; the log lands in both open chats.
  let incoming = once(bob, 'incoming-call-' + ids.bob);
  let logA = nextMessage(alice, 'call-started'), logB = nextMessage(bob, 'call-started');
  const init = await api('POST', '/api/calls/initiate', tokens.alice, { receiverId: ids.bob, type: 'video' });
  if (init.status !== 200 || init.body.success !== true || !init.body.callId) fail('initiate ' + JSON.stringify(init));
  const callId = init.body.callId, roomName = init.body.roomName;
  eq((await within(incoming, 'incoming-call'))[0], { callId, callerId: ids.alice, caller: alicePic, type: 'video', roomName }, 'incoming-call');
  for (const m of [await within(logA, 'alice log'), await within(logB, 'bob log')]) {
    const msg = m.message;
    if (m.chatId !== chatId || msg.text !== 'Video call started' || msg.senderId !== ids.alice || msg.callId !== callId || !msg._id) fail('call-started log ' + JSON.stringify(m));
  }
  ok('initiate → incoming-call + call-started log');

  // 2. Both fetch a Twilio token with roomName = callId (what the app sends); Mallory cannot.
  for (const who of ['alice', 'bob']) {
    const t = await api('POST', '/api/calls/token', tokens[who], { roomName: callId });
    if (t.status !== 200 || !t.body.token || t.body.roomName !== callId || t.body.identity !== ids[who]) fail('token ' + who + ' ' + JSON.stringify(t));
  }
  const stolen = await api('POST', '/api/calls/token', tokens.mallory, { roomName: callId });
  if (stolen.status !== 403) fail('mallory token ' + JSON.stringify(stolen));
  // Mallory cannot accept, reject or end it either, nor can Alice accept her own call.
  for (const verb of ['accept', 'reject', 'end']) {
    const r = await api('POST', `/api/calls/${callId}/${verb}`, tokens.mallory);
    if (r.status !== 404) fail('mallory ' + verb + ' ' + JSON.stringify(r));
  }
  if ((await api('POST', `/api/calls/${callId}/accept`, tokens.alice)).status !== 403) fail('caller accepted');
  ok('tokens + refusals');

  // 3. Bob accepts: Alice's call-accepted handler opens her CallScreen.
  const accepted = once(alice, 'call-accepted-' + ids.alice);
  const acc = await api('POST', `/api/calls/${callId}/accept`, tokens.bob);
  if (acc.status !== 200 || acc.body.success !== true || acc.body.callId !== callId || acc.body.roomName !== roomName) fail('accept ' + JSON.stringify(acc));
  eq((await within(accepted, 'call-accepted'))[0], { callId, roomName, type: 'video', receiver: bobPic() }, 'call-accepted');
  ok('accept → call-accepted');

  // 4. Alice hangs up: Bob gets call-ended; "Video call ended" in the chat.
  const ended = once(bob, 'call-ended-' + ids.bob);
  logB = nextMessage(bob, 'call-ended');
  const end = await api('POST', `/api/calls/${callId}/end`, tokens.alice);
  if (end.status !== 200 || end.body.success !== true || typeof end.body.duration !== 'number') fail('end ' + JSON.stringify(end));
  eq((await within(ended, 'call-ended'))[0], { callId, duration: end.body.duration }, 'call-ended');
  if ((await within(logB, 'ended log')).message.text !== 'Video call ended') fail('ended log');
  if ((await api('POST', `/api/calls/${callId}/end`, tokens.bob)).status !== 409) fail('end twice');
  ok('end → call-ended + log');

  // 5. An audio call Bob declines: Alice gets call-rejected ("Call Declined").
  incoming = once(bob, 'incoming-call-' + ids.bob);
  const c2 = await api('POST', '/api/calls/initiate', tokens.alice, { receiverId: ids.bob, type: 'audio' });
  if (c2.status !== 200) fail('initiate 2 ' + JSON.stringify(c2));
  if ((await within(incoming, 'incoming 2'))[0].type !== 'audio') fail('audio type');
  const rejected = once(alice, 'call-rejected-' + ids.alice);
  logA = nextMessage(alice, 'call-missed');
  const rej = await api('POST', `/api/calls/${c2.body.callId}/reject`, tokens.bob);
  if (rej.status !== 200 || rej.body.success !== true) fail('reject ' + JSON.stringify(rej));
  eq((await within(rejected, 'call-rejected'))[0], { callId: c2.body.callId }, 'call-rejected');
  if ((await within(logA, 'missed log')).message.text !== 'Missed audio call') fail('rejected log');
  ok('reject → call-rejected + log');

  // 6. A call nobody answers: past the ring timeout both sides get call-missed.
  incoming = once(bob, 'incoming-call-' + ids.bob);
  const c3 = await api('POST', '/api/calls/initiate', tokens.alice, { receiverId: ids.bob });
  await within(incoming, 'incoming 3');
  const missedA = once(alice, 'call-missed-' + ids.alice), missedB = once(bob, 'call-missed-' + ids.bob);
  logB = nextMessage(bob, 'call-missed');
  await fetch(cfg.expire + '?call=' + c3.body.callId);
  const want = { callId: c3.body.callId, callerId: ids.alice, type: 'video', roomName: c3.body.roomName };
  eq((await within(missedA, 'caller missed'))[0], want, 'call-missed (caller)');
  eq((await within(missedB, 'receiver missed'))[0], want, 'call-missed (receiver)');
  if ((await within(logB, 'missed log 3')).message.text !== 'Missed video call') fail('missed log');
  if ((await api('POST', `/api/calls/${c3.body.callId}/accept`, tokens.bob)).status !== 409) fail('accept a missed call');
  ok('ring timeout → call-missed + log');

  // 7. History as the app's callService.getCallHistory reads it.
  const h = await api('GET', '/api/calls/history', tokens.bob);
  if (h.status !== 200 || h.body.calls.length !== 3 || h.body.calls.map((c) => c.status).join() !== 'missed,rejected,ended' || h.body.calls[0].callerId.name !== 'alice') fail('history ' + JSON.stringify(h.body));
  ok('history');

  // Nothing reached the third user, and neither side got the other's events.
  await new Promise((r) => setTimeout(r, 200));
  if (mallory.seen.length) fail('the third user received: ' + JSON.stringify(mallory.seen));
  if (alice.seen.some(([ev]) => ev.includes(ids.bob))) fail('alice got bob-addressed events');
  if (bob.seen.some(([ev]) => ev.includes(ids.alice))) fail('bob got alice-addressed events');
  ok('no leak to the third user');
  for (const s of [alice, bob, mallory]) s.disconnect();
  process.exit(0);
}
main().catch((e) => fail(String(e && e.stack || e)));
