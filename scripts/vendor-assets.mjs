#!/usr/bin/env node
/**
 * Copies the dashboard's chart library (uPlot, from node_modules) into the worker's static
 * assets, so no copy of it is committed: `npm start`, `npm test` and `npm run deploy` run this
 * first (pre-scripts), and the browser test runs it too. Plain Node, no dependencies, so it
 * works from a fresh `npm ci` before anything else is built. Idempotent.
 */
import { copyFileSync, mkdirSync, readFileSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const target = path.join(root, "worker/public/dashboard/static/vendor");
const uplot = path.dirname(createRequire(import.meta.url).resolve("uplot/package.json"));

const files = [
  [path.join(uplot, "dist/uPlot.iife.min.js"), "uPlot.iife.min.js"],
  [path.join(uplot, "dist/uPlot.min.css"), "uPlot.min.css"],
  [path.join(uplot, "LICENSE"), "uPlot.LICENSE.txt"],
];

mkdirSync(target, { recursive: true });
let copied = 0;
for (const [from, name] of files) {
  const to = path.join(target, name);
  const same = (() => {
    try {
      return statSync(to).size === statSync(from).size && readFileSync(to).equals(readFileSync(from));
    } catch {
      return false;
    }
  })();
  if (same) continue;
  copyFileSync(from, to);
  copied++;
}
if (copied > 0) console.log(`Copied uPlot ${JSON.parse(readFileSync(path.join(uplot, "package.json"), "utf8")).version} into ${path.relative(root, target)}/ (${copied} file${copied === 1 ? "" : "s"}).`);
