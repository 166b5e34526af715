/**
 * npm start: everything a newcomer needs to run the worker locally, in one command.
 * 1. .dev.vars from .dev.vars.example when missing;
 * 2. local D1 migrations;
 * 3. a local admin key when none exists (kept in .wrangler/local-admin-key, gitignored);
 * 4. wrangler dev with scheduled-event testing on.
 */
import { spawn } from "node:child_process";
import { copyFile, readFile, access } from "node:fs/promises";
import path from "node:path";
import { createKey, LOCAL_ADMIN_KEY_FILE } from "./apikey";
import { d1, migrate, ROOT } from "./d1";

const PORT = Number(process.env.PORT ?? 8787);
const exists = (p: string) => access(p).then(() => true, () => false);

async function main() {
  const devVars = path.join(ROOT, ".dev.vars");
  if (!(await exists(devVars))) {
    await copyFile(path.join(ROOT, ".dev.vars.example"), devVars);
    console.log("Wrote .dev.vars from .dev.vars.example.");
  }
  console.log("Applying local D1 migrations...");
  await migrate("local");

  const [active] = await d1<{ n: number }>("local", "SELECT count(*) AS n FROM api_keys WHERE role = 'admin' AND revoked_at IS NULL");
  let adminKey = (await exists(LOCAL_ADMIN_KEY_FILE)) ? (await readFile(LOCAL_ADMIN_KEY_FILE, "utf8")).trim() : "";
  if (!active?.n || !adminKey) {
    adminKey = (await createKey("local", { role: "admin", name: "local-admin" })).key;
    const { writeFile, mkdir } = await import("node:fs/promises");
    await mkdir(path.dirname(LOCAL_ADMIN_KEY_FILE), { recursive: true });
    await writeFile(LOCAL_ADMIN_KEY_FILE, adminKey + "\n", { mode: 0o600 });
  }

  const wrangler = spawn(path.join(ROOT, "node_modules", ".bin", "wrangler"), ["dev", "--port", String(PORT), "--ip", "127.0.0.1", "--test-scheduled"], {
    cwd: ROOT,
    stdio: ["inherit", "pipe", "inherit"],
    env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
  });
  let announced = false;
  wrangler.stdout.on("data", (chunk: Buffer) => {
    process.stdout.write(chunk);
    if (!announced && /Ready on/i.test(chunk.toString())) {
      announced = true;
      const url = `http://127.0.0.1:${PORT}`;
      console.log(`\n  Billing worker:  ${url}\n  Health:          ${url}/health\n  OpenAPI:         ${url}/openapi.json\n  Admin API key:   ${adminKey}\n  Try:             curl -H "Authorization: Bearer ${adminKey}" ${url}/v1/keys\n`);
    }
  });
  const stop = () => wrangler.kill("SIGINT");
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  wrangler.on("exit", (code) => process.exit(code ?? 0));
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
