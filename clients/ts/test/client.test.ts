// Unit tests of the client factory against an in-memory Connect router
// (createRouterTransport): header plumbing, session capture, single-flight
// refresh, session expiry, error classification and realtime resume.
import { test } from "node:test";
import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createRouterTransport, type ConnectRouter, type Interceptor } from "@connectrpc/connect";
import { createInfliqClient, memoryTokenStore, keyValueTokenStore, classifyError, reasonHeader, AuthService, RealtimeService, type AuthEvent, type RealtimeState } from "../src/index.js";
import { SessionSchema } from "../gen/infliq/auth/v1/auth_pb.js";
import { BinaryWriter } from "@bufbuild/protobuf/wire";

function router(routes: (r: ConnectRouter) => void) {
  return (interceptors: Interceptor[]) => createRouterTransport(routes, { transport: { interceptors } });
}

test("attaches the bearer token and a request id, and stores sessions from login", async () => {
  const seen: { auth: string | null; rid: string | null }[] = [];
  const tokens = memoryTokenStore();
  const c = createInfliqClient({
    baseUrl: "http://unused",
    tokens,
    transport: router((r) =>
      r.service(AuthService, {
        verifyOtp: () => ({ session: create(SessionSchema, { accessToken: "a1", refreshToken: "r1" }), created: true }),
        getSession: (_req, ctx) => {
          seen.push({ auth: ctx.requestHeader.get("authorization"), rid: ctx.requestHeader.get("x-request-id") });
          return { userId: "65a1b2c3d4e5f60718293a4b" };
        },
        logout: () => ({}),
      }),
    ),
  });
  await c.auth.verifyOtp({ phone: "9999999999", otp: "123456" });
  assert.equal(await tokens.getAccessToken(), "a1");
  assert.equal(await tokens.getRefreshToken(), "r1");
  await c.auth.getSession({});
  assert.equal(seen[0].auth, "Bearer a1");
  assert.match(seen[0].rid ?? "", /^[0-9a-f]{32}$/);
  await c.auth.logout({});
  assert.equal(await tokens.getAccessToken(), undefined);
});

test("refreshes once for 20 concurrent calls that hit an expired token", async () => {
  let refreshes = 0;
  const tokens = memoryTokenStore({ accessToken: "stale", refreshToken: "r1" });
  const c = createInfliqClient({
    baseUrl: "http://unused",
    tokens,
    transport: router((r) =>
      r.service(AuthService, {
        refresh: async (req) => {
          refreshes++;
          assert.equal(req.refreshToken, "r1");
          await new Promise((res) => setTimeout(res, 20));
          return { session: create(SessionSchema, { accessToken: "fresh", refreshToken: "r2" }) };
        },
        getSession: (_req, ctx) => {
          if (ctx.requestHeader.get("authorization") !== "Bearer fresh") throw new ConnectError("expired", Code.Unauthenticated);
          return { userId: "65a1b2c3d4e5f60718293a4b" };
        },
      }),
    ),
  });
  const all = await Promise.all(Array.from({ length: 20 }, () => c.auth.getSession({})));
  assert.equal(all.length, 20);
  assert.equal(refreshes, 1);
  assert.equal(await tokens.getRefreshToken(), "r2");
});

test("a failed refresh clears the session and calls onSessionExpired once", async () => {
  let expired = 0;
  const tokens = memoryTokenStore({ accessToken: "stale", refreshToken: "reused" });
  const c = createInfliqClient({
    baseUrl: "http://unused",
    tokens,
    onSessionExpired: () => expired++,
    transport: router((r) =>
      r.service(AuthService, {
        refresh: () => {
          throw new ConnectError("Invalid refresh token", Code.Unauthenticated);
        },
        getSession: () => {
          throw new ConnectError("expired", Code.Unauthenticated);
        },
      }),
    ),
  });
  const results = await Promise.allSettled([c.auth.getSession({}), c.auth.getSession({})]);
  assert.ok(results.every((r) => r.status === "rejected"));
  assert.equal(expired, 1);
  assert.equal(await tokens.getAccessToken(), undefined);
});

test("classifyError sorts errors into app cases, keeping cause and reason on each", async () => {
  // buf.validate.Violations { violations: [{ field: { elements: [{ field_name: "phone" }] }, message }] }
  const el = new BinaryWriter().tag(2, 2).string("phone").finish();
  const path = new BinaryWriter().tag(1, 2).bytes(el).finish();
  const violation = new BinaryWriter().tag(5, 2).bytes(path).tag(3, 2).string("value length must be at most 32 characters").finish();
  const violations = new BinaryWriter().tag(1, 2).bytes(violation).finish();
  const v = new ConnectError("invalid", Code.InvalidArgument, { [reasonHeader]: "BAD_REQUEST" });
  v.details.push({ type: "buf.validate.Violations", value: violations });
  const ve = classifyError(v);
  assert.equal(ve.kind, "validation");
  assert.equal(ve.reason, "BAD_REQUEST");
  assert.equal(ve.cause, v);
  assert.deepEqual(ve.kind === "validation" && ve.fields, { phone: ["value length must be at most 32 characters"] });
  const rlErr = new ConnectError("slow down", Code.ResourceExhausted, { "retry-after": "30" });
  assert.deepEqual(classifyError(rlErr), { kind: "rate_limited", message: "slow down", reason: "", cause: rlErr, retryAfterSeconds: 30 });
  assert.equal(classifyError(new ConnectError("x", Code.NotFound)).kind, "not_found");
  assert.equal(classifyError(new ConnectError("x", Code.PermissionDenied)).kind, "forbidden");
  assert.equal(classifyError(new Error("boom")).kind, "unknown");
  // Offline and timeouts are their own kinds (they were "unknown"/"unavailable").
  const net = new TypeError("Network request failed");
  const off = classifyError(net);
  assert.equal(off.kind, "offline");
  assert.equal(off.cause, net);
  assert.equal(classifyError(new ConnectError("fetch failed", Code.Unknown, undefined, undefined, net)).kind, "offline");
  assert.equal(classifyError(new ConnectError("deadline", Code.DeadlineExceeded)).kind, "timeout");
  assert.equal(classifyError(new ConnectError("db down", Code.Unavailable)).kind, "unavailable");
  assert.equal(classifyError(new ConnectError("aborted", Code.Canceled)).kind, "canceled");
  for (const e of [new Error("x"), new ConnectError("x", Code.Internal), net]) {
    const c = classifyError(e);
    assert.ok("cause" in c && "reason" in c, c.kind);
  }
});

test("realtime resumes from the last sequence after a disconnect, losing nothing", async () => {
  const asked: string[] = [];
  const c = createInfliqClient({
    baseUrl: "http://unused",
    tokens: memoryTokenStore({ accessToken: "a", refreshToken: "r" }),
    transport: router((r) =>
      r.service(RealtimeService, {
        async *subscribe(req) {
          asked.push(req.lastSequence);
          const note = (seq: number) => ({ sequence: String(seq), event: { case: "notification" as const, value: { id: `n${seq}`, type: "like" } } });
          if (asked.length === 1) {
            yield { sequence: "0", event: { case: "heartbeat" as const, value: {} } };
            yield note(1);
            yield note(2);
            throw new ConnectError("connection lost", Code.Unavailable);
          }
          // The server replays from the client's sequence; an overlap is dropped.
          yield note(2);
          yield note(3);
          await new Promise((res) => setTimeout(res, 1000));
        },
      }),
    ),
  });
  const got: string[] = [];
  await new Promise<void>((resolve) => {
    const sub = c.realtime.subscribe({
      minBackoffMs: 5,
      onEvent: (ev) => {
        if (ev.event.case === "notification") got.push(ev.event.value.id);
        if (got.length === 3) {
          sub.close();
          resolve();
        }
      },
    });
  });
  assert.deepEqual(got, ["n1", "n2", "n3"]);
  assert.deepEqual(asked, ["0", "2"]);
});

// Defect 1: a refresh that cannot reach the server keeps the session.
test("a network failure during refresh keeps the session and surfaces as offline; the same refresh token works next time", async () => {
  let refreshes = 0;
  let expired = 0;
  const events: AuthEvent[] = [];
  const tokens = memoryTokenStore({ accessToken: "stale", refreshToken: "r1" });
  const c = createInfliqClient({
    baseUrl: "http://unused",
    tokens,
    onSessionExpired: () => expired++,
    // The first Refresh fails the way fetch does without a network.
    transport: (interceptors) =>
      createRouterTransport(routes, {
        transport: {
          interceptors: [
            ...interceptors,
            (next) => async (req) => {
              if (req.method.name === "Refresh" && refreshes === 0 && ++refreshes) throw new TypeError("Network request failed");
              return next(req);
            },
          ],
        },
      }),
  });
  function routes(r: ConnectRouter) {
      r.service(AuthService, {
        refresh: (req) => {
          refreshes++;
          assert.equal(req.refreshToken, "r1");
          return { session: create(SessionSchema, { accessToken: "fresh", refreshToken: "r2" }) };
        },
        getSession: (_req, ctx) => {
          if (ctx.requestHeader.get("authorization") !== "Bearer fresh") throw new ConnectError("expired", Code.Unauthenticated);
          return { userId: "65a1b2c3d4e5f60718293a4b" };
        },
      });
  }
  c.onAuthStateChange((e) => events.push(e));
  const first = await c.auth.getSession({}).then(
    () => assert.fail("expected offline"),
    (e) => classifyError(e),
  );
  assert.equal(first.kind, "offline");
  assert.equal(await tokens.getRefreshToken(), "r1");
  assert.equal(await tokens.getAccessToken(), "stale");
  assert.equal(expired, 0);
  assert.deepEqual(events, []);
  assert.equal((await c.auth.getSession({})).userId, "65a1b2c3d4e5f60718293a4b");
  assert.deepEqual(events, ["tokenRefreshed"]);
});

// Defect 4: logout ends the session locally even offline, closes
// subscriptions and fires one event.
test("logout offline clears the session, closes subscriptions and fires one signedOut", async () => {
  const events: AuthEvent[] = [];
  const tokens = memoryTokenStore({ accessToken: "a", refreshToken: "r" });
  const c = createInfliqClient({
    baseUrl: "http://unused",
    tokens,
    transport: router((r) => {
      r.service(AuthService, {
        logout: () => {
          throw new TypeError("Network request failed");
        },
      });
      r.service(RealtimeService, {
        async *subscribe() {
          yield { sequence: "0", event: { case: "heartbeat" as const, value: {} } };
          await new Promise((res) => setTimeout(res, 60_000));
        },
      });
    }),
  });
  c.onAuthStateChange((e) => events.push(e));
  const states: RealtimeState[] = [];
  let opened!: () => void;
  const open = new Promise<void>((res) => (opened = res));
  const sub = c.realtime.subscribe({ onEvent: () => {}, onStateChange: (s) => (states.push(s), s === "open" && opened()) });
  await open;
  await assert.rejects(c.auth.logout({}));
  assert.equal(await tokens.getAccessToken(), undefined);
  assert.equal(await tokens.getRefreshToken(), undefined);
  await new Promise((res) => setTimeout(res, 10));
  assert.equal(sub.state(), "closed");
  assert.deepEqual(states, ["connecting", "open", "closed"]);
  // signOut() never throws and fires nothing more: the session is gone.
  await c.signOut();
  assert.deepEqual(events, ["signedOut"]);
});

// Defect 5: subscriptions follow the session.
test("a subscription waits for sign-in, restarts after a refresh from its last sequence, reports transitions, errors and chat ids", async () => {
  const calls: { seq: string; chats: string[]; auth: string | null }[] = [];
  let refreshes = 0;
  const tokens = memoryTokenStore();
  const c = createInfliqClient({
    baseUrl: "http://unused",
    tokens,
    transport: router((r) => {
      r.service(AuthService, {
        verifyOtp: () => ({ session: create(SessionSchema, { accessToken: "a1", refreshToken: "r1" }) }),
        refresh: () => ({ session: create(SessionSchema, { accessToken: `a${++refreshes + 1}`, refreshToken: "r" }) }),
      });
      r.service(RealtimeService, {
        async *subscribe(req, ctx) {
          calls.push({ seq: req.lastSequence, chats: req.chatIds, auth: ctx.requestHeader.get("authorization") });
          if (calls.length === 2) throw new ConnectError("blip", Code.Unavailable);
          const base = Number(req.lastSequence);
          for (let i = 1; i <= 3; i++) yield { sequence: String(base + i), event: { case: "notification" as const, value: { id: `n${base + i}`, type: "like" } } };
          await new Promise((res) => setTimeout(res, 60_000));
        },
      });
    }),
  });
  const states: RealtimeState[] = [];
  const errors: string[] = [];
  const got: string[] = [];
  let wake: (() => void) | undefined;
  const until = async (ok: () => boolean) => {
    while (!ok()) await new Promise<void>((res) => ((wake = res), setTimeout(res, 20)));
  };
  const sub = c.realtime.subscribe({
    chatIds: ["65a1b2c3d4e5f60718293a4b"],
    minBackoffMs: 1,
    onStateChange: (s) => states.push(s),
    onError: (e) => errors.push(e.kind),
    onEvent: (ev) => {
      if (ev.event.case === "notification") got.push(ev.event.value.id);
      wake?.();
    },
  });
  await new Promise((res) => setTimeout(res, 30));
  assert.equal(calls.length, 0, "no stream without a session");
  assert.deepEqual(states, ["waiting"]);
  await c.auth.verifyOtp({ phone: "9999999999", otp: "123456" });
  await until(() => got.length === 3);
  assert.deepEqual(calls[0], { seq: "0", chats: ["65a1b2c3d4e5f60718293a4b"], auth: "Bearer a1" });
  // open fired once for three events.
  assert.deepEqual(states, ["waiting", "connecting", "open"]);
  // A refresh restarts the stream with the new token from sequence 3; the
  // second stream fails once (onError), the third resumes.
  assert.equal(await c.refresh(), true);
  await until(() => got.length === 6);
  assert.deepEqual(calls.slice(1).map((x) => [x.seq, x.auth]), [["3", "Bearer a2"], ["3", "Bearer a2"]]);
  assert.deepEqual(errors, ["unavailable"]);
  assert.deepEqual(got, ["n1", "n2", "n3", "n4", "n5", "n6"]);
  sub.setChatIds([]);
  await until(() => calls.length === 4);
  assert.deepEqual(calls[3].chats, []);
  assert.equal(calls[3].seq, "6");
  sub.close();
  await until(() => states.at(-1) === "closed");
  for (let i = 1; i < states.length; i++) assert.notEqual(states[i], states[i - 1], `repeated ${states[i]}`);
});

// The README's SecureStore recipe, against a stand-in with expo-secure-store's API.
test("keyValueTokenStore over a SecureStore-like API keeps the session across restarts and clears it at logout", async () => {
  const disk = new Map<string, string>();
  const SecureStore = {
    getItemAsync: async (k: string) => disk.get(k) ?? null,
    setItemAsync: async (k: string, v: string) => void disk.set(k, v),
    deleteItemAsync: async (k: string) => void disk.delete(k),
  };
  const routes = router((r) =>
    r.service(AuthService, {
      verifyOtp: () => ({ session: create(SessionSchema, { accessToken: "a1", refreshToken: "r1" }) }),
      getSession: (_req, ctx) => {
        if (ctx.requestHeader.get("authorization") !== "Bearer a1") throw new ConnectError("no", Code.Unauthenticated);
        return { userId: "65a1b2c3d4e5f60718293a4b" };
      },
      logout: () => ({}),
    }),
  );
  const first = createInfliqClient({ baseUrl: "http://unused", tokens: keyValueTokenStore(SecureStore), transport: routes });
  await first.auth.verifyOtp({ phone: "9999999999", otp: "123456" });
  assert.deepEqual([...disk], [["authToken", "a1"], ["refreshToken", "r1"]]);
  // The app restarts: a new client reads the stored session.
  const second = createInfliqClient({ baseUrl: "http://unused", tokens: keyValueTokenStore(SecureStore), transport: routes });
  assert.equal((await second.auth.getSession({})).userId, "65a1b2c3d4e5f60718293a4b");
  await second.signOut();
  assert.equal(disk.size, 0);
});
