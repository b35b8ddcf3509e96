// The SDK's binary-only Connect transport against a real in-process Connect
// server (connect's router behind a fetch handler): the bytes on the wire,
// unary and server-streaming calls, error JSON with binary details
// (Violations, ErrorInfo), end-stream errors, HTTP errors from a proxy,
// network failures, and interceptors.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Code, ConnectError, createConnectRouter, createClient, type ConnectRouter, type Interceptor } from "@connectrpc/connect";
import { createFetchHandler } from "@connectrpc/connect/protocol";
import { BinaryReader, BinaryWriter } from "@bufbuild/protobuf/wire";
import { AuthService, RealtimeService, classifyError, reasonHeader, createInfliqCore } from "../src/index.js";
import { createBinaryTransport } from "../src/transport.js";

type Seen = { url: string; contentType: string | null; version: string | null; timeout: string | null; rid: string | null };

function server(routes: (r: ConnectRouter) => void) {
  const router = createConnectRouter();
  routes(router);
  const handlers = new Map(router.handlers.map((h) => [h.requestPath, createFetchHandler(h)]));
  const seen: Seen[] = [];
  const fetch = async (input: RequestInfo | URL, init?: RequestInit) => {
    const req = new Request(input, init);
    seen.push({ url: req.url, contentType: req.headers.get("content-type"), version: req.headers.get("connect-protocol-version"), timeout: req.headers.get("connect-timeout-ms"), rid: req.headers.get("x-request-id") });
    const h = handlers.get(new URL(req.url).pathname);
    return h ? h(req) : new Response("not found", { status: 404 });
  };
  return { fetch: fetch as typeof globalThis.fetch, seen };
}

function violations(field: string, message: string): Uint8Array {
  const el = new BinaryWriter().tag(2, 2).string(field).finish();
  const path = new BinaryWriter().tag(1, 2).bytes(el).finish();
  const v = new BinaryWriter().tag(5, 2).bytes(path).tag(3, 2).string(message).finish();
  return new BinaryWriter().tag(1, 2).bytes(v).finish();
}

// google.rpc.ErrorInfo { reason = 1, domain = 2 }
function errorInfo(reason: string): Uint8Array {
  return new BinaryWriter().tag(1, 2).string(reason).tag(2, 2).string("infliq").finish();
}

function readErrorInfoReason(b: Uint8Array): string {
  const r = new BinaryReader(b);
  let reason = "";
  while (r.pos < r.len) {
    const [no, wt] = r.tag();
    if (no === 1) reason = r.string();
    else r.skip(wt, no);
  }
  return reason;
}

test("unary calls are binary Connect: application/proto, protocol version, timeout, interceptors", async () => {
  const s = server((r) => r.service(AuthService, { sendOtp: (req) => ({ expiresInSeconds: req.phone.length }) }));
  const seenByInterceptor: string[] = [];
  const mark: Interceptor = (next) => async (req) => {
    seenByInterceptor.push(req.method.name);
    const res = await next(req);
    seenByInterceptor.push(res.stream ? "stream" : "unary");
    return res;
  };
  const client = createClient(AuthService, createBinaryTransport({ baseUrl: "http://api.test/", fetch: s.fetch, interceptors: [mark] }));
  const res = await client.sendOtp({ phone: "9876543210" }, { timeoutMs: 5000 });
  assert.equal(res.expiresInSeconds, 10);
  assert.equal(s.seen[0].url, "http://api.test/infliq.auth.v1.AuthService/SendOtp");
  assert.equal(s.seen[0].contentType, "application/proto");
  assert.equal(s.seen[0].version, "1");
  assert.ok(Number(s.seen[0].timeout) > 0 && Number(s.seen[0].timeout) <= 5000);
  assert.deepEqual(seenByInterceptor, ["SendOtp", "unary"]);
});

test("unary errors keep code, message, metadata and binary details (Violations into fields, ErrorInfo)", async () => {
  const s = server((r) =>
    r.service(AuthService, {
      sendOtp: () => {
        const e = new ConnectError("invalid request", Code.InvalidArgument, { [reasonHeader]: "BAD_REQUEST" });
        e.details.push({ type: "buf.validate.Violations", value: violations("phone", "value is required") });
        e.details.push({ type: "google.rpc.ErrorInfo", value: errorInfo("BAD_REQUEST") });
        throw e;
      },
    }),
  );
  const client = createClient(AuthService, createBinaryTransport({ baseUrl: "http://api.test", fetch: s.fetch }));
  const err = await client.sendOtp({ phone: "" }).then(() => assert.fail("no error"), ConnectError.from);
  assert.equal(err.code, Code.InvalidArgument);
  assert.equal(err.rawMessage, "invalid request");
  assert.equal(err.metadata.get(reasonHeader), "BAD_REQUEST");
  const info = err.details.find((d) => !("desc" in d) && d.type === "google.rpc.ErrorInfo");
  assert.ok(info && !("desc" in info));
  assert.equal(readErrorInfoReason(info.value), "BAD_REQUEST");
  const app = classifyError(err);
  assert.equal(app.kind, "validation");
  assert.equal(app.reason, "BAD_REQUEST");
  assert.deepEqual(app.kind === "validation" && app.fields, { phone: ["value is required"] });
});

test("server streams read envelopes, then an end-stream error with its details", async () => {
  const s = server((r) =>
    r.service(RealtimeService, {
      async *subscribe(req) {
        yield { sequence: String(Number(req.lastSequence) + 1) };
        yield { sequence: String(Number(req.lastSequence) + 2) };
        const e = new ConnectError("session ended", Code.Unauthenticated, { [reasonHeader]: "SESSION_REVOKED" });
        e.details.push({ type: "google.rpc.ErrorInfo", value: errorInfo("SESSION_REVOKED") });
        throw e;
      },
    }),
  );
  const client = createClient(RealtimeService, createBinaryTransport({ baseUrl: "http://api.test", fetch: s.fetch }));
  const got: string[] = [];
  const err = await (async () => {
    for await (const ev of client.subscribe({ lastSequence: "41" })) got.push(ev.sequence);
  })().then(() => assert.fail("no error"), ConnectError.from);
  assert.deepEqual(got, ["42", "43"]);
  assert.equal(s.seen[0].contentType, "application/connect+proto");
  assert.equal(err.code, Code.Unauthenticated);
  assert.equal(err.rawMessage, "session ended");
  assert.equal(err.metadata.get(reasonHeader), "SESSION_REVOKED");
  const info = err.details.find((d) => !("desc" in d) && d.type === "google.rpc.ErrorInfo");
  assert.equal(info && !("desc" in info) && readErrorInfoReason(info.value), "SESSION_REVOKED");
});

test("a stream that ends cleanly delivers every message and no error", async () => {
  const s = server((r) =>
    r.service(RealtimeService, {
      async *subscribe() {
        for (let i = 1; i <= 50; i++) yield { sequence: String(i) };
      },
    }),
  );
  const client = createClient(RealtimeService, createBinaryTransport({ baseUrl: "http://api.test", fetch: s.fetch }));
  const got: string[] = [];
  for await (const ev of client.subscribe({})) got.push(ev.sequence);
  assert.equal(got.length, 50);
  assert.equal(got[49], "50");
});

test("a proxy's non-Connect error page maps from the HTTP status; a dead network is offline", async () => {
  const proxy = (async () => new Response("<html>bad gateway</html>", { status: 502, headers: { "content-type": "text/html" } })) as typeof globalThis.fetch;
  const client = createClient(AuthService, createBinaryTransport({ baseUrl: "http://api.test", fetch: proxy }));
  const e502 = await client.sendOtp({ phone: "1" }).then(() => assert.fail("no error"), ConnectError.from);
  assert.equal(e502.code, Code.Unavailable);
  assert.equal(classifyError(e502).kind, "unavailable");

  const json502 = (async () => new Response("not json{", { status: 503, headers: { "content-type": "application/json" } })) as typeof globalThis.fetch;
  const bad = await createClient(AuthService, createBinaryTransport({ baseUrl: "http://api.test", fetch: json502 }))
    .sendOtp({ phone: "1" })
    .then(() => assert.fail("no error"), ConnectError.from);
  assert.equal(bad.code, Code.Unavailable);

  const down = (async () => {
    throw new TypeError("Network request failed");
  }) as typeof globalThis.fetch;
  const off = await createClient(AuthService, createBinaryTransport({ baseUrl: "http://api.test", fetch: down }))
    .sendOtp({ phone: "1" })
    .then(() => assert.fail("no error"), (e) => e);
  assert.equal(classifyError(off).kind, "offline");
});

test("the session core uses it by default: its requests are binary and carry a request id", async () => {
  const s = server((r) => r.service(AuthService, { sendOtp: () => ({ expiresInSeconds: 300 }) }));
  const core = createInfliqCore({ baseUrl: "http://api.test", fetch: s.fetch });
  const res = await core.service(AuthService).sendOtp({ phone: "9876543210" });
  assert.equal(res.expiresInSeconds, 300);
  assert.equal(s.seen[0].contentType, "application/proto");
  assert.match(s.seen[0].rid ?? "", /^[0-9a-f]{32}$/);
});

test("aborting a stream's signal ends it with canceled", async () => {
  const s = server((r) =>
    r.service(RealtimeService, {
      async *subscribe(_req, ctx) {
        for (let i = 1; i < 1000 && !ctx.signal.aborted; i++) {
          yield { sequence: String(i) };
          await new Promise((res) => setTimeout(res, 1));
        }
      },
    }),
  );
  const client = createClient(RealtimeService, createBinaryTransport({ baseUrl: "http://api.test", fetch: s.fetch }));
  const ac = new AbortController();
  const got: string[] = [];
  const err = await (async () => {
    for await (const ev of client.subscribe({}, { signal: ac.signal })) {
      got.push(ev.sequence);
      if (got.length === 3) ac.abort();
    }
  })().then(() => assert.fail("no error"), ConnectError.from);
  assert.equal(err.code, Code.Canceled);
  assert.deepEqual(got, ["1", "2", "3"]);
});
