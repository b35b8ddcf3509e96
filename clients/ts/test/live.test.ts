// Integration test against the live backend: builds and starts `infliq all`
// with embedded defaults on free ports, then drives the SDK exactly as the
// Expo app would. OTP codes come from the dev-only sink file, which only
// development builds write.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, existsSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInfliqClient, memoryTokenStore, classifyError, post, chat, type InfliqClient } from "../src/index.js";

const repo = resolve(process.cwd(), "../..");
let proc: ChildProcess | undefined;
let base = "";
let dir = "";
let sink = "";
let logs = "";

// Ports below the kernel's ephemeral range: one taken from that range and
// released can be grabbed by another process's outgoing connection before
// the backend binds it (tests run in parallel).
function ephemeralStart(): number {
  try {
    return Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]);
  } catch {
    return 0;
  }
}

function tryListen(port: number): Promise<number> {
  return new Promise((res) => {
    const s = createServer();
    s.once("error", () => res(0));
    s.listen(port, "127.0.0.1", () => {
      const a = s.address();
      s.close(() => res(typeof a === "object" && a ? a.port : 0));
    });
  });
}

async function freePort(): Promise<number> {
  const start = ephemeralStart();
  if (start >= 12000) {
    for (let i = 0; i < 64; i++) {
      const p = await tryListen(start - 12000 + Math.floor(Math.random() * 12000));
      if (p) return p;
    }
  }
  const p = await tryListen(0);
  if (!p) throw new Error("no free port");
  return p;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "infliq-sdk-"));
  const bin = join(dir, "infliq");
  execFileSync("go", ["build", "-o", bin, "./backend/cmd/infliq"], { cwd: repo, stdio: "inherit" });
  sink = join(dir, "otp.txt");
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    APP_ENV: "development", LOG_LEVEL: "warn", LISTEN_HOST: "127.0.0.1",
    DEV_DATA_DIR: join(dir, "devstack"), OTP_DEV_SINK_FILE: sink, JWT_EXPIRES_IN: "2",
    DATABASE_URL: "", REDIS_URL: "", S3_BUCKET: "", JWT_SECRET: "",
  };
  // A port can still be taken between the check and the bind: start again
  // on fresh ports when that happens.
  for (let attempt = 0; attempt < 3; attempt++) {
    for (const t of ["AUTH", "USER", "POST", "FEED", "CHAT", "CALL", "REALTIME", "MEDIA"]) {
      env[`${t}_SERVICE_URL`] = `http://127.0.0.1:${await freePort()}`;
    }
    const port = await freePort();
    env.PORT = String(port);
    base = `http://127.0.0.1:${port}`;
    logs = "";
    const p = spawn(bin, ["all"], { env, stdio: ["ignore", "pipe", "pipe"] });
    proc = p;
    p.stdout?.on("data", (b) => (logs += b));
    p.stderr?.on("data", (b) => (logs += b));
    for (let i = 0; i < 1200; i++) {
      try {
        const r = await fetch(`${base}/health`);
        if (r.ok) return;
      } catch {
        // not up yet
      }
      if (p.exitCode !== null) break;
      await sleep(100);
    }
    if (p.exitCode === null || !logs.includes("address already in use")) break;
  }
  throw new Error(`backend did not start:\n${logs}`);
});

after(() => {
  proc?.kill("SIGTERM");
  rmSync(dir, { recursive: true, force: true });
});

async function otpFor(phone: string): Promise<string> {
  for (let i = 0; i < 50; i++) {
    if (existsSync(sink)) {
      const lines = readFileSync(sink, "utf8").trim().split("\n").reverse();
      const hit = lines.find((l) => l.startsWith(phone + " "));
      if (hit) return hit.split(" ")[1];
    }
    await sleep(50);
  }
  throw new Error(`no OTP for ${phone} in the dev sink`);
}

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

async function login(phone: string): Promise<InfliqClient> {
  const client = createInfliqClient({ baseUrl: base, tokens: memoryTokenStore() });
  await client.auth.sendOtp({ phone });
  await client.auth.verifyOtp({ phone, otp: await otpFor("+91" + phone) });
  return client;
}

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
