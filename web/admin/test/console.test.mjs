// The moderation console in a real browser (Debian's chromium driven by
// playwright-core; no browser download) against the built `infliq all`.
// One stack, one browser launch for the whole file.
//
// Scenario: a user reports a post through the legacy REST route; a
// moderator (made with `infliq admin grant`) signs in on /admin, sees the
// report in the queue with its age, opens it, removes the post and suspends
// its author for a day, confirming each. Then over HTTP: the post is gone
// from the feed, the author's token is refused, the author's login is
// refused with the suspension message; the log shows both actions and the
// overview's charts render. A user without a role gets the refusal page.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { deflateSync } from "node:zlib";
import { chromium } from "playwright-core";
import { api, startStack } from "./stack.mjs";

const chromiumPath = process.env.CHROMIUM_PATH || "/usr/bin/chromium";

let stack;
let browser;
let shots;

before(async () => {
  shots = process.env.ADMIN_E2E_ARTIFACTS || (await mkdtemp(join(tmpdir(), "infliq-admin-screens-")));
  console.log(`# screenshots: ${shots}`);
  stack = await startStack();
  console.log(`# infliq built in ${stack.buildMs} ms; gateway ${stack.base}`);
  browser = await chromium.launch({ executablePath: chromiumPath, args: ["--no-sandbox", "--disable-dev-shm-usage"] });
});

after(async () => {
  await browser?.close();
  await stack?.stop();
});

// National numbers; the server stores them as +91… (the default country).
const phones = { author: "9000000001", reporter: "9000000002", moderator: "9000000003", user: "9000000004" };
const e164 = (p) => "+91" + p;

async function waitFor(what, fn, ms = 15_000) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    last = await fn();
    if (last.ok) return last;
    if (Date.now() > deadline) assert.fail(`${what}: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 150));
  }
}

async function restLogin(phone) {
  const [s1, b1] = await api(stack.base, "POST", "/api/auth/send-otp", "", { phone });
  assert.equal(s1, 200, JSON.stringify(b1));
  const code = await stack.lastCode(e164(phone));
  assert.ok(code, "no OTP in the dev sink");
  const [s2, b2] = await api(stack.base, "POST", "/api/auth/verify-otp", "", { phone, otp: code, name: `user ${phone.slice(-1)}` });
  assert.equal(s2, 200, JSON.stringify(b2));
  const user = b2.user ?? {};
  return { token: b2.token, id: user._id ?? user.id };
}

/** Opens /admin in a fresh context and signs in through the page. */
async function consoleLogin(phone, onPage = () => {}) {
  const ctx = await browser.newContext({ viewport: { width: 1360, height: 900 } });
  const page = await ctx.newPage();
  onPage(page);
  const problems = [];
  page.on("console", (m) => {
    if (m.type() === "error" && !/status of (401|403|404)/.test(m.text())) problems.push(m.text());
  });
  page.on("pageerror", (e) => problems.push(String(e)));
  const res = await page.goto(stack.base + "/admin");
  assert.equal(res.status(), 200);
  await page.fill("input[name=phone]", phone);
  const before = await stack.lastCode(e164(phone));
  await page.click("button:has-text('Send code')");
  await page.waitForSelector("input[name=otp]");
  const { code } = await waitFor("OTP for the console login", async () => {
    const code = await stack.lastCode(e164(phone));
    return { ok: !!code && code !== before, code };
  });
  await page.fill("input[name=otp]", code);
  await page.click("button:has-text('Sign in')");
  return { ctx, page, res, problems };
}

// A 48×32 opaque PNG, made here (no fixture file).
function png(w = 48, h = 32) {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (b) => {
    let c = 0xffffffff;
    for (const x of b) c = crcTable[(c ^ x) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type), data]);
    const c = Buffer.alloc(4);
    c.writeUInt32BE(crc(td));
    return Buffer.concat([len, td, c]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  const raw = Buffer.alloc((w * 3 + 1) * h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) raw.set([200, 60 + x * 3, 90 + y * 4], y * (w * 3 + 1) + 1 + x * 3);
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk("IHDR", ihdr), chunk("IDAT", deflateSync(raw)), chunk("IEND", Buffer.alloc(0))]);
}

async function upload(token) {
  const form = new FormData();
  form.append("file", new Blob([png()], { type: "image/png" }), "post.png");
  form.append("folder", "posts");
  const r = await fetch(stack.base + "/api/media/upload", { method: "POST", headers: { authorization: `Bearer ${token}` }, body: form });
  const body = await r.json();
  assert.equal(r.status, 200, JSON.stringify(body));
  return body.url;
}

const feedIds = async (token) => {
  const [s, b] = await api(stack.base, "GET", "/api/posts/feed?page=1&limit=50", token);
  assert.equal(s, 200, JSON.stringify(b));
  return b.posts.map((p) => p._id ?? p.id);
};

// On failure, the stack's last log lines go to the test output.
const withLog = (fn) => async (t) => {
  try {
    await fn(t);
  } catch (e) {
    const log = stack.log();
    const crash = log.search(/^(panic: |fatal error: )/m);
    console.log(`# infliq log:\n${crash >= 0 ? log.slice(crash, crash + 6000) : log.slice(-6000)}`);
    throw e;
  }
};

test("moderator removes a reported post and suspends its author from /admin", withLog(async () => {
  const author = await restLogin(phones.author);
  const reporter = await restLogin(phones.reporter);
  const mod = await restLogin(phones.moderator);

  const mediaUrl = await upload(author.token);
  const [ps, pb] = await api(stack.base, "POST", "/api/posts", author.token, { content: "buy followers cheap, visit my page", mediaUrl });
  assert.equal(ps, 200, JSON.stringify(pb));
  const postId = pb.post?._id ?? pb._id;
  assert.match(postId, /^[0-9a-f]{24}$/);
  assert.ok((await feedIds(reporter.token)).includes(postId), "the post is in the feed before moderation");
  const [rs, rb] = await api(stack.base, "POST", `/api/posts/${postId}/report`, reporter.token, { reason: "spam", details: "Reported from feed" });
  assert.equal(rs, 200, JSON.stringify(rb));

  const { stdout } = await stack.cli("admin", "grant", e164(phones.moderator), "moderator");
  console.log(`# ${stdout.trim()}`);

  const { ctx, page, res, problems } = await consoleLogin(phones.moderator);

  // The page's own headers: strict CSP, no framing.
  const csp = res.headers()["content-security-policy"] ?? "";
  for (const d of ["default-src 'self'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "object-src 'none'", "base-uri 'none'"]) {
    assert.ok(csp.includes(d), `CSP lacks ${d}: ${csp}`);
  }
  assert.ok(!csp.includes("unsafe-"), `CSP allows unsafe sources: ${csp}`);
  assert.equal(res.headers()["x-frame-options"], "DENY");

  // The queue, with the report and its age.
  const row = page.locator(`[data-testid=queue-row][data-target-id="${postId}"]`);
  await row.waitFor();
  const ageText = (await row.locator("[data-testid=age]").textContent())?.trim() ?? "";
  assert.match(ageText, /^(under a minute|\d+m)due in (2[34]h|1d 0h)/, `age cell: ${ageText}`);
  assert.match((await page.locator("[data-testid=oldest-age]").textContent()) ?? "", /oldest open report/);
  await page.screenshot({ path: join(shots, "queue.png"), fullPage: true });
  // Filters: by kind, by age.
  await page.selectOption("select[name=kind]", { label: "user" });
  await page.locator(".empty").waitFor();
  assert.equal(await row.count(), 0, "a post is not among user reports");
  await page.selectOption("select[name=kind]", { label: "post" });
  await row.waitFor();
  await page.selectOption("select[name=age]", { label: "older than 24 hours" });
  await page.locator(".empty").waitFor();
  await page.selectOption("select[name=age]", { label: "any age" });
  await row.waitFor();

  // The report: preview, remove, suspend, each through the confirmation.
  await row.locator("td.snippet a").click();
  await page.locator("[data-testid=report-detail]").waitFor();
  assert.match((await page.locator("[data-testid=preview]").textContent()) ?? "", /buy followers cheap/);
  // The image comes through the media proxy (its redirect target is in the CSP).
  const img = page.locator("[data-testid=preview] img");
  assert.match((await img.getAttribute("src")) ?? "", /\/api\/media\/proxy\//);
  await page.waitForFunction(() => {
    const i = document.querySelector("[data-testid=preview] img");
    return i instanceof HTMLImageElement && i.complete && i.naturalWidth === 48;
  });

  assert.equal(await page.locator("button[data-action=ban]").count(), 0, "banning is for admins only");
  await page.click("button[data-action=remove]");
  const dialog = page.locator("dialog.confirm[open]");
  await dialog.waitFor();
  assert.equal(await page.locator("[data-testid=removed]").count(), 0, "nothing happens before confirming");
  await dialog.locator("textarea[name=reason]").fill("spam post");
  await dialog.locator("[data-testid=confirm]").click();
  await dialog.waitFor({ state: "detached" });
  await page.locator("[data-testid=removed]").waitFor();

  // Cancel acts on nothing.
  await page.click("button[data-action=suspend]");
  await dialog.waitFor();
  await dialog.locator("button:has-text('Cancel')").click();
  await dialog.waitFor({ state: "detached" });
  assert.equal(await page.locator("button[data-action=unsuspend]").count(), 0, "cancel suspended nobody");
  {
    const [s] = await api(stack.base, "GET", "/api/posts/feed?page=1&limit=1", author.token);
    assert.equal(s, 200, "the author's token still works after a cancelled suspension");
  }

  await page.selectOption("select[name=duration]", "86400");
  await page.click("button[data-action=suspend]");
  await dialog.waitFor();
  assert.match((await dialog.locator("h2").textContent()) ?? "", /for 1 day/);
  await dialog.locator("textarea[name=reason]").fill("spam account");
  await dialog.locator("[data-testid=confirm]").click();
  await dialog.waitFor({ state: "detached" });
  await page.locator("button[data-action=unsuspend]").waitFor();
  await page.screenshot({ path: join(shots, "report.png"), fullPage: true });

  // Over HTTP: gone from the feed, the author's token refused, login refused.
  await waitFor("post gone from the feed", async () => ({ ok: !(await feedIds(reporter.token)).includes(postId) }));
  await waitFor("author's token refused", async () => {
    const [s] = await api(stack.base, "GET", "/api/posts/feed?page=1&limit=1", author.token);
    return { ok: s === 401, status: s };
  });
  {
    const [s1, b1] = await api(stack.base, "POST", "/api/auth/send-otp", "", { phone: phones.author });
    let refused = s1 >= 400 ? [s1, b1] : undefined;
    if (!refused) {
      const code = await stack.lastCode(e164(phones.author));
      const [s2, b2] = await api(stack.base, "POST", "/api/auth/verify-otp", "", { phone: phones.author, otp: code });
      refused = [s2, b2];
    }
    assert.ok(refused[0] >= 400 && refused[0] < 500, `author login: ${JSON.stringify(refused)}`);
    assert.match(refused[1].error ?? "", /suspend/i, `author login message: ${JSON.stringify(refused[1])}`);
  }

  // A reload signs out: the token lives in memory only.
  await page.reload();
  await page.locator("input[name=phone]").waitFor();
  await ctx.close();

  // The moderation log shows both actions.
  const again = await consoleLogin(phones.moderator);
  const p2 = again.page;
  await p2.locator("[data-testid=who]").waitFor();
  await p2.click("nav.side a[href='#/log']");
  await p2.locator("[data-testid=log-row][data-action=REMOVE_CONTENT]").first().waitFor();
  await p2.locator("[data-testid=log-row][data-action=SUSPEND_USER]").first().waitFor();
  await p2.screenshot({ path: join(shots, "log.png"), fullPage: true });

  // A moderator sees the staff but cannot grant roles.
  await p2.click("nav.side a[href='#/staff']");
  await p2.locator("table.grid").first().waitFor();
  assert.equal(await p2.locator("input[name=userId]").count(), 0, "no grant form for a moderator");

  // The overview's charts render (uPlot draws on canvas).
  await p2.click("nav.side a[href='#/overview']");
  await p2.locator("[data-testid=chart] canvas").first().waitFor();
  const charts = await p2.locator("[data-testid=chart]").count();
  assert.ok(charts >= 7, `charts: ${charts}`);
  const painted = await p2.evaluate(() =>
    [...document.querySelectorAll("[data-testid=chart] canvas")].map((c) => {
      const cv = /** @type {HTMLCanvasElement} */ (c);
      const px = cv.getContext("2d").getImageData(0, 0, cv.width, cv.height).data;
      let n = 0;
      for (let i = 3; i < px.length; i += 4) if (px[i] !== 0) n++;
      return { w: cv.width, h: cv.height, n };
    }),
  );
  assert.ok(painted.every((c) => c.w > 100 && c.h > 100 && c.n > 0), `canvases: ${JSON.stringify(painted)}`);
  await p2.screenshot({ path: join(shots, "overview.png"), fullPage: true });

  // The token stays in memory: no web storage, no cookie, no IndexedDB.
  const storage = await p2.evaluate(async () => ({
    local: localStorage.length,
    session: sessionStorage.length,
    cookie: document.cookie,
    idb: (await indexedDB.databases()).length,
  }));
  assert.deepEqual(storage, { local: 0, session: 0, cookie: "", idb: 0 });
  assert.deepEqual(await again.ctx.cookies(), []);
  assert.deepEqual([...problems, ...again.problems], [], "console errors (CSP violations included)");
  await again.ctx.close();
}));

test("a signed-in user without a role gets the refusal page and no data", withLog(async () => {
  await restLogin(phones.user);
  const adminCalls = [];
  const { ctx, page } = await consoleLogin(phones.user, (p) =>
    p.on("response", (r) => {
      if (r.url().includes("/infliq.admin.v1.AdminService/")) adminCalls.push(r.status());
    }));
  await page.locator("[data-testid=refusal]").waitFor();
  assert.match((await page.locator("[data-testid=refusal]").textContent()) ?? "", /not a moderator/);
  assert.equal(await page.locator("[data-testid=queue], nav.side").count(), 0, "no console for a non-admin");
  const pageCalls = [...adminCalls];
  assert.ok(pageCalls.length > 0 && pageCalls.every((s) => s === 403), `the page's admin calls: ${pageCalls}`);
  // Even a hand-made call gets nothing.
  const status = await page.evaluate(async () => (await fetch("/infliq.admin.v1.AdminService/ListReportQueue", {
    method: "POST", headers: { "content-type": "application/json" }, body: "{}" })).status);
  assert.equal(status, 401, "no token, no data");
  await page.screenshot({ path: join(shots, "refusal.png"), fullPage: true });
  await ctx.close();
}));
