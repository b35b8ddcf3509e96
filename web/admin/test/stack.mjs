// The stack the browser tests run against: the built `infliq` binary
// (`infliq all`) on free loopback ports, a fresh PostgreSQL database created
// for the run (dropped at the end), the in-process Redis and S3 of the dev
// stack, and OTP codes read from the dev sink file.
import { execFile, spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { randomBytes } from "node:crypto";

const run = promisify(execFile);
export const root = resolve(import.meta.dirname, "../../..");

// Every tier `infliq all` may start; each gets its own free port so the
// run never collides with anything else on the machine.
const tiers = ["auth", "user", "post", "feed", "chat", "call", "media", "realtime", "admin", "notify"];

function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.unref();
    s.on("error", rej);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

const adminDSN = process.env.PG_TEST_DSN || "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable";

function withDatabase(dsn, db) {
  const u = new URL(dsn);
  u.pathname = "/" + db;
  return u.toString();
}

async function psql(sql) {
  await run("psql", [adminDSN, "-v", "ON_ERROR_STOP=1", "-qAt", "-c", sql]);
}

export async function startStack() {
  const dir = await mkdtemp(join(tmpdir(), "infliq-admin-e2e-"));
  const bin = join(dir, "infliq");
  const t0 = Date.now();
  await run("go", ["build", "-o", bin, "./backend/cmd/infliq"], {
    cwd: root,
    env: { ...process.env, GOFLAGS: process.env.GOFLAGS || "-buildvcs=false" },
    maxBuffer: 16 << 20,
  });
  const buildMs = Date.now() - t0;
  const dbName = "infliq_admin_e2e_" + randomBytes(4).toString("hex");
  await psql(`CREATE DATABASE ${dbName}`);
  const databaseURL = withDatabase(adminDSN, dbName);
  const sink = join(dir, "otp-sink");
  const env = {
    PATH: process.env.PATH,
    HOME: process.env.HOME ?? dir,
    DATABASE_URL: databaseURL,
    OTP_DEV_SINK_FILE: sink,
    DEV_DATA_DIR: join(dir, "devstack"),
    LISTEN_HOST: "127.0.0.1",
    METRICS_ADDR: "off",
    LOG_LEVEL: "warn",
    RATE_LIMIT_MAX: "100000",
  };
  await run(bin, ["migrate", "up"], { env, cwd: dir });
  // A port found free can be taken, before the binary listens on it, by an
  // outgoing connection's ephemeral port (the binary's own, to Redis or
  // PostgreSQL, among others): then the binary exits with "address already
  // in use" and the stack is started again on other ports.
  let proc, exited, base, log;
  for (let attempt = 1; ; attempt++) {
    try {
      ({ proc, exited, base, log } = await launch(bin, env, dir));
      break;
    } catch (e) {
      if (attempt === 3 || !/address already in use/.test(e.message)) throw e;
    }
  }

  return {
    base,
    dir,
    buildMs,
    log: () => log.text,
    /** Runs the binary's CLI against the run's database (e.g. admin grant). */
    cli: (...args) => run(bin, args, { env, cwd: dir }),
    /** The last code the dev sender wrote for phone (E.164). */
    async lastCode(phone) {
      const text = await readFile(sink, "utf8").catch(() => "");
      let code;
      for (const line of text.split("\n")) {
        const [p, c] = line.split(" ");
        if (p === phone) code = c;
      }
      return code;
    },
    async stop() {
      proc.kill("SIGTERM");
      const killer = setTimeout(() => proc.kill("SIGKILL"), 30_000);
      await exited;
      clearTimeout(killer);
      await psql(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`).catch((e) => console.error("drop database:", e.message));
      await rm(bin, { force: true });
      await rm(join(dir, "devstack"), { recursive: true, force: true });
    },
  };
}

// launch starts `infliq all` on fresh free ports and waits for the gateway's
// health; it throws with the log if the binary exits first.
async function launch(bin, env, dir) {
  const gatewayPort = await freePort();
  env.PORT = String(gatewayPort);
  for (const t of tiers) env[`${t.toUpperCase()}_SERVICE_URL`] = `http://127.0.0.1:${await freePort()}`;
  const proc = spawn(bin, ["all"], { env, cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
  const log = { text: "" };
  const keep = (b) => {
    log.text += b.toString();
    if (log.text.length > 200_000) log.text = log.text.slice(-100_000);
  };
  proc.stdout.on("data", keep);
  proc.stderr.on("data", keep);
  const exited = new Promise((res) => proc.on("exit", (code, sig) => res({ code, sig })));

  const base = `http://127.0.0.1:${gatewayPort}`;
  const deadline = Date.now() + 90_000;
  for (;;) {
    const r = await fetch(base + "/health").catch(() => undefined);
    if (r?.status === 200) break;
    const done = await Promise.race([exited, new Promise((res) => setTimeout(() => res(undefined), 200))]);
    if (done) throw new Error(`infliq all exited (${JSON.stringify(done)}):\n${log.text}`);
    if (Date.now() > deadline) {
      proc.kill("SIGKILL");
      throw new Error(`gateway never healthy:\n${log.text}`);
    }
  }
  return { proc, exited, base, log };
}

/** JSON over HTTP against the gateway: returns [status, body]. */
export async function api(base, method, path, token, body) {
  const headers = { accept: "application/json" };
  if (body !== undefined) headers["content-type"] = "application/json";
  if (token) headers.authorization = `Bearer ${token}`;
  const r = await fetch(base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return [r.status, json];
}
