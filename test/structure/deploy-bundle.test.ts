/**
 * The deployment check CI runs: `wrangler deploy --dry-run` builds the bundle `npm run deploy`
 * would upload, offline, and the test fails when it no longer fits Workers' free plan.
 *
 * The limit: "Worker size" on https://developers.cloudflare.com/workers/platform/limits/ is
 * 3 MB after compression on the Free plan (10 MB on Paid); Cloudflare measures the gzip of the
 * uploaded modules. Static assets (worker/public) are uploaded apart and do not count, nor do
 * the source map and README wrangler writes beside the bundle.
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { gzipSync } from "node:zlib";
import { afterAll, expect, it } from "vitest";

const ROOT = path.resolve(import.meta.dirname, "../..");
/** Workers' Free plan: 3 MB compressed (3 × 1024 × 1024 bytes, as wrangler counts its KiB). */
const FREE_PLAN_GZIP_LIMIT_BYTES = 3 * 1024 * 1024;

const outdir = mkdtempSync(path.join(tmpdir(), "pia-deploy-"));
afterAll(() => rmSync(outdir, { recursive: true, force: true }));

/** The gzip size of what wrangler would upload: every module in the out dir, not its map or README. */
function uploadGzipBytes(dir: string): { files: string[]; raw: number; gzip: number } {
  const files = readdirSync(dir).filter((f) => !f.endsWith(".map") && f !== "README.md");
  let raw = 0;
  let gzip = 0;
  for (const f of files) {
    const bytes = readFileSync(path.join(dir, f));
    raw += bytes.length;
    gzip += gzipSync(bytes).length;
  }
  return { files, raw, gzip };
}

it("builds the worker with wrangler deploy --dry-run into a bundle that fits the free plan's 3 MB after gzip", { timeout: 180_000 }, async () => {
  await promisify(execFile)(path.join(ROOT, "node_modules", ".bin", "wrangler"), ["deploy", "--dry-run", "--outdir", outdir], {
    cwd: ROOT,
    env: { ...process.env, CI: "true", WRANGLER_SEND_METRICS: "false" },
    maxBuffer: 16 * 1024 * 1024,
  });
  const size = uploadGzipBytes(outdir);
  expect(size.files).toContain("index.js");
  console.log(`worker bundle: ${(size.raw / 1024).toFixed(0)} KiB, ${(size.gzip / 1024).toFixed(0)} KiB gzip (free plan limit ${FREE_PLAN_GZIP_LIMIT_BYTES / 1024} KiB)`);
  expect(size.gzip).toBeLessThanOrEqual(FREE_PLAN_GZIP_LIMIT_BYTES);
});

it("counts a bundle over the limit as over it", () => {
  // Random bytes do not compress: 3 MB of them plus one byte cannot fit.
  const dir = mkdtempSync(path.join(tmpdir(), "pia-deploy-big-"));
  try {
    const big = randomBytes(FREE_PLAN_GZIP_LIMIT_BYTES + 1);
    writeFileSync(path.join(dir, "index.js"), big);
    writeFileSync(path.join(dir, "index.js.map"), big);
    const size = uploadGzipBytes(dir);
    expect(size.files).toEqual(["index.js"]);
    expect(size.gzip).toBeGreaterThan(FREE_PLAN_GZIP_LIMIT_BYTES);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
