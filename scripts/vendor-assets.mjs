#!/usr/bin/env node
/**
 * Copies the dashboard's chart library (uPlot) and the API reference's renderer (Scalar's
 * standalone bundle, for /docs) from node_modules into the worker's static assets, so no copy
 * of either is committed: `npm start`, `npm test` and `npm run deploy` run this
 * first (pre-scripts), and the browser test runs it too. Plain Node, no dependencies, so it
 * works from a fresh `npm ci` before anything else is built. Idempotent.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
/** A package's folder, found as Node finds it (Scalar's `exports` hide its package.json from require.resolve). */
const packageDir = (name) => {
  const found = createRequire(import.meta.url)
    .resolve.paths(name)
    ?.map((dir) => path.join(dir, name))
    .find((dir) => existsSync(path.join(dir, "package.json")));
  if (!found) throw new Error(`${name} is not installed: run npm install`);
  return found;
};
const uplot = packageDir("uplot");
const scalar = packageDir("@scalar/api-reference");
const dashboard = path.join(root, "worker/public/dashboard/static/vendor");
const docs = path.join(root, "worker/public/docs/static/vendor");

const files = [
  [path.join(uplot, "dist/uPlot.iife.min.js"), dashboard, "uPlot.iife.min.js"],
  [path.join(uplot, "dist/uPlot.min.css"), dashboard, "uPlot.min.css"],
  [path.join(uplot, "LICENSE"), dashboard, "uPlot.LICENSE.txt"],
  // One file, no chunks to load: the browser bundle that defines `Scalar.createApiReference`.
  [path.join(scalar, "dist/browser/standalone.js"), docs, "scalar.standalone.js"],
];

let copied = 0;
for (const [from, target, name] of files) {
  mkdirSync(target, { recursive: true });
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
const version = (dir) => JSON.parse(readFileSync(path.join(dir, "package.json"), "utf8")).version;
if (copied > 0) console.log(`Copied uPlot ${version(uplot)} and Scalar ${version(scalar)} into the worker's static assets (${copied} file${copied === 1 ? "" : "s"}).`);
