// Starts the live backend for the SDK's integration tests: builds and runs
// `infliq all` with embedded defaults on free loopback ports. OTP codes come
// from the dev-only sink file, which only development builds write.
import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, mkdirSync, readFileSync, existsSync, rmSync, statSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { createInfliqClient, memoryTokenStore, type InfliqClient, type InfliqClientOptions } from "../src/index.js";

export interface Backend {
  base: string;
  otpFor(phone: string): Promise<string>;
  /** A client logged in by OTP as a fresh user (phone: 10 digits). */
  login(phone: string, opts?: Partial<InfliqClientOptions>): Promise<InfliqClient>;
  stop(): void;
}

export const repo = resolve(process.cwd(), "../..");

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

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// withLock serialises test files that build the shared binary at once
// (mkdir is atomic; a lock older than ten minutes is stale).
async function withLock(dir: string, fn: () => void): Promise<void> {
  mkdirSync(dirname(dir), { recursive: true });
  for (;;) {
    try {
      mkdirSync(dir);
      break;
    } catch {
      try {
        if (Date.now() - statSync(dir).mtimeMs > 600_000) rmSync(dir, { recursive: true, force: true });
      } catch {
        // released meanwhile
      }
      await sleep(200);
    }
  }
  try {
    fn();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function startBackend(extraEnv: Record<string, string> = {}): Promise<Backend> {
  const dir = mkdtempSync(join(tmpdir(), "infliq-sdk-"));
  // One binary per checkout, shared by the test files: go build leaves an
  // up-to-date binary alone, so only the first file pays for the link.
  const bin = join(repo, "clients/ts/node_modules/.cache/infliq-sdk-test/infliq");
  await withLock(bin + ".lock", () => execFileSync("go", ["build", "-o", bin, "./backend/cmd/infliq"], { cwd: repo, stdio: "inherit" }));
  const sink = join(dir, "otp.txt");
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    APP_ENV: "development", LOG_LEVEL: "warn", LISTEN_HOST: "127.0.0.1",
    DEV_DATA_DIR: join(dir, "devstack"), OTP_DEV_SINK_FILE: sink, JWT_EXPIRES_IN: "2",
    DATABASE_URL: "", REDIS_URL: "", S3_BUCKET: "", JWT_SECRET: "",
    ...extraEnv,
  };
  let proc: ChildProcess | undefined;
  let base = "";
  let logs = "";
  const stop = () => {
    proc?.kill("SIGTERM");
    rmSync(dir, { recursive: true, force: true });
  };
  const otpFor = async (phone: string): Promise<string> => {
    for (let i = 0; i < 50; i++) {
      if (existsSync(sink)) {
        const lines = readFileSync(sink, "utf8").trim().split("\n").reverse();
        const hit = lines.find((l) => l.startsWith(phone + " "));
        if (hit) return hit.split(" ")[1];
      }
      await sleep(50);
    }
    throw new Error(`no OTP for ${phone} in the dev sink`);
  };
  const login = async (phone: string, opts: Partial<InfliqClientOptions> = {}) => {
    const client = createInfliqClient({ baseUrl: base, tokens: memoryTokenStore(), ...opts });
    await client.auth.sendOtp({ phone });
    await client.auth.verifyOtp({ phone, otp: await otpFor("+91" + phone) });
    return client;
  };
  // A port can still be taken between the check and the bind: start again
  // on fresh ports when that happens.
  for (let attempt = 0; attempt < 3; attempt++) {
    for (const t of ["AUTH", "USER", "POST", "FEED", "CHAT", "CALL", "REALTIME", "MEDIA", "NOTIFY"]) {
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
        if (r.ok) return { base, otpFor, login, stop };
      } catch {
        // not up yet
      }
      if (p.exitCode !== null) break;
      await sleep(100);
    }
    if (p.exitCode === null || !logs.includes("address already in use")) break;
  }
  stop();
  throw new Error(`backend did not start:\n${logs}`);
}
