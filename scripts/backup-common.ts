/**
 * What scripts/backup.ts and scripts/restore.ts share: running wrangler's D1 commands (local or
 * remote, with an optional --config so a test can point them at a database of its own) and
 * recording a backup or restore in the `backups` table the compliance report reads.
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { readFile, stat } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { backupRecordSql, type BackupRecord } from "../worker/src/compliance/backups.ts";

const run = promisify(execFile);
export const ROOT = path.resolve(import.meta.dirname, "..");
const WRANGLER = path.join(ROOT, "node_modules", ".bin", "wrangler");

export type Target = "local" | "remote";

export interface D1Options {
  target: Target;
  /** A wrangler config other than the repository's (its local D1 is .wrangler/state beside it). */
  config?: string | undefined;
}

/** Runs `wrangler d1 <args> DB --local|--remote [--config]`; wrangler's own message on failure. */
export async function wrangler(args: string[], o: D1Options): Promise<string> {
  const [command, ...rest] = args;
  const full = ["d1", command!, "DB", `--${o.target}`, ...(o.config ? ["--config", path.resolve(o.config)] : []), ...rest];
  const { stdout } = await run(WRANGLER, full, { cwd: ROOT, maxBuffer: 256 * 1024 * 1024, env: { ...process.env, CI: "true", WRANGLER_SEND_METRICS: "false" } }).catch(
    (e: { stderr?: string; stdout?: string; message: string }) => {
      throw new Error(`wrangler ${full.join(" ")} failed:\n${e.stderr || e.stdout || e.message}`);
    },
  );
  return stdout;
}

export async function query<T>(sql: string, o: D1Options): Promise<T[]> {
  const out = await wrangler(["execute", "--json", "--command", sql], o);
  return (JSON.parse(out) as { results?: T[] }[]).flatMap((r) => r.results ?? []);
}

export async function fileFacts(file: string): Promise<{ bytes: number; sha256: string }> {
  const [data, info] = await Promise.all([readFile(file), stat(file)]);
  return { bytes: info.size, sha256: createHash("sha256").update(data).digest("hex") };
}

/** One wrangler call for all the records: each call starts a workerd or an API session. */
export async function record(records: BackupRecord[], o: D1Options): Promise<void> {
  await wrangler(["execute", "--command", records.map(backupRecordSql).join("\n"), ...(o.target === "remote" ? ["--yes"] : [])], o);
}

/** `billing-local-2026-11-30T16-40-00-123Z.sql`: sortable, and it carries the backup's time. */
export function backupFileName(target: Target, at: number): string {
  return `billing-${target}-${new Date(at).toISOString().replace(/[:.]/g, "-")}.sql`;
}

export function timeFromFileName(file: string): number | null {
  const m = /(\d{4}-\d{2}-\d{2})T(\d{2})-(\d{2})-(\d{2})-(\d{3})Z/.exec(path.basename(file));
  if (!m) return null;
  const t = Date.parse(`${m[1]}T${m[2]}:${m[3]}:${m[4]}.${m[5]}Z`);
  return Number.isNaN(t) ? null : t;
}
