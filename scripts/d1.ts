/**
 * Runs SQL against the worker's D1 through wrangler, locally (the same .wrangler/state that
 * `wrangler dev` uses) or remotely, so the CLIs work before any API key exists.
 */
import { execFile } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
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

/** wrangler's table of applied migrations (its DEFAULT_MIGRATION_TABLE, as `wrangler d1 migrations apply` creates it). */
const MIGRATIONS_TABLE = "d1_migrations";
export const MIGRATIONS_TABLE_SQL = `CREATE TABLE IF NOT EXISTS ${MIGRATIONS_TABLE}(id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT UNIQUE, applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL);`;
/** Where wrangler (dev, d1 execute --local) keeps the local D1: absent, the database was never made. */
const LOCAL_D1_STATE = path.join(ROOT, ".wrangler", "state", "v3", "d1");

/**
 * The local D1's migrations not applied yet (wrangler's pattern and order: migrations/*.sql by
 * name), and whether the database is new: then every migration is pending, its audit log will
 * start empty, and no wrangler process is needed to find that out.
 */
export async function localMigrations(): Promise<{ pending: string[]; fresh: boolean }> {
  const dir = path.join(ROOT, "migrations");
  const all = (await readdir(dir)).filter((f) => f.endsWith(".sql")).sort();
  const fresh = !(await stat(LOCAL_D1_STATE).then(
    () => true,
    () => false,
  ));
  if (fresh) return { pending: all, fresh };
  const applied = new Set((await d1<{ name: string }>("local", `${MIGRATIONS_TABLE_SQL} SELECT name FROM ${MIGRATIONS_TABLE} ORDER BY id`)).map((m) => m.name));
  return { pending: all.filter((f) => !applied.has(f)), fresh: false };
}

/**
 * Applies the local D1's pending migrations, recorded as `wrangler d1 migrations apply --local`
 * records them (so it, and `npm run db:migrate`, find them applied), in one wrangler process and
 * one batch, with `after` (statements of the caller's) in the same batch. wrangler applies each
 * file with a Miniflare of its own: on a fresh database its 40 workerd starts were `npm start`'s
 * longest step (182 s wall and 49 CPU-seconds on the loaded 2-core machine; one process here
 * took 33 s and 9). One batch is one transaction: when a migration fails, none is applied.
 */
export async function applyLocalMigrations(pending: string[], after: string[] = []): Promise<void> {
  if (pending.length === 0 && after.length === 0) return;
  const sql = [MIGRATIONS_TABLE_SQL];
  for (const name of pending) sql.push(await readFile(path.join(ROOT, "migrations", name), "utf8"), `INSERT INTO ${MIGRATIONS_TABLE} (name) VALUES (${lit(name)});`);
  sql.push(...after);
  const tmp = await mkdtemp(path.join(tmpdir(), "d1-migrations-"));
  try {
    const file = path.join(tmp, "pending.sql");
    await writeFile(file, sql.join("\n"));
    await run(WRANGLER, ["d1", "execute", "DB", "--local", "--file", file], { cwd: ROOT, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, CI: "true", WRANGLER_SEND_METRICS: "false" } }).catch(
      (e: { stderr?: string; stdout?: string; message: string }) => {
        throw new Error(`applying ${pending.length} local D1 migrations failed: ${e.stderr || e.stdout || e.message}`);
      },
    );
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
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
