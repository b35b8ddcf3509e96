// Unit tests of the notifications client against an in-memory Connect
// router: argument mapping, counts as numbers, the push token forgotten at
// sign-out (with the ending session's token, before Logout, never holding up
// the local sign-out), and realtime inbox updates.
import { test } from "node:test";
import assert from "node:assert/strict";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import type { SubscribeResponseSchema } from "../gen/infliq/realtime/v1/realtime_pb.js";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createRouterTransport, type ConnectRouter, type Interceptor } from "@connectrpc/connect";
import { createInfliqClient, createInfliqCore, memoryTokenStore, classifyError, AuthService, RealtimeService, NotificationService, notify, type AuthEvent } from "../src/index.js";
import { createNotifications, pushRoute, Kind, PushPlatform, NotificationSchema } from "../src/notifications.js";
import { SessionSchema } from "../gen/infliq/auth/v1/auth_pb.js";

function router(routes: (r: ConnectRouter) => void) {
  return (interceptors: Interceptor[]) => createRouterTransport(routes, { transport: { interceptors } });
}

const uid = "65a1b2c3d4e5f60718293a4b";
const group = (id: string, kind: Kind, ms: number) =>
  create(NotificationSchema, { id, kind, postId: uid, actorsCount: "2", latestAt: timestampFromMs(ms), createdAt: timestampFromMs(ms) });

test("list, unreadCount, markRead and preferences map plain arguments onto the RPCs", async () => {
  const seen: unknown[] = [];
  const c = createInfliqClient({
    baseUrl: "http://unused",
    tokens: memoryTokenStore({ accessToken: "a", refreshToken: "r" }),
    transport: router((r) =>
      r.service(NotificationService, {
        listNotifications: (req) => {
          seen.push({ list: { cursor: req.page?.cursor, limit: req.page?.limit, kinds: req.kinds } });
          return { notifications: [group("a".repeat(24), Kind.LIKE, 1000)], page: { nextCursor: "next" }, unreadCount: "3" };
        },
        getUnreadCount: () => ({ unreadCount: "7" }),
        markRead: (req) => {
          seen.push({ markRead: req.target });
          return { unreadCount: req.target.case === "all" ? "0" : "2" };
        },
        getPreferences: () => ({ preferences: { timeZone: "Asia/Kolkata" } }),
        updatePreferences: (req) => {
          seen.push({ prefs: req.preferences?.kinds.map((k) => [k.kind, k.inbox, k.push]) });
          return { preferences: req.preferences };
        },
      }),
    ),
  });
  const page = await c.notifications.list({ limit: 5, kinds: [Kind.LIKE, Kind.FOLLOW] });
  assert.equal(page.notifications[0].kind, Kind.LIKE);
  assert.equal(page.page?.nextCursor, "next");
  await c.notifications.list({ cursor: page.page!.nextCursor });
  assert.equal(await c.notifications.unreadCount(), 7);
  assert.equal(await c.notifications.markRead(), 0);
  assert.equal(await c.notifications.markRead("b".repeat(24)), 2);
  assert.equal((await c.notifications.getPreferences()).timeZone, "Asia/Kolkata");
  const stored = await c.notifications.updatePreferences({ kinds: [{ kind: Kind.LIKE, inbox: true, push: false }], quietHours: { startMinute: 22 * 60, endMinute: 7 * 60 } });
  assert.equal(stored.quietHours?.startMinute, 1320);
  assert.deepEqual(seen, [
    { list: { cursor: "", limit: 5, kinds: [Kind.LIKE, Kind.FOLLOW] } },
    { list: { cursor: "next", limit: 0, kinds: [] } },
    { markRead: { case: "all", value: true } },
    { markRead: { case: "upToId", value: "b".repeat(24) } },
    { prefs: [[Kind.LIKE, true, false]] },
  ]);
  // The generated RPCs stay on the client, and the package namespace has the messages.
  assert.equal((await c.notifications.getUnreadCount({})).unreadCount, "7");
  assert.equal(notify.Kind.MISSED_CALL, Kind.MISSED_CALL);
});

test("errors are ConnectErrors that classifyError sorts, like every other call", async () => {
  const c = createInfliqClient({
    baseUrl: "http://unused",
    tokens: memoryTokenStore({ accessToken: "a", refreshToken: "r" }),
    transport: router((r) =>
      r.service(NotificationService, {
        markRead: () => {
          throw new ConnectError("Notification not found", Code.NotFound);
        },
        registerPushToken: () => {
          throw new ConnectError("invalid", Code.InvalidArgument);
        },
      }),
    ),
  });
  assert.equal((await c.notifications.markRead(uid).then(() => assert.fail("resolved"), classifyError)).kind, "not_found");
  assert.equal((await c.notifications.registerPushToken("ExponentPushToken[x]", "ios").then(() => assert.fail("resolved"), classifyError)).kind, "validation");
  assert.equal(c.notifications.pushToken(), undefined, "a refused token is not remembered");
});

// A router with Auth (login, logout) and Notification (push tokens) that
// records what reached it, in order, with the bearer token sent.
function pushRig(opts: { unregister?: () => Promise<void> } = {}) {
  const log: string[] = [];
  const transport = router((r) => {
    r.service(AuthService, {
      verifyOtp: () => ({ session: create(SessionSchema, { accessToken: "a1", refreshToken: "r1" }) }),
      refresh: () => {
        log.push("refresh");
        return { session: create(SessionSchema, { accessToken: "a2", refreshToken: "r2" }) };
      },
      logout: (req, ctx) => {
        log.push(`logout ${ctx.requestHeader.get("authorization")} ${req.refreshToken}`);
        return {};
      },
    });
    r.service(NotificationService, {
      registerPushToken: (req, ctx) => {
        log.push(`register ${req.token} ${PushPlatform[req.platform]} ${ctx.requestHeader.get("authorization")}`);
        return {};
      },
      unregisterPushToken: async (req, ctx) => {
        log.push(`unregister ${req.token} ${ctx.requestHeader.get("authorization")}`);
        await opts.unregister?.();
        return {};
      },
    });
  });
  return { log, transport };
}

test("signOut forgets the registered push token with the ending session's token, then revokes the session", async () => {
  const rig = pushRig();
  const tokens = memoryTokenStore();
  const c = createInfliqClient({ baseUrl: "http://unused", tokens, transport: rig.transport });
  const events: AuthEvent[] = [];
  c.onAuthStateChange((e) => events.push(e));
  await c.auth.verifyOtp({ phone: "9999999999", otp: "123456" });
  await c.notifications.registerPushToken("ExponentPushToken[abc]", "android");
  assert.equal(c.notifications.pushToken(), "ExponentPushToken[abc]");
  await c.signOut();
  assert.deepEqual(rig.log, [
    "register ExponentPushToken[abc] ANDROID Bearer a1",
    "unregister ExponentPushToken[abc] Bearer a1",
    "logout Bearer a1 r1",
  ]);
  assert.equal(await tokens.getAccessToken(), undefined);
  assert.equal(c.notifications.pushToken(), undefined);
  assert.deepEqual(events, ["signedIn", "signedOut"]);
  // The next session registers nothing until the app does.
  await c.auth.verifyOtp({ phone: "9999999999", otp: "123456" });
  await c.signOut();
  assert.deepEqual(rig.log.slice(3), ["logout Bearer a1 r1"]);
});

test("auth.logout forgets the push token before Logout revokes the session; unregisterPushToken forgets it earlier", async () => {
  const rig = pushRig();
  const c = createInfliqClient({ baseUrl: "http://unused", tokens: memoryTokenStore(), transport: rig.transport });
  await c.auth.verifyOtp({ phone: "9999999999", otp: "123456" });
  await c.notifications.registerPushToken("ExpoPushToken[one]", PushPlatform.IOS);
  await c.auth.logout({});
  assert.deepEqual(rig.log.slice(1), ["unregister ExpoPushToken[one] Bearer a1", "logout Bearer a1 "]);

  await c.auth.verifyOtp({ phone: "9999999999", otp: "123456" });
  await c.notifications.registerPushToken("ExpoPushToken[two]", "ios");
  await c.notifications.unregisterPushToken();
  assert.equal(c.notifications.pushToken(), undefined);
  await c.signOut();
  assert.deepEqual(rig.log.slice(3), ["register ExpoPushToken[two] IOS Bearer a1", "unregister ExpoPushToken[two] Bearer a1", "logout Bearer a1 r1"]);
});

test("a push-token call that hangs or fails never holds up the local sign-out", async () => {
  let release!: () => void;
  let reached!: () => void;
  const hung = new Promise<void>((res) => (release = res));
  const atServer = new Promise<void>((res) => (reached = res));
  const rig = pushRig({ unregister: () => (reached(), hung) });
  const tokens = memoryTokenStore();
  const c = createInfliqClient({ baseUrl: "http://unused", tokens, transport: rig.transport });
  await c.auth.verifyOtp({ phone: "9999999999", otp: "123456" });
  await c.notifications.registerPushToken("ExponentPushToken[slow]", "android");
  let signedOut!: () => void;
  const gone = new Promise<void>((res) => (signedOut = res));
  c.onAuthStateChange((e) => e === "signedOut" && signedOut());
  let finished = false;
  const done = c.signOut().then(() => (finished = true));
  // Local sign-out happens while the server still holds the unregister call.
  await gone;
  await atServer;
  assert.equal(await tokens.getAccessToken(), undefined);
  assert.equal(await tokens.getRefreshToken(), undefined);
  assert.deepEqual(rig.log.slice(1), ["unregister ExponentPushToken[slow] Bearer a1"]);
  assert.equal(finished, false);
  release();
  await done;
  assert.deepEqual(rig.log.slice(2), ["logout Bearer a1 r1"]);

  // Offline: the unregister fails like fetch does, sign-out still completes.
  const offline = createInfliqCore({
    baseUrl: "http://unused",
    tokens: memoryTokenStore({ accessToken: "x", refreshToken: "y" }),
    transport: (interceptors) =>
      createRouterTransport(() => {}, {
        transport: {
          interceptors: [
            ...interceptors,
            () => () => {
              throw new TypeError("Network request failed");
            },
          ],
        },
      }),
  });
  const n = createNotifications(offline);
  await assert.rejects(n.registerPushToken("ExponentPushToken[z]", "ios"));
  await offline.signOut();
  assert.equal(await offline.tokens.getAccessToken(), undefined);
});

test("a push token refused with 401 at sign-out does not refresh the ending session", async () => {
  const log: string[] = [];
  const c = createInfliqClient({
    baseUrl: "http://unused",
    tokens: memoryTokenStore(),
    transport: router((r) => {
      r.service(AuthService, {
        verifyOtp: () => ({ session: create(SessionSchema, { accessToken: "a1", refreshToken: "r1" }) }),
        refresh: () => {
          log.push("refresh");
          return { session: create(SessionSchema, { accessToken: "a2", refreshToken: "r2" }) };
        },
        logout: (req) => (log.push(`logout ${req.refreshToken}`), {}),
      });
      r.service(NotificationService, {
        registerPushToken: () => ({}),
        unregisterPushToken: () => {
          log.push("unregister");
          throw new ConnectError("expired", Code.Unauthenticated);
        },
      });
    }),
  });
  await c.auth.verifyOtp({ phone: "9999999999", otp: "123456" });
  await c.notifications.registerPushToken("ExponentPushToken[t]", "ios");
  await c.signOut();
  assert.deepEqual(log, ["unregister", "logout r1"]);
});

test("onNotification delivers inbox updates from the realtime stream, with the unread count", async () => {
  const c = createInfliqClient({
    baseUrl: "http://unused",
    tokens: memoryTokenStore({ accessToken: "a", refreshToken: "r" }),
    transport: router((r) =>
      r.service(RealtimeService, {
        async *subscribe(_req, ctx): AsyncGenerator<MessageInitShape<typeof SubscribeResponseSchema>> {
          yield { sequence: "0", event: { case: "heartbeat" as const, value: {} } };
          // A legacy-only notification (no inbox update) is not an inbox update.
          yield { sequence: "1", event: { case: "notification" as const, value: { id: "like-x", type: "like" } } };
          yield { sequence: "2", event: { case: "notification" as const, value: { id: "g1", type: "like", update: { notification: group("c".repeat(24), Kind.LIKE, 2000), unreadCount: "1" } } } };
          yield { sequence: "3", event: { case: "notification" as const, value: { id: "g2", type: "follow", update: { notification: group("d".repeat(24), Kind.FOLLOW, 3000), unreadCount: "2" } } } };
          await new Promise((res) => ctx.signal.addEventListener("abort", res));
        },
      }),
    ),
  });
  const got: [string, string][] = [];
  await new Promise<void>((resolve) => {
    const sub = c.onNotification((u) => {
      got.push([u.notification!.id, u.unreadCount]);
      if (got.length === 2) {
        sub.close();
        resolve();
      }
    });
  });
  assert.deepEqual(got, [["c".repeat(24), "1"], ["d".repeat(24), "2"]]);
});

test("pushRoute leads a tapped push to the ring screen, a chat, a post, a profile, the call history or the inbox", () => {
  const [a, b, c] = ["a".repeat(24), "b".repeat(24), "c".repeat(24)];
  assert.deepEqual(pushRoute({ type: "call", kind: "call", callId: a, callerId: b, callType: "audio" }), { to: "call", callId: a, callerId: b, callType: "audio" });
  assert.deepEqual(pushRoute({ type: "call", callId: a, callerId: b }), { to: "call", callId: a, callerId: b, callType: "video" });
  assert.deepEqual(pushRoute({ type: "message", chatId: a, notificationId: c, count: "3" }), { to: "chat", chatId: a });
  for (const type of ["like", "comment", "mention"]) assert.deepEqual(pushRoute({ type, postId: a, notificationId: c }), { to: "post", postId: a, notificationId: c });
  assert.deepEqual(pushRoute({ type: "follow", actorId: b, notificationId: c }), { to: "profile", userId: b });
  assert.deepEqual(pushRoute({ type: "missed_call", callId: a }), { to: "callHistory", callId: a });
  // Anything malformed or unknown opens the inbox; ids are checked.
  assert.deepEqual(pushRoute({ type: "call", callId: "../../etc", callerId: b }), { to: "inbox", notificationId: "" });
  assert.deepEqual(pushRoute({ type: "story_reply", notificationId: c }), { to: "inbox", notificationId: c });
  for (const junk of [undefined, null, "x", 42, [], { type: "message", chatId: 7 }]) assert.deepEqual(pushRoute(junk), { to: "inbox", notificationId: "" });
});

test("sign-out gives up on a push-token call that never answers, and Logout still gets its own time", async () => {
  const log: string[] = [];
  let aborted = false;
  const c = createInfliqClient({
    baseUrl: "http://unused",
    tokens: memoryTokenStore(),
    signOutTimeoutMs: 50,
    transport: router((r) => {
      r.service(AuthService, {
        verifyOtp: () => ({ session: create(SessionSchema, { accessToken: "a1", refreshToken: "r1" }) }),
        logout: (req) => (log.push(`logout ${req.refreshToken}`), {}),
      });
      r.service(NotificationService, {
        registerPushToken: () => ({}),
        // Never answers; only the client's abort ends it.
        unregisterPushToken: (_req, ctx) =>
          new Promise((_res, rej) => ctx.signal.addEventListener("abort", () => ((aborted = true), rej(new ConnectError("aborted", Code.Canceled))))),
      });
    }),
  });
  await c.auth.verifyOtp({ phone: "9999999999", otp: "123456" });
  await c.notifications.registerPushToken("ExponentPushToken[hang]", "ios");
  await c.signOut();
  assert.deepEqual(log, ["logout r1"]);
  assert.equal(aborted, true, "the hung call was aborted");
  assert.equal(await c.tokens.getAccessToken(), undefined);
});
