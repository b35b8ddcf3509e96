// Builds the moderation console into the gateway's embed folder
// (backend/gateway/adminui/dist): app.js and app.css, minified, index.html
// naming them with their SRI hashes, and the icon. The output depends only on
// the sources and the locked packages (no timestamps, no absolute paths),
// so scripts/test.sh can rebuild and diff it like the codegen drift check.
import { build } from "esbuild";
import { createHash } from "node:crypto";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = process.argv[2] ?? join(here, "../../backend/gateway/adminui/dist");

const res = await build({
  absWorkingDir: here,
  entryPoints: { app: "src/main.tsx" },
  bundle: true,
  minify: true,
  format: "esm",
  target: ["chrome110", "firefox115", "safari16"],
  platform: "browser",
  jsx: "automatic",
  jsxImportSource: "preact",
  legalComments: "eof",
  charset: "utf8",
  sourcemap: false,
  metafile: false,
  write: false,
  outdir: "out",
  logLevel: "warning",
  define: { "process.env.NODE_ENV": '"production"' },
});

const files = new Map();
for (const f of res.outputFiles) files.set(f.path.slice(f.path.lastIndexOf("/") + 1), f.contents);
if (!files.has("app.js") || !files.has("app.css")) throw new Error(`unexpected outputs: ${[...files.keys()]}`);

const sri = (b) => "sha384-" + createHash("sha384").update(b).digest("base64");
const html = (await readFile(join(here, "src/index.html"), "utf8"))
  .replace("%APP_JS_SRI%", sri(files.get("app.js")))
  .replace("%APP_CSS_SRI%", sri(files.get("app.css")));
files.set("index.html", new TextEncoder().encode(html));
files.set("favicon.svg", await readFile(join(here, "src/favicon.svg")));

await rm(out, { recursive: true, force: true });
await mkdir(out, { recursive: true });
for (const [name, bytes] of [...files].sort()) {
  await writeFile(join(out, name), bytes);
  console.log(`${name.padEnd(10)} ${bytes.length.toString().padStart(7)} bytes`);
}
