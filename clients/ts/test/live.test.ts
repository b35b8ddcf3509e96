// Integration test against the live backend: builds and starts `infliq all`
// with embedded defaults on free ports, then drives the SDK exactly as the
// Expo app would. OTP codes come from the dev-only sink file, which only
// development builds write.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createInfliqClient, memoryTokenStore, classifyError, serialize, deserialize, timestampDate, post, chat, notify, type AuthEvent, type InfliqClient, type RealtimeState } from "../src/index.js";
import { startBackend, sleep, type Backend } from "./backend.js";
import { uploadFile, type XhrLike } from "../src/media.js";

let be: Backend;
let base = "";
before(async () => {
  be = await startBackend();
  base = be.base;
});
after(() => be?.stop());
const otpFor = (phone: string) => be.otpFor(phone);

test("OTP login, session refresh on expiry, realtime stream, logout", async () => {
  let expired = 0;
  const tokens = memoryTokenStore();
  const client = createInfliqClient({ baseUrl: base, tokens, onSessionExpired: () => expired++ });

  // Bad input is classified for the form.
  const bad = await client.auth.sendOtp({ phone: "" }).catch((e) => classifyError(e));
  assert.equal((bad as { kind: string }).kind, "validation");

  const phone = "98" + String(Date.now()).slice(-8);
  const sent = await client.auth.sendOtp({ phone });
  assert.ok(sent.expiresInSeconds > 0);
  const code = await otpFor("+91" + phone);
  const login = await client.auth.verifyOtp({ phone, otp: code });
  assert.ok(login.session?.accessToken);
  assert.equal(await tokens.getAccessToken(), login.session?.accessToken);

  const me = await client.auth.getSession({});
  assert.match(me.userId, /^[0-9a-f]{24}$/);

  // The stream opens through the gateway with the browser/Expo fetch transport.
  const opened = await new Promise<boolean>((res) => {
    const sub = client.realtime.subscribe({
      onEvent: () => {},
      onStateChange: (s) => {
        if (s === "open") {
          sub.close();
          res(true);
        }
      },
    });
    setTimeout(() => res(false), 5000);
  });
  assert.ok(opened, "realtime stream did not open");

  // JWT_EXPIRES_IN is 2 s (+5 s clock-skew leeway): the next call refreshes transparently.
  const firstAccess = await tokens.getAccessToken();
  await sleep(7500);
  const again = await client.auth.getSession({});
  assert.equal(again.userId, me.userId);
  assert.notEqual(await tokens.getAccessToken(), firstAccess);
  assert.equal(expired, 0);

  // After logout the session cannot be refreshed any more.
  const rt = await tokens.getRefreshToken();
  await client.auth.logout({});
  assert.equal(await tokens.getAccessToken(), undefined);
  const reuse = await client.auth.refresh({ refreshToken: rt ?? "" }).catch((e) => classifyError(e));
  assert.equal((reuse as { kind: string }).kind, "unauthenticated");
});

const login = (phone: string): Promise<InfliqClient> => be.login(phone);

test("the app's flow: profile, post, feed, like, chat, realtime delivery to another user", async () => {
  const stamp = String(Date.now()).slice(-7);
  const alice = await login("971" + stamp);
  const bob = await login("972" + stamp);
  const aliceId = (await alice.auth.getSession({})).userId;
  const bobId = (await bob.auth.getSession({})).userId;

  await alice.users.updateMe({ name: "Alice", bio: "hello" });
  assert.equal((await alice.users.getMe({})).user?.name, "Alice");

  const created = await alice.posts.createPost({ type: post.PostType.POST, content: "first post " + stamp, idempotencyKey: "k-" + stamp });
  const postId = created.post?.id ?? "";
  assert.match(postId, /^[0-9a-f]{24}$/);
  const feedPage = await bob.feed.globalFeed({});
  assert.ok(feedPage.posts.some((p) => p.id === postId), "the new post is in the global feed");

  await bob.posts.likePost({ postId });
  const liked = await alice.posts.getPost({ postId });
  assert.equal(liked.post?.likesCount, 1);

  const room = await alice.chat.createChat({ type: chat.ChatType.DIRECT, participantIds: [bobId] });
  const chatId = room.chat?.id ?? "";
  assert.match(chatId, /^[0-9a-f]{24}$/);

  // Bob's realtime subscription receives Alice's message. The event can
  // arrive before Alice's send returns (events go out right after commit),
  // so the send is awaited too: nothing may outlive the test.
  let send: Promise<unknown> | undefined;
  const received = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("message not delivered")), 10_000);
    const sub = bob.realtime.subscribe({
      onStateChange: (s) => {
        if (s === "open" && !send) {
          send = alice.chat.sendMessage({ chatId, text: "hi bob", clientMessageId: "c-" + stamp });
          send.catch(reject);
        }
      },
      onEvent: (ev) => {
        if (ev.event.case === "message" && ev.event.value.message?.chatId === chatId) {
          clearTimeout(timer);
          sub.close();
          resolve(ev.event.value.message.text);
        }
      },
    });
  });
  assert.equal(await received, "hi bob");
  await send;
  assert.notEqual(aliceId, bobId);
});

// Defect 3: validation errors name their fields.
test("field errors from the live backend fill fields.phone", async () => {
  const client = createInfliqClient({ baseUrl: base });
  for (const phone of ["", "abc"]) {
    const err = await client.auth.sendOtp({ phone }).then(() => assert.fail("accepted " + phone), classifyError);
    assert.equal(err.kind, "validation");
    assert.ok(err.kind === "validation" && err.fields.phone?.length === 1, JSON.stringify(err.kind === "validation" && err.fields));
    assert.ok(err.reason, "the reason travels too");
  }
});

// A fetch that fails the way React Native's does without a network, for
// the requests `fail` picks.
function flakyFetch(fail: (url: string) => boolean): typeof fetch {
  return (input, init) => {
    const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
    if (fail(url)) return Promise.reject(new TypeError("Network request failed"));
    return fetch(input, init);
  };
}

// Defect 1: a network error during refresh does not log the user out.
test("live: a refresh that fails for lack of network keeps the session; the same refresh token works afterwards", async () => {
  let failRefresh = 1;
  let expired = 0;
  const events: AuthEvent[] = [];
  const phone = "961" + String(Date.now()).slice(-7);
  const client = await be.login(phone, {
    fetch: flakyFetch((u) => u.endsWith(".AuthService/Refresh") && failRefresh-- > 0),
    onSessionExpired: () => expired++,
  });
  client.onAuthStateChange((e) => events.push(e));
  const rt = await client.tokens.getRefreshToken();
  // An access token the server refuses forces a refresh on the next call.
  await client.tokens.setTokens({ accessToken: "expired.or.garbage", refreshToken: rt ?? "" });
  const err = await client.auth.getSession({}).then(() => assert.fail("expected offline"), classifyError);
  assert.equal(err.kind, "offline");
  assert.ok(err.cause);
  assert.equal(await client.tokens.getRefreshToken(), rt, "the session is kept");
  assert.equal(expired, 0);
  assert.deepEqual(events, []);
  const me = await client.auth.getSession({});
  assert.match(me.userId, /^[0-9a-f]{24}$/);
  assert.deepEqual(events, ["tokenRefreshed"]);
});

// Defects 4 and 5 against the live backend.
test("live: a subscription made before login starts at login; logout offline ends everything with one event", async () => {
  let offline = false;
  const tokens = memoryTokenStore();
  const client = createInfliqClient({ baseUrl: base, tokens, fetch: flakyFetch(() => offline) });
  const events: AuthEvent[] = [];
  client.onAuthStateChange((e) => events.push(e));
  const states: RealtimeState[] = [];
  let opened!: () => void;
  const open = new Promise<void>((res) => (opened = res));
  const sub = client.realtime.subscribe({ onEvent: () => {}, onStateChange: (s) => (states.push(s), s === "open" && opened()) });
  await sleep(100);
  assert.deepEqual(states, ["waiting"]);
  const phone = "962" + String(Date.now()).slice(-7);
  await client.auth.sendOtp({ phone });
  await client.auth.verifyOtp({ phone, otp: await otpFor("+91" + phone) });
  await open;
  assert.deepEqual(events, ["signedIn"]);
  offline = true;
  await assert.rejects(client.auth.logout({}));
  assert.equal(await tokens.getAccessToken(), undefined);
  assert.equal(await tokens.getRefreshToken(), undefined);
  for (let i = 0; i < 100 && sub.state() !== "closed"; i++) await sleep(20);
  assert.equal(sub.state(), "closed");
  assert.deepEqual(events, ["signedIn", "signedOut"]);
  for (let i = 1; i < states.length; i++) assert.notEqual(states[i], states[i - 1]);
});

// Defect 6: what the app caches is JSON.
test("live: feed pages and media objects hold no bigint outside timestamps, and serialize round-trips", async () => {
  const stamp = String(Date.now()).slice(-7);
  const client = await login("963" + stamp);
  await client.posts.createPost({ type: post.PostType.POST, content: "json " + stamp, idempotencyKey: "j-" + stamp });
  const page = await client.feed.globalFeed({});
  const p = page.posts.find((x) => x.content === "json " + stamp);
  assert.ok(p);
  assert.equal(typeof p.viewsCount, "string");
  const { createdAt, ...rest } = p;
  JSON.stringify(rest); // throws on a bigint
  const back = deserialize<typeof page>(serialize(page));
  assert.equal(back.posts.length, page.posts.length);
  assert.equal(timestampDate(back.posts[0].createdAt!).getTime(), timestampDate(page.posts[0].createdAt!).getTime());
  assert.ok(createdAt && timestampDate(createdAt).getTime() > 0);
  const policy = await client.media.getUploadPolicy({});
  assert.equal(typeof policy.maxFileSizeBytes, "string");
  JSON.stringify(policy);
});

// uploadFile: policy, presigned POST, complete; progress; cancel.
const png = Uint8Array.from(
  atob("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="),
  (c) => c.charCodeAt(0),
);

test("live: media.uploadFile uploads in one call with progress, and can be cancelled", async () => {
  const client = await login("964" + String(Date.now()).slice(-7));
  const progress: number[] = [];
  const obj = await client.media.uploadFile({
    file: new Blob([png], { type: "image/png" }),
    contentType: "image/png",
    folder: "posts",
    onProgress: (p) => progress.push(p.loaded / p.total),
  });
  assert.equal(obj.contentType, "image/png");
  assert.equal(obj.sizeBytes, String(png.length));
  assert.ok(obj.url);
  assert.equal(progress.at(-1), 1);
  const listed = await client.media.listMedia({});
  assert.ok(listed.objects.some((o) => o.key === obj.key));

  // Aborted before the bytes go out: nothing is completed.
  const ctl = new AbortController();
  ctl.abort();
  const err = await client.media
    .uploadFile({ file: new Blob([png]), contentType: "image/png", folder: "posts", signal: ctl.signal })
    .then(() => assert.fail("not cancelled"), classifyError);
  assert.equal(err.kind, "canceled");

  // In development the presigned POST goes through the gateway, so a phone
  // on the LAN reaches it (the in-process S3 listens on loopback only).
  const up = await client.media.createUpload({ folder: "posts", contentType: "image/png", sizeBytes: "68" });
  assert.match(up.url, /^\/_devstack\/s3\//);
});

// Where XMLHttpRequest exists (React Native, browsers) it carries the bytes
// and reports upload progress; this one forwards to fetch and reports halves.
test("live: uploadFile reports progress through XMLHttpRequest and aborts it on cancel", async () => {
  const client = await login("965" + String(Date.now()).slice(-7));
  let aborted = 0;
  class Xhr implements XhrLike {
    status = 0;
    responseText = "";
    onload: (() => void) | null = null;
    onerror: (() => void) | null = null;
    onabort: (() => void) | null = null;
    upload: XhrLike["upload"] = { onprogress: null };
    private url = "";
    open(_m: string, url: string) {
      this.url = url;
    }
    send(body: unknown) {
      this.upload.onprogress?.({ loaded: png.length / 2, total: png.length, lengthComputable: true });
      void fetch(this.url, { method: "POST", body: body as FormData }).then(async (r) => {
        this.status = r.status;
        this.responseText = await r.text();
        this.onload?.();
      }, () => this.onerror?.());
    }
    abort() {
      aborted++;
      this.onabort?.();
    }
  }
  const progress: number[] = [];
  const obj = await uploadFile(client.media, { file: new Blob([png]), contentType: "image/png", folder: "posts", onProgress: (p) => progress.push(p.loaded / p.total) }, { baseUrl: base, XMLHttpRequest: Xhr });
  assert.deepEqual(progress, [0.5, 1]);
  assert.equal(obj.sizeBytes, String(png.length));
  // Cancelling mid-flight aborts the request; CompleteUpload never runs.
  const ctl = new AbortController();
  const p = uploadFile(client.media, { file: new Blob([png]), contentType: "image/png", folder: "posts", signal: ctl.signal, onProgress: () => ctl.abort() }, { baseUrl: base, XMLHttpRequest: Xhr });
  assert.equal((await p.then(() => assert.fail("not cancelled"), classifyError)).kind, "canceled");
  assert.equal(aborted, 1);
});

// Notifications through the SDK against the notify tier: like →
// notification (grouped) → unread count → markRead, the realtime update,
// the kind filter, preferences, and the push token forgotten at sign-out.
async function until<T>(what: string, fn: () => Promise<T | undefined>, tries = 150): Promise<T> {
  for (let i = 0; i < tries; i++) {
    const v = await fn();
    if (v !== undefined) return v;
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what}`);
}

test("live notifications: likes grouped in the inbox, unread count, realtime update, markRead, kind filter, preferences", async () => {
  const stamp = String(Date.now()).slice(-7);
  const alice = await login("981" + stamp);
  const bob = await login("982" + stamp);
  const carol = await login("983" + stamp);
  const [bobId, carolId] = [(await bob.auth.getSession({})).userId, (await carol.auth.getSession({})).userId];
  const postId = (await alice.posts.createPost({ type: post.PostType.POST, content: "notify " + stamp, idempotencyKey: "n-" + stamp })).post!.id;
  assert.equal(await alice.notifications.unreadCount(), 0);

  // Alice's realtime inbox updates, from before the likes.
  const updates: notify.NotificationUpdate[] = [];
  let opened!: () => void;
  const open = new Promise<void>((res) => (opened = res));
  const sub = alice.onNotification((u) => updates.push(u), { onStateChange: (s) => s === "open" && opened() });
  await open;

  await bob.posts.likePost({ postId });
  const first = await until("the like group", async () => {
    const page = await alice.notifications.list({ kinds: [notify.Kind.LIKE] });
    return page.notifications.find((n) => n.postId === postId);
  });
  assert.equal(first.kind, notify.Kind.LIKE);
  assert.equal(first.read, false);
  assert.deepEqual(first.actors.map((a) => a.id), [bobId]);
  assert.equal(first.actorsCount, "1");
  assert.equal(await alice.notifications.unreadCount(), 1);

  // A second like joins the same group, newest actor first.
  await carol.posts.likePost({ postId });
  const grown = await until("the grown group", async () => {
    const n = (await alice.notifications.list()).notifications.find((x) => x.id === first.id);
    return n?.actorsCount === "2" ? n : undefined;
  });
  assert.deepEqual(grown.actors.map((a) => a.id), [carolId, bobId]);
  assert.equal(await alice.notifications.unreadCount(), 1, "one group, one unread");

  // The realtime hook received the group both times, with the unread count.
  await until("two realtime updates", async () => (updates.filter((u) => u.notification?.id === first.id).length >= 2 ? true : undefined));
  const mine = updates.filter((u) => u.notification?.id === first.id);
  assert.equal(mine[0].notification?.postId, postId);
  assert.equal(mine.at(-1)?.notification?.actorsCount, "2");
  assert.equal(mine.at(-1)?.unreadCount, "1");
  sub.close();

  // A follow is its own kind: the filter keeps it apart.
  await bob.users.follow({ userId: (await alice.auth.getSession({})).userId });
  const follow = await until("the follow group", async () => (await alice.notifications.list({ kinds: [notify.Kind.FOLLOW] })).notifications[0]);
  assert.equal(follow.kind, notify.Kind.FOLLOW);
  assert.ok((await alice.notifications.list({ kinds: [notify.Kind.LIKE] })).notifications.every((n) => n.kind === notify.Kind.LIKE));
  assert.equal(await alice.notifications.unreadCount(), 2);

  // Read up to the like group (older than the follow), then everything.
  assert.equal(await alice.notifications.markRead(first.id), 1);
  assert.equal((await alice.notifications.list()).notifications.find((n) => n.id === first.id)?.read, true);
  assert.equal(await alice.notifications.markRead(), 0);
  assert.equal(await alice.notifications.unreadCount(), 0);
  const bad = await alice.notifications.markRead("not-an-id").then(() => assert.fail("accepted"), classifyError);
  assert.equal(bad.kind, "validation");

  // Cursor paging: one group per page, no repeats.
  const p1 = await alice.notifications.list({ limit: 1 });
  assert.equal(p1.notifications.length, 1);
  assert.ok(p1.page?.nextCursor);
  const p2 = await alice.notifications.list({ limit: 1, cursor: p1.page!.nextCursor });
  assert.notEqual(p2.notifications[0]?.id, p1.notifications[0].id);

  // Preferences round-trip; bad input is a field error.
  const prefs = await alice.notifications.updatePreferences({
    kinds: [{ kind: notify.Kind.LIKE, inbox: true, push: false }],
    quietHours: { startMinute: 22 * 60, endMinute: 7 * 60 },
    timeZone: "Asia/Kolkata",
  });
  assert.equal(prefs.timeZone, "Asia/Kolkata");
  const read = await alice.notifications.getPreferences();
  assert.equal(read.quietHours?.endMinute, 420);
  assert.equal(read.kinds.find((k) => k.kind === notify.Kind.LIKE)?.push, false);
  const badTz = await alice.notifications.updatePreferences({ timeZone: "not a zone!" }).then(() => assert.fail("accepted"), classifyError);
  assert.equal(badTz.kind, "validation");
  for (const c of [alice, bob, carol]) await c.signOut();
});

test("live push tokens: registered after login, refused when malformed, forgotten on the server at sign-out", async () => {
  const stamp = String(Date.now()).slice(-7);
  const statuses: string[] = [];
  const watching: typeof fetch = async (input, init) => {
    const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
    const res = await fetch(input, init);
    const m = /NotificationService\/(\w+PushToken)$|AuthService\/(Logout)$/.exec(url);
    if (m) statuses.push(`${m[1] ?? m[2]} ${res.status}`);
    return res;
  };
  const client = await be.login("984" + stamp, { fetch: watching });
  const bad = await client.notifications.registerPushToken("not-a-token", "ios").then(() => assert.fail("accepted"), classifyError);
  assert.equal(bad.kind, "validation");
  assert.ok(bad.kind === "validation" && bad.fields.token?.length, JSON.stringify(bad));
  const platform = await client.notifications.registerPushToken(`ExponentPushToken[sdk${stamp}]`, "web" as "ios").then(() => assert.fail("accepted"), classifyError);
  assert.equal(platform.kind, "validation");
  await client.notifications.registerPushToken(`ExponentPushToken[sdk${stamp}]`, "android");
  assert.equal(client.notifications.pushToken(), `ExponentPushToken[sdk${stamp}]`);
  await client.signOut();
  assert.deepEqual(statuses, ["RegisterPushToken 400", "RegisterPushToken 400", "RegisterPushToken 200", "UnregisterPushToken 200", "Logout 200"]);
  assert.equal(await client.tokens.getAccessToken(), undefined);
});
