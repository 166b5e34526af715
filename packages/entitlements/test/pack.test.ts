import { execFile } from "node:child_process";
import { cp, mkdir, mkdtemp, readdir, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { delimiter, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterEach, describe, expect, it } from "vitest";

// In the monorepo the package resolves through the workspace link; only its packed tarball in a
// folder of its own shows what `npm install @federal-job-advisor/entitlements` gives a user.
// It is packed from a copy of the sources without dist/, as a fresh clone has them: the
// package's own scripts must build dist/ (the prepare script, which npm also runs on install).

const run = promisify(execFile);
const packageDir = join(dirname(fileURLToPath(import.meta.url)), "..");
const repoRoot = join(packageDir, "../..");

/** npm's npm_* variables would point a child npm at this repository; the same Node goes first on PATH. */
function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.toLowerCase().startsWith("npm_")) env[k] = v;
  env.PATH = [dirname(process.execPath), process.env.PATH ?? ""].join(delimiter);
  return env;
}

let tempRoot: string | undefined;
afterEach(async () => {
  if (tempRoot) await rm(tempRoot, { recursive: true, force: true });
  tempRoot = undefined;
});

describe("published package", () => {
  it("imports from its packed tarball in an empty folder, every entry point with its types", { timeout: 120_000 }, async () => {
    tempRoot = await mkdtemp(join(tmpdir(), "entitlements-pack-"));
    const packDir = join(tempRoot, "pack");
    const project = join(tempRoot, "project");
    await mkdir(packDir);
    await mkdir(project);
    const env = childEnv();
    // The package as a fresh clone has it: sources and configs, no dist/. The repository's
    // node_modules (TypeScript, jose's types) and base tsconfig sit where the workspace has them.
    const source = join(tempRoot, "repo/packages/entitlements");
    await cp(packageDir, source, { recursive: true, filter: (from) => !/[\\/](dist|node_modules)$/.test(from) });
    await cp(join(repoRoot, "tsconfig.base.json"), join(tempRoot, "repo/tsconfig.base.json"));
    await symlink(join(repoRoot, "node_modules"), join(tempRoot, "repo/node_modules"), "dir");
    env.PATH = [join(repoRoot, "node_modules/.bin"), env.PATH ?? ""].join(delimiter);
    await run("npm", ["pack", "--pack-destination", packDir], { cwd: source, env });
    const [tarball] = (await readdir(packDir)).filter((f) => f.endsWith(".tgz"));
    expect(tarball).toBeDefined();
    await writeFile(join(project, "package.json"), JSON.stringify({ name: "consumer", private: true, type: "module" }));
    await run("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", join(packDir, tarball!)], { cwd: project, env });
    const script = `
      const root = await import("@federal-job-advisor/entitlements");
      const hono = await import("@federal-job-advisor/entitlements/hono");
      const node = await import("@federal-job-advisor/entitlements/node");
      const webhooks = await import("@federal-job-advisor/entitlements/webhooks");
      const fs = await import("node:fs");
      const dir = "node_modules/@federal-job-advisor/entitlements/dist";
      console.log(JSON.stringify({ root: Object.keys(root).sort(), hono: Object.keys(hono).length, node: Object.keys(node).length, webhooks: Object.keys(webhooks).sort(), types: fs.existsSync(dir + "/index.d.ts") }));`;
    const { stdout } = await run(process.execPath, ["--input-type=module", "-e", script], { cwd: project, env });
    const seen = JSON.parse(stdout) as { root: string[]; hono: number; node: number; webhooks: string[]; types: boolean };
    expect(seen.root).toEqual(expect.arrayContaining(["createEntitlements", "verifyToken", "can", "limit", "createRemoteKeySet"]));
    expect(seen.hono).toBeGreaterThan(0);
    expect(seen.node).toBeGreaterThan(0);
    expect(seen.webhooks).toEqual(expect.arrayContaining(["verifyWebhook", "applyWebhook", "WebhookMalformed", "WebhookSignatureInvalid", "WebhookTimestampInvalid"]));
    expect(seen.root).not.toContain("verifyWebhook");
    expect(seen.types).toBe(true);
  });
});
