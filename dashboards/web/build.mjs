// Bundles the dashboard into ../static (committed, so running ITMS needs no npm step).
//   npm ci && npm run build
// build-info.json records a hash of the sources, so a test notices a bundle that was not rebuilt.
import { build } from "esbuild";
import { createHash } from "node:crypto";
import { copyFileSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";

const out = new URL("../static/", import.meta.url).pathname;
rmSync(out + "assets", { recursive: true, force: true });
mkdirSync(out + "assets", { recursive: true });
await build({
  entryPoints: { app: "src/main.js" },
  bundle: true,
  minify: true,
  format: "iife",
  target: ["chrome100", "firefox100", "safari15"],
  outdir: out + "assets",
  loader: { ".css": "css" },
  legalComments: "external",
  logLevel: "info",
});
copyFileSync("index.html", out + "index.html");

const files = ["build.mjs", "index.html", "package-lock.json",
  ...readdirSync("src").map((f) => `src/${f}`)].sort();
const hash = createHash("sha256");
for (const f of files) hash.update(`${f}\0`).update(readFileSync(f)).update("\0");
writeFileSync(out + "assets/build-info.json",
  JSON.stringify({ sources: files, sources_sha256: hash.digest("hex") }, null, 1) + "\n");
