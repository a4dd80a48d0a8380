// Bundles the dashboard into ../static (committed, so running ITMS needs no npm step).
//   npm ci && npm run build
import { build } from "esbuild";
import { copyFileSync, mkdirSync, rmSync } from "node:fs";

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
