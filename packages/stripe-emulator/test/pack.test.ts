import { execFile, spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { delimiter, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import { jsonOf } from "./helpers.ts";

// Inside the monorepo every import resolves through the root node_modules, so a missing
// dependency in this package's package.json goes unnoticed there. Only an install of the packed
// tarball into a folder of its own shows what a user of the package gets.

const run = promisify(execFile);
const packageDir = join(dirname(fileURLToPath(import.meta.url)), "..");

/**
 * The children's environment. npm exports its settings to the scripts it runs as npm_* variables
 * (npm_config_local_prefix among them); a child npm would take them over and act on this
 * repository instead of the temp folder, so they are dropped. The node running this test
 * goes first on PATH so the bin's `#!/usr/bin/env node` gets the same Node 22, and the
 * repository's node_modules/.bin folders (tsx among them, put there by npm scripts) leave it.
 */
function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.toLowerCase().startsWith("npm_")) env[k] = v;
  const inherited = (process.env.PATH ?? "").split(delimiter).filter((dir) => !/node_modules[\\/]\.bin/.test(dir));
  env.PATH = [dirname(process.execPath), ...inherited].join(delimiter);
  return env;
}

/** Resolves with the URL the CLI prints once it listens; rejects if it exits or stays silent. */
function listeningUrl(child: ChildProcess, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = "";
    let err = "";
    const timer = setTimeout(() => reject(new Error(`no "listening on" line within ${timeoutMs} ms\nstdout: ${out}\nstderr: ${err}`)), timeoutMs);
    child.stdout?.on("data", (chunk: Buffer) => {
      out += chunk.toString("utf8");
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m?.[1]) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.stderr?.on("data", (chunk: Buffer) => {
      err += chunk.toString("utf8");
    });
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`stripe-emulator exited (code ${code}, signal ${signal}) before listening\nstdout: ${out}\nstderr: ${err}`));
    });
  });
}

function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once("exit", (code) => resolve(code)));
}

let tempRoot: string | undefined;
let emulator: ChildProcess | undefined;

afterEach(async () => {
  // Runs whether the test passed or not: no emulator left listening, no temp folder left behind.
  if (emulator && emulator.exitCode === null && emulator.signalCode === null) {
    emulator.kill("SIGKILL");
    await exited(emulator);
  }
  emulator = undefined;
  if (tempRoot) await rm(tempRoot, { recursive: true, force: true });
  tempRoot = undefined;
});

describe("published package", () => {
  it("runs from its packed tarball installed in an empty folder, on plain node without tsx", { timeout: 120_000 }, async () => {
    tempRoot = await mkdtemp(join(tmpdir(), "stripe-emulator-pack-"));
    const packDir = join(tempRoot, "pack");
    const project = join(tempRoot, "project");
    await mkdir(packDir);
    await mkdir(project);
    const env = childEnv();

    // npm pack runs the package's prepare script, so the tarball carries a fresh dist/.
    const { stdout: packed } = await run("npm", ["pack", "--json", "--pack-destination", packDir], { cwd: packageDir, env });
    const tarballs = (await readdir(packDir)).filter((f) => f.endsWith(".tgz"));
    expect(tarballs).toHaveLength(1);
    const [manifest]: Array<{ files: Array<{ path: string }> }> = JSON.parse(packed.slice(packed.search(/^\[/m)));
    const shipped = (manifest?.files ?? []).map((f) => f.path);
    expect(shipped).toEqual(expect.arrayContaining(["bin/stripe-emulator.js", "dist/cli.js", "dist/index.js", "dist/index.d.ts"]));
    // JavaScript and declarations only: a .ts source in the tarball would need a loader to run.
    expect(shipped.filter((f) => f.endsWith(".ts") && !f.endsWith(".d.ts"))).toEqual([]);

    await writeFile(join(project, "package.json"), JSON.stringify({ name: "emulator-consumer", version: "0.0.0", private: true }));
    await run("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", join(packDir, tarballs[0] ?? "")], { cwd: project, env });
    const installed: { dependencies?: Record<string, string> } = JSON.parse(await readFile(join(project, "node_modules", "@federal-job-advisor", "stripe-emulator", "package.json"), "utf8"));
    expect(Object.keys(installed.dependencies ?? {})).not.toContain("tsx");
    expect(existsSync(join(project, "node_modules", "tsx"))).toBe(false);

    // The exports map serves the built module to an importer on plain node.
    const script = `import { startEmulator } from "@federal-job-advisor/stripe-emulator"; const em = await startEmulator({ port: 0 }); console.log(em.url); await em.stop();`;
    const { stdout: imported } = await run(process.execPath, ["--input-type=module", "-e", script], { cwd: project, env });
    expect(imported.trim()).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);

    emulator = spawn(join(project, "node_modules", ".bin", "stripe-emulator"), ["--port", "0"], { cwd: project, env, stdio: ["ignore", "pipe", "pipe"] });
    const url = await listeningUrl(emulator, 30_000);

    // A bracket-encoded form body goes through qs, and the stored customer comes back on a
    // second request, so this is the stateful emulator answering, not just an open port.
    const auth = { Authorization: "Bearer sk_test_emulator" };
    const created = await fetch(`${url}/v1/customers`, {
      method: "POST",
      headers: { ...auth, "Content-Type": "application/x-www-form-urlencoded" },
      body: "email=packed%40example.com&metadata[user_id]=u_packed",
    });
    expect(created.status).toBe(200);
    const customer: { id: string; object: string; email: string; metadata: Record<string, string> } = await jsonOf(created);
    expect(customer.id).toMatch(/^cus_/);
    expect(customer.metadata).toEqual({ user_id: "u_packed" });

    const fetched = await fetch(`${url}/v1/customers/${customer.id}`, { headers: auth });
    expect(fetched.status).toBe(200);
    const again: { id: string; email: string } = await jsonOf(fetched);
    expect(again).toMatchObject({ id: customer.id, email: "packed@example.com" });

    // SIGTERM is how a process manager stops it; the CLI's handler stops the server and exits 0.
    emulator.kill("SIGTERM");
    expect(await exited(emulator)).toBe(0);
  });
});
