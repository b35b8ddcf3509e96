// Unit tests of the client factory against an in-memory Connect router
// (createRouterTransport): header plumbing, session capture, single-flight
// refresh, session expiry, error classification and realtime resume.
import { test } from "node:test";
import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createRouterTransport, type ConnectRouter, type Interceptor } from "@connectrpc/connect";
import { createInfliqClient, memoryTokenStore, classifyError, AuthService, RealtimeService } from "../src/index.js";
import { SessionSchema } from "../gen/infliq/auth/v1/auth_pb.js";
import { ViolationsSchema } from "../gen/buf/validate/validate_pb.js";

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

test("classifyError sorts errors into app cases", async () => {
  const v = new ConnectError("invalid", Code.InvalidArgument, undefined, [
    {
      desc: ViolationsSchema,
      value: create(ViolationsSchema, {
        violations: [{ message: "value length must be at most 32 characters", field: { elements: [{ fieldName: "phone" }] } }],
      }),
    },
  ]);
  const ve = classifyError(v);
  assert.equal(ve.kind, "validation");
  assert.deepEqual(ve.kind === "validation" && ve.fields, { phone: ["value length must be at most 32 characters"] });
  const rl = classifyError(new ConnectError("slow down", Code.ResourceExhausted, { "retry-after": "30" }));
  assert.deepEqual(rl, { kind: "rate_limited", message: "slow down", retryAfterSeconds: 30 });
  assert.equal(classifyError(new ConnectError("x", Code.NotFound)).kind, "not_found");
  assert.equal(classifyError(new ConnectError("x", Code.PermissionDenied)).kind, "forbidden");
  assert.equal(classifyError(new Error("boom")).kind, "unknown");
});

test("realtime resumes from the last sequence after a disconnect, losing nothing", async () => {
  const asked: bigint[] = [];
  const c = createInfliqClient({
    baseUrl: "http://unused",
    tokens: memoryTokenStore({ accessToken: "a", refreshToken: "r" }),
    transport: router((r) =>
      r.service(RealtimeService, {
        async *subscribe(req) {
          asked.push(req.lastSequence);
          const note = (seq: bigint) => ({ sequence: seq, event: { case: "notification" as const, value: { id: `n${seq}`, type: "like" } } });
          if (asked.length === 1) {
            yield { sequence: 0n, event: { case: "heartbeat" as const, value: {} } };
            yield note(1n);
            yield note(2n);
            throw new ConnectError("connection lost", Code.Unavailable);
          }
          // The server replays from the client's sequence; an overlap is dropped.
          yield note(2n);
          yield note(3n);
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
  assert.deepEqual(asked, [0n, 2n]);
});
