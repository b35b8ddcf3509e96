// Drives the real socket.io-client from npm against a Go server.
// Usage: node client.cjs <baseURL> ; SIO_CLIENT = path to the socket.io-client package.
'use strict';
const { io } = require(process.env.SIO_CLIENT);
const base = process.argv[2];

const fail = (msg) => { console.log('FAIL ' + msg); process.exit(1); };
const ok = (msg) => console.log('OK ' + msg);
const withTimeout = (p, ms, what) => Promise.race([p, new Promise((_, rej) => setTimeout(() => rej(new Error('timeout: ' + what)), ms))]);
const once = (s, ev) => new Promise((res) => s.once(ev, (...a) => res(a)));

function connect(transports, token, extra) {
  return io(base, Object.assign({ auth: token === undefined ? undefined : { token }, transports, reconnection: false, forceNew: true }, extra || {}));
}

async function matrix(name, transports) {
  const s = connect(transports, 'good');
  await withTimeout(once(s, 'connect'), 5000, name + ' connect');
  if (!s.id) fail(name + ': no socket id');
  const echo = await withTimeout(s.emitWithAck('echo', { a: 1, t: 'héllo' }, 2), 5000, name + ' ack');
  if (JSON.stringify(echo) !== JSON.stringify({ args: [{ a: 1, t: 'héllo' }, 2] })) fail(name + ': echo ' + JSON.stringify(echo));
  const got = once(s, 'pushed');
  s.emit('push-me', 'x');
  const [payload] = await withTimeout(got, 5000, name + ' push');
  if (payload.hello !== 'x') fail(name + ': push ' + JSON.stringify(payload));
  // Survives several ping/pong rounds (the test server pings every 100 ms).
  await new Promise((r) => setTimeout(r, 600));
  if (!s.connected) fail(name + ': dropped during ping/pong');
  if (transports.length > 1 && s.io.engine.transport.name !== 'websocket') fail(name + ': not upgraded, on ' + s.io.engine.transport.name);
  // Junk never crashes the server: unknown events and bad args are dropped or refused.
  s.emit('unknown-event', 1);
  const bad = await withTimeout(s.emitWithAck('echo-strict'), 5000, name + ' strict ack');
  if (bad.ok !== false) fail(name + ': strict ' + JSON.stringify(bad));
  s.disconnect();
  ok(name);
}

async function badToken(name, transports, token) {
  const s = connect(transports, token);
  const [err] = await withTimeout(once(s, 'connect_error'), 5000, name);
  if (err.message !== 'Unauthorized') fail(name + ': ' + err.message);
  s.close();
  ok(name);
}

async function maxPayload(transports) {
  const s = connect(transports, 'good');
  await withTimeout(once(s, 'connect'), 5000, 'maxPayload connect');
  const gone = once(s, 'disconnect');
  s.emit('echo', 'y'.repeat(20000));
  await withTimeout(gone, 5000, 'maxPayload disconnect');
  ok('maxPayload ' + transports.join('+'));
}

async function reconnects() {
  const s = io(base, { auth: { token: 'good' }, transports: ['websocket'], reconnection: true, reconnectionDelay: 100, reconnectionAttempts: 5, forceNew: true });
  await withTimeout(once(s, 'connect'), 5000, 'reconnect first connect');
  const first = s.id;
  const [reason] = await Promise.all([withTimeout(once(s, 'disconnect'), 5000, 'kick'), s.emit('kick')]).then((a) => a[0]);
  const [again] = await Promise.all([withTimeout(once(s, 'connect'), 5000, 'reconnect')]);
  if (s.id === first) fail('reconnect: same socket id');
  s.disconnect();
  ok('reconnect after ' + reason);
}

async function serverDisconnect() {
  const s = io(base, { auth: { token: 'good' }, transports: ['websocket'], reconnection: true, reconnectionDelay: 100, forceNew: true });
  await withTimeout(once(s, 'connect'), 5000, 'server disconnect connect');
  s.emit('boot');
  const [reason] = await withTimeout(once(s, 'disconnect'), 5000, 'server disconnect');
  if (reason !== 'io server disconnect') fail('server disconnect reason ' + reason);
  s.close();
  ok('server disconnect');
}

(async () => {
  await matrix('websocket', ['websocket']);
  await matrix('polling', ['polling']);
  await matrix('polling+upgrade', ['polling', 'websocket']);
  await badToken('bad token websocket', ['websocket'], 'nope');
  await badToken('bad token polling', ['polling'], 'nope');
  await badToken('missing token', ['websocket'], undefined);
  await maxPayload(['websocket']);
  await maxPayload(['polling']);
  await reconnects();
  await serverDisconnect();
  process.exit(0);
})().catch((e) => fail(String(e && e.stack || e)));
