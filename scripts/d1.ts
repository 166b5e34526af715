/**
 * Runs SQL against the worker's D1 through wrangler, locally (the same .wrangler/state that
 * `wrangler dev` uses) or remotely, so the CLIs work before any API key exists.
 */
import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);
export const ROOT = path.resolve(import.meta.dirname, "..");
const WRANGLER = path.join(ROOT, "node_modules", ".bin", "wrangler");

export type Target = "local" | "remote";

export async function d1<T = Record<string, unknown>>(target: Target, sql: string): Promise<T[]> {
  const { stdout } = await run(WRANGLER, ["d1", "execute", "DB", `--${target}`, "--json", "--command", sql], {
    cwd: ROOT,
    maxBuffer: 64 * 1024 * 1024,
    env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
  }).catch((e: { stderr?: string; stdout?: string; message: string }) => {
    throw new Error(`wrangler d1 execute failed: ${e.stderr || e.stdout || e.message}`);
  });
  const parsed = JSON.parse(stdout) as { results: T[] }[];
  return parsed.flatMap((p) => p.results ?? []);
}

export async function migrate(target: Target): Promise<void> {
  await run(WRANGLER, ["d1", "migrations", "apply", "DB", `--${target}`], { cwd: ROOT, env: { ...process.env, CI: "true", WRANGLER_SEND_METRICS: "false" } });
}

/** SQL string literal: the only escaping SQLite needs is doubling single quotes. */
export function lit(value: string | number | null): string {
  if (value === null) return "NULL";
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw new Error("not a finite number");
    return String(Math.trunc(value));
  }
  return `'${value.replaceAll("'", "''")}'`;
}
